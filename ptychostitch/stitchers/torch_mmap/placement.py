"""Where torch-mmap puts every patch: computed once from the positions, before the first patch.

Each kept window (:func:`ptychostitch.geometry.crop_window`) has its top-left pixel at a frame
coordinate; its integer part (plus the canvas margin) is where the window, or its bilinear
footprint, is added, and its fraction decides how:

* **shared fractions**: when the kernels allow it and at most :data:`MAX_SHARED_FRACTIONS`
  distinct fractions occur (any regular grid with a whole-pixel step), each patch is added at
  its integer offset into one canvas per fraction, shifted by that fraction once at the end;
* **per-patch footprints**: otherwise every patch is shifted into its own footprint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ptychostitch.geometry import crop_window, top_left
from ptychostitch.stitchers.contract import StitchContext

log = logging.getLogger(__name__)

MAX_SHARED_FRACTIONS = 4
"""At most this many distinct sub-pixel offsets get a canvas each (shared-fraction placement)."""


@dataclass(frozen=True)
class Rows:
    """Placement of a run of patches (rows × channels, flattened): see :class:`Placement`."""

    top: np.ndarray
    frac: np.ndarray
    group: np.ndarray
    inside: np.ndarray


@dataclass(frozen=True)
class Placement:
    """Where every patch of the ground-truth object's rows goes.

    Attributes
    ----------
    crop_start, size : int
        The kept window of each patch axis is ``crop_start .. crop_start + size - 1``.
    frame_shape : (int, int)
        ``(H, W)`` of the ground-truth frame.
    margin : int
        Canvas margin on every side, ``size + 1``.
    weights : ndarray, shape (size, size), float32, or None
        Per-pixel weights; None for uniform weights.
    top : ndarray, shape (rows, C, 2), int64
        Canvas index (frame index + margin) of each kept window's top-left pixel, floored.
    frac : ndarray, shape (rows, C, 2), float32
        Sub-pixel part of that top-left coordinate, in ``[0, 1]``.
    group : ndarray, shape (rows, C), int64
        Index into ``fractions`` for shared-fraction placement, or -1 for per-patch footprints.
    inside : ndarray, shape (rows, C), bool
        Whether any pixel of the patch reaches the frame.
    fractions : ndarray, shape (G, 2), float32
        The shared sub-pixel offsets, one canvas each.
    """

    crop_start: int
    size: int
    frame_shape: tuple[int, int]
    margin: int
    weights: np.ndarray | None
    top: np.ndarray
    frac: np.ndarray
    group: np.ndarray
    inside: np.ndarray
    fractions: np.ndarray

    @classmethod
    def build(cls, context: StitchContext, *, shared_fractions: bool) -> "Placement":
        """Place the patches of ``context.frame_rows``.

        Parameters
        ----------
        context : StitchContext
            A well-formed context with positions.
        shared_fractions : bool
            Whether the kernels can add patches at integer offsets onto shared-fraction
            canvases; False places every patch as a footprint.
        """
        n = context.N
        start, size = crop_window(n, context.options.crop)
        weights = None
        if context.options.weighting == "probe":
            probe = np.asarray(context.probe)[start : start + size, start : start + size]
            weights = (np.abs(probe) ** 2).astype(np.float32)
        rows = context.frame_rows
        corner = top_left(np.asarray(context.positions)[rows.start : rows.stop], n) + start
        floor = np.floor(corner)
        frac = (corner - floor).astype(np.float32)
        frame = np.asarray(context.frame_shape)
        inside = np.all((floor >= -size) & (floor <= frame - 1), axis=-1)
        margin = size + 1
        group = np.full(inside.shape, -1, dtype=np.int64)
        fractions = np.zeros((0, 2), dtype=np.float32)
        if shared_fractions and inside.any():
            shared, inverse = np.unique(frac[inside], axis=0, return_inverse=True)
            if len(shared) <= MAX_SHARED_FRACTIONS:
                group[inside] = inverse.reshape(-1)
                fractions = shared
        log.info(
            "torch-mmap: %d of %d patches reach the frame; %s",
            int(inside.sum()), inside.size,
            f"{len(fractions)} shared sub-pixel offset(s), integer placement" if len(fractions) else "per-patch bilinear footprints",
        )
        return cls(start, size, tuple(context.frame_shape), margin, weights, floor.astype(np.int64) + margin, frac, group, inside, fractions)

    def bands(self, height: int, count: int) -> list[tuple[int, int]]:
        """Split canvas rows ``0 .. height - 1`` into at most ``count`` bands of about equal work.

        Band edges sit at quantiles of the patches' centre rows, so each band receives about as
        many patch rows as the others, wherever the scan is dense.
        """
        tops = self.top[self.inside, 0]
        if count <= 1 or len(tops) == 0:
            return [(0, height)]
        centres = np.sort(tops) + (self.size + 1) / 2
        inner = np.unique(np.round(np.quantile(centres, np.arange(1, count) / count)).astype(np.int64))
        edges = [0, *(int(e) for e in inner if 0 < e < height), height]
        return list(zip(edges[:-1], edges[1:]))

    def rows(self, lo: int, hi: int) -> Rows:
        """Placement of rows ``lo .. hi - 1`` (counted from the first frame row), flattened."""
        return Rows(
            self.top[lo:hi].reshape(-1, 2),
            self.frac[lo:hi].reshape(-1, 2),
            self.group[lo:hi].reshape(-1),
            self.inside[lo:hi].reshape(-1),
        )
