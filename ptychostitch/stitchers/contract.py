"""What a stitcher is given, what it returns, and the ``Stitcher`` protocol itself.

Every position here follows :mod:`ptychostitch.geometry`: ``(y, x)`` pairs in pixels of the
ground-truth frame, with a patch's geometric centre ``((N-1)/2, (N-1)/2)`` on its position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal, Protocol, runtime_checkable

import numpy as np

from ptychostitch.geometry import GridLayout
from ptychostitch.patch_stream import PatchBatch


@dataclass(frozen=True)
class StitchOptions:
    """Choices a person makes about how patches are combined.

    Attributes
    ----------
    weighting : {"uniform", "probe"}
        Per-pixel weight of a patch: 1, or ``|probe|**2`` (the iterative-engine standard).
    crop : int or None
        Keep only the central ``crop x crop`` pixels of each patch (PtychoPINN's ``M``);
        None keeps the whole patch.
    device : {"cpu", "cuda", "auto"}
        Where a torch-based stitcher computes. CPU results are deterministic.
    """

    weighting: Literal["uniform", "probe"] = field(
        default="uniform", metadata={"help": "per-pixel patch weight: 1, or |probe|^2", "flag": "--stitch-weighting"}
    )
    crop: int | None = field(
        default=None,
        metadata={"help": "keep only the central MxM pixels of each patch", "metavar": "M", "check": "positive", "default_text": "whole patch"},
    )
    device: str = "cpu"


@dataclass(frozen=True)
class StitchContext:
    """Everything a stitcher may know about the dataset before it sees a patch.

    Attributes
    ----------
    N : int
        Patch side in pixels.
    gridsize : int
        Group side; each row of the patch stream has ``gridsize**2`` channels.
    n_rows : int
        Rows (groups) in the patch stream.
    frame_shape : (int, int)
        ``(H, W)`` of the ground-truth frame the object is stitched into.
    frame_rows : range
        Rows whose patches belong to the object in that frame (grid-lines test files hold
        ``nimgs_test`` objects, object-major; only object 0 has a ground truth).
    positions : ndarray, shape (n_rows, gridsize**2, 2), float64, or None
        ``(y, x)`` of every channel of every row in the ground-truth frame; None when unknown.
        Rows outside ``frame_rows`` hold positions in their own object's frame.
    grid : GridLayout or None
        The regular scan grid, or None for a scattered scan.
    probe : ndarray, shape (N, N), complex64, or None
        The probe (``probeGuess``), used for probe weighting.
    norm_Y_I : float
        Factor from model units (normalised object) to the ground truth's amplitude scale.
        Every stitcher multiplies the stitched object by it.
    options : StitchOptions
        How patches are combined.
    """

    N: int
    gridsize: int
    n_rows: int
    frame_shape: tuple[int, int]
    frame_rows: range
    positions: np.ndarray | None = None
    grid: GridLayout | None = None
    probe: np.ndarray | None = None
    norm_Y_I: float = 1.0
    options: StitchOptions = field(default_factory=StitchOptions)

    @property
    def channels(self) -> int:
        """Channels per row, ``gridsize**2``."""
        return self.gridsize**2


@dataclass(frozen=True)
class StitchResult:
    """A stitched object in the ground-truth frame.

    Attributes
    ----------
    object : ndarray, shape (H, W), complex64
        Weighted mean of the patches covering each pixel, times ``norm_Y_I``; 0 where uncovered.
    coverage : ndarray, shape (H, W), float32
        Sum of the weights that reached each pixel; 0 means uncovered.
    stitcher : str
        Name of the stitcher that produced it.
    """

    object: np.ndarray
    coverage: np.ndarray
    stitcher: str


@dataclass(frozen=True)
class Capability:
    """Whether a stitcher can run on a dataset, with the reason in words a person reads."""

    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


@runtime_checkable
class Stitcher(Protocol):
    """A way of combining a stream of patches into one object in the ground-truth frame.

    Attributes
    ----------
    name : str
        Unique name, used by ``--stitcher NAME``.
    priority : int
        Higher is preferred by ``auto`` selection among capable stitchers.
    """

    name: str
    priority: int

    def capability(self, context: StitchContext) -> Capability:
        """Say whether :meth:`stitch` can run on ``context``, and why not if it cannot."""
        ...

    def stitch(self, context: StitchContext, batches: Iterable[PatchBatch]) -> StitchResult:
        """Consume ``batches`` (rows in increasing order, each once) and return the object.

        Implementations hold at most one batch of patches at a time: the stream may be far
        larger than memory.
        """
        ...


RESERVED_NAMES = frozenset({"auto"})
"""Stitcher names a plugin may not take: ``--stitcher auto`` means automatic selection."""


def why_not_a_stitcher(obj: object) -> str:
    """Why ``obj`` does not satisfy the ``Stitcher`` protocol, or ``""`` when it does."""
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name.strip():
        return "has no non-empty string `name`"
    if name in RESERVED_NAMES:
        return f"uses the reserved name {name!r}"
    priority = getattr(obj, "priority", None)
    if not isinstance(priority, int) or isinstance(priority, bool):
        return f"has no integer `priority` (found {priority!r})"
    for method in ("capability", "stitch"):
        if not callable(getattr(obj, method, None)):
            return f"has no `{method}` method"
    return ""
