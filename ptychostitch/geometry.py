"""The one coordinate convention of ptychostitch, and the grid-lines scan geometry.

Convention (used by every module; see also ``docs/geometry.md``)
------------------------------------------------------------------
Axis order
    Arrays are indexed ``[row, col] = [y, x]``. Every position is a pair ``(y, x)`` in that
    order, in pixels, float64. (PtychoPINN's ``coords_nominal`` is ``(x, y)`` and its grid-lines
    ``coords_offsets`` is ``(y, x)``; both are converted on load, nowhere else.)
Pixel centres
    Pixel ``(i, j)`` has its centre at the integer coordinate ``(i, j)``.
Which patch pixel lands on a position
    An ``N x N`` patch placed at ``(py, px)`` puts its geometric centre ``((N-1)/2, (N-1)/2)``
    on that point: patch pixel ``(a, b)`` lands at ``(py - (N-1)/2 + a, px - (N-1)/2 + b)``.
    This is PtychoPINN's global-centre rule (window top-left + ``(N-1)/2``). An even-sized patch
    at an integer top-left therefore has a half-integer position.
Frame
    Positions live in the *ground-truth frame*: ``(0, 0)`` is the centre of pixel
    ``YY_ground_truth[0, 0]``. An object's own frame (``YY_full[i]``) differs from it by the
    crop origin :attr:`GridLayout.gt_origin`.
Central crop (PtychoPINN's ``M``; :func:`crop_window`)
    A crop of side ``M`` keeps patch rows (and columns) ``N//2 - M//2 .. N//2 - M//2 + M - 1``:
    PtychoPINN's start index (``ptycho/tf_helper.py::shift_and_sum`` keeps
    ``[N//2 - M//2 : N//2 + M//2]``), and exactly ``M`` pixels, so an odd ``M`` works too
    (PtychoPINN keeps ``2*(M//2)``). Kept pixels stay where they land without the crop. The
    kept window's centre, ``N//2 - M//2 + (M-1)/2``, sits relative to the position (the patch
    centre ``(N-1)/2``) at:

    ========  ========  =====================================
    ``N``     ``M``     window centre minus position (pixels)
    ========  ========  =====================================
    even      even      0
    odd       odd       0
    even      odd       +1/2 (towards higher indices)
    odd       even      -1/2 (towards lower indices)
    ========  ========  =====================================

    With ``N - M`` odd no ``M``-pixel window is centred; this rule decides the half pixel once,
    for every stitcher.

Grid-lines geometry (reference: PtychoPINN grid-lines simulator)
----------------------------------------------------------------
Test rows are object-major, then window row ``r`` (y), then window column ``c`` (x):
``row = img * m**2 + r * m + c``. Channel ``ch = i * gridsize + j`` is the inner patch at
``(offset * i, offset * j)`` inside the window whose top-left is ``(stride * r, stride * c)``.
Train rows are these object-major rows shuffled once: file row ``t`` holds object-major row
``train_row_order(B)[t]`` (:func:`train_row_order`); ``coords_offsets`` is not shuffled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import numpy as np

from ptychostitch.errors import InputError


def top_left(position: np.ndarray, n: int) -> np.ndarray:
    """Frame coordinate of patch pixel ``(0, 0)`` for patches of side ``n`` at ``position``.

    Parameters
    ----------
    position : ndarray, shape (..., 2)
        ``(y, x)`` positions in pixels.
    n : int
        Patch side in pixels.
    """
    return np.asarray(position, dtype=np.float64) - (n - 1) / 2.0


def crop_window(n: int, m: int | None) -> tuple[int, int]:
    """The kept window of a central crop: first kept patch row (and column), and its side.

    Parameters
    ----------
    n : int
        Patch side in pixels.
    m : int or None
        Crop side in pixels (``1 <= m <= n``); None keeps the whole patch.

    Returns
    -------
    (int, int)
        ``(start, size)``: patch rows and columns ``start .. start + size - 1`` are kept,
        ``start = n//2 - m//2`` and ``size = m`` (``(0, n)`` for None); see the module notes.

    Raises
    ------
    InputError
        ``m`` is not between 1 and ``n``.
    """
    if m is None:
        return 0, n
    if not 1 <= m <= n:
        raise InputError(f"crop {m} must be between 1 and the patch size N={n}")
    return n // 2 - m // 2, m


@dataclass(frozen=True)
class GridLayout:
    """The regular scan grid of a grid-lines split.

    Attributes
    ----------
    size : int
        Object side in pixels (392 by default).
    N : int
        Patch side in pixels.
    gridsize : int
        Patches per group side; a group has ``gridsize**2`` channels.
    offset : int
        Spacing in pixels between the inner patches of a group (matters for ``gridsize > 1``).
    outer_offset : int
        PtychoPINN's ``outer_offset``; the scan stride is ``outer_offset // 2`` pixels.
    nimgs : int
        Number of objects in the split; rows are object-major.
    """

    size: int
    N: int
    gridsize: int
    offset: int
    outer_offset: int
    nimgs: int

    def __post_init__(self) -> None:
        for name in ("size", "N", "gridsize", "outer_offset", "nimgs"):
            if getattr(self, name) < 1:
                raise InputError(f"grid layout: {name} must be a positive integer, found {getattr(self, name)}")
        if self.offset < 0:
            raise InputError(f"grid layout: offset must be >= 0, found {self.offset}")
        if self.stride < 1:
            raise InputError(f"grid layout: outer_offset {self.outer_offset} gives a scan stride below 1 px")
        if self.size < self.big_n:
            raise InputError(
                f"grid layout: object size {self.size} is smaller than the group window {self.big_n}"
            )

    @classmethod
    def from_metadata(
        cls, metadata: Mapping[str, Any], *, N: int, gridsize: int, split: Literal["test", "train"] = "test"
    ) -> "GridLayout | None":
        """Build a split's layout from grid-lines ``_metadata``; None when a field is missing.

        Reads ``additional_parameters.{size, offset, outer_offset_<split>, nimgs_<split>}``.
        """
        extra = metadata.get("additional_parameters") or {}
        try:
            return cls(
                size=int(extra.get("size", 392)),
                N=int(N),
                gridsize=int(gridsize),
                offset=int(extra.get("offset", 4)),
                outer_offset=int(extra[f"outer_offset_{split}"]),
                nimgs=int(extra[f"nimgs_{split}"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def channels(self) -> int:
        """Channels per group, ``gridsize**2``."""
        return self.gridsize**2

    @property
    def stride(self) -> int:
        """Scan stride in pixels, ``outer_offset // 2``."""
        return self.outer_offset // 2

    @property
    def big_n(self) -> int:
        """Side of a group window, ``N + (gridsize - 1) * offset``."""
        return self.N + (self.gridsize - 1) * self.offset

    @property
    def m(self) -> int:
        """Scan windows per object side, ``(size - bigN) // stride + 1``."""
        return (self.size - self.big_n) // self.stride + 1

    @property
    def rows_per_object(self) -> int:
        """Rows (groups) per object, ``m**2``."""
        return self.m**2

    @property
    def n_rows(self) -> int:
        """Rows in the split, ``nimgs * m**2``."""
        return self.nimgs * self.rows_per_object

    @property
    def _clip(self) -> float:
        return (self.N - self.outer_offset / 2) / 2 + ((self.gridsize - 1) * self.offset) // 2

    @property
    def gt_origin(self) -> int:
        """Object-frame pixel that is ground-truth pixel 0 (same on both axes): ``ceil(clipsize)``."""
        return math.ceil(self._clip)

    @property
    def gt_side(self) -> int:
        """Side of PtychoPINN's ``YY_ground_truth`` crop for this layout."""
        extra = (self.size - self.big_n) % self.stride
        return self.size - extra - math.floor(self._clip) - self.gt_origin

    @property
    def gt_shape(self) -> tuple[int, int]:
        """``(H, W)`` of the ground-truth frame."""
        return (self.gt_side, self.gt_side)

    def object_positions(self) -> np.ndarray:
        """Positions of one object's patches in the object frame.

        Returns
        -------
        ndarray, shape (m**2, gridsize**2, 2), float64
            ``(y, x)`` of every channel of every row of one object.
        """
        m, g = self.m, self.gridsize
        r, c = np.divmod(np.arange(m * m), m)
        i, j = np.divmod(np.arange(g * g), g)
        centre = (self.N - 1) / 2.0
        y = self.stride * r[:, None] + self.offset * i[None, :] + centre
        x = self.stride * c[:, None] + self.offset * j[None, :] + centre
        return np.stack([y, x], axis=-1).astype(np.float64)

    def frame_positions(self) -> np.ndarray:
        """Positions of one object's patches in the ground-truth frame, shape (m**2, C, 2)."""
        return self.object_positions() - float(self.gt_origin)


TRAIN_SHUFFLE_SEED = 0
"""PtychoPINN shuffles the train rows with ``np.random.RandomState(0).permutation``."""


def train_row_order(n_rows: int) -> np.ndarray:
    """Object-major row held by each file row of a grid-lines train split.

    PtychoPINN shuffles ``X``, ``Y_I`` and ``Y_phi`` of the train split (not their coordinates)
    with ``perm = np.random.RandomState(0).permutation(n_rows)`` (PtychoPINN:
    ``ptycho/data_preprocessing.py``, ``shuffle_data`` and ``process_simulated_data``); ptychostitch's
    simulator does the same.

    Returns
    -------
    ndarray, shape (n_rows,), int
        ``perm``: file row ``t`` holds object-major row ``perm[t]``.
    """
    return np.random.RandomState(TRAIN_SHUFFLE_SEED).permutation(n_rows)
