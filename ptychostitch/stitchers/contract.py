"""What a stitcher is given, what it returns, the ``Stitcher`` protocol, and the checks they share.

Every position here follows :mod:`ptychostitch.geometry`: ``(y, x)`` pairs in pixels of the
ground-truth frame, with a patch's geometric centre ``((N-1)/2, (N-1)/2)`` on its position.

The work common to every stitcher is done here, once:

- :class:`StitchOptions` checks its own values when it is built;
- :func:`check_context` checks that a :class:`StitchContext` is well formed (selection runs it
  before asking any stitcher's ``capability``, so a capability check only says what *that*
  stitcher cannot do);
- :func:`frame_batches` checks every :class:`PatchBatch` of the stream and hands a stitcher only
  the rows of ``frame_rows``, with their offset into them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Literal, Protocol, runtime_checkable

import numpy as np

from ptychostitch.errors import InputError
from ptychostitch.geometry import GridLayout, crop_window
from ptychostitch.patch_stream import PatchBatch

WEIGHTINGS = ("uniform", "probe")
"""The values of :attr:`StitchOptions.weighting`."""

_DEVICE = re.compile(r"[a-z][a-z0-9_]*(:[0-9]+)?")


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
    device : str
        Where a torch-based stitcher computes: ``"cpu"``, ``"cuda"`` or another torch device
        string (``"cuda:1"``). ``"auto"`` is resolved by the caller before the options are built.
        CPU results are deterministic.

    Raises
    ------
    InputError
        An unknown weighting, a crop that is not None or an integer >= 1, or a device that is
        not a concrete device string.
    """

    weighting: Literal["uniform", "probe"] = field(
        default="uniform", metadata={"help": "per-pixel patch weight: 1, or |probe|^2", "flag": "--stitch-weighting"}
    )
    crop: int | None = field(
        default=None,
        metadata={"help": "keep only the central MxM pixels of each patch", "metavar": "M", "check": "positive", "default_text": "whole patch"},
    )
    device: str = "cpu"

    def __post_init__(self) -> None:
        _check_weighting(self.weighting)
        crop = self.crop
        if crop is not None and (isinstance(crop, bool) or not isinstance(crop, (int, np.integer)) or crop < 1):
            raise InputError(f"stitch crop must be None (whole patch) or an integer >= 1, found {crop!r}")
        if not isinstance(self.device, str) or self.device == "auto" or not _DEVICE.fullmatch(self.device):
            raise InputError(
                f"stitch device must be a concrete torch device such as 'cpu' or 'cuda' "
                f"('auto' is resolved before stitching), found {self.device!r}"
            )


def _check_weighting(weighting: str) -> None:
    if weighting not in WEIGHTINGS:
        raise InputError(f"unknown stitch weighting {weighting!r}; use 'uniform' or 'probe'")


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

    Notes
    -----
    Two members are optional, found with ``getattr``: ``accumulator(context)``, a mergeable
    accumulator (:mod:`~ptychostitch.stitchers.accumulate`), and ``pixel_weights(context)``, the
    ``(N, N)`` or ``(N, N, C)`` weights the stitcher gives each patch pixel, for the prediction
    diagnostics (:func:`~ptychostitch.stitchers.guard.pixel_weights`; docs/plugins.md).
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


def check_context(context: StitchContext) -> None:
    """Check that ``context`` is well formed, whatever the stitcher.

    Selection (:func:`ptychostitch.stitchers.select`) runs it before asking any stitcher's
    ``capability``, and :func:`frame_batches` before a stitch starts.

    Raises
    ------
    InputError
        One line naming the first problem: positions not of shape ``(n_rows, C, 2)``, or not
        finite in ``frame_rows``; an empty frame; ``frame_rows`` not a contiguous part of the
        stream; a crop outside ``1 .. N``; an unknown weighting; probe weighting without an
        ``(N, N)`` probe.
    """
    options = context.options
    _check_weighting(options.weighting)
    crop_window(context.N, options.crop)
    height, width = context.frame_shape
    if min(height, width) < 1:
        raise InputError(f"the ground-truth frame {context.frame_shape} is empty")
    rows = context.frame_rows
    if rows.step != 1 or not 0 <= rows.start <= rows.stop <= context.n_rows:
        raise InputError(f"frame rows {rows} are not a contiguous part of the {context.n_rows} rows of the patch stream")
    if context.positions is not None:
        expected = (context.n_rows, context.channels, 2)
        found = np.shape(context.positions)
        if found != expected:
            raise InputError(f"positions must have one (y, x) per row and channel, shape {expected}, found shape {found}")
        if not np.all(np.isfinite(context.positions[rows.start : rows.stop])):
            raise InputError(f"some positions of the ground-truth object's rows {rows} are NaN or infinite")
    if options.weighting == "probe":
        if context.probe is None:
            raise InputError("probe weighting needs a probe, and this dataset has none (probeGuess)")
        if np.shape(context.probe) != (context.N, context.N):
            raise InputError(f"probe weighting needs a {context.N}x{context.N} probe, found shape {np.shape(context.probe)}")


@dataclass(frozen=True)
class FrameBatch(PatchBatch):
    """The rows of one :class:`PatchBatch` that belong to ``frame_rows``.

    Attributes
    ----------
    start : int
        Stream row of ``patches[0]``.
    patches : ndarray, shape (b, N, N, C)
        A view of the batch's patches (``b >= 1``); never to be written into.
    offset : int
        The row ``start`` counted from ``frame_rows.start``.
    """

    offset: int


def frame_batches(context: StitchContext, batches: Iterable[PatchBatch]) -> Iterator[FrameBatch]:
    """The rows of ``frame_rows`` in the patch stream ``batches``, batch by batch (:class:`FrameBatch` es).

    ``context`` is checked (:func:`check_context`) at once, when this is called; each batch as
    it arrives. Batches, or parts of them, outside ``frame_rows`` are skipped.

    Raises
    ------
    InputError
        The context is malformed, or a batch does not have shape ``(b, N, N, C)``, reaches
        past the stream, or does not follow the previous batch (rows in increasing order,
        each once).
    """
    check_context(context)
    return _frame_batches(context, batches)


def _frame_batches(context: StitchContext, batches: Iterable[PatchBatch]) -> Iterator[FrameBatch]:
    done = 0
    for batch in batches:
        part = frame_part(context, batch)
        if batch.start < done:
            raise InputError(
                f"patch batch of rows {batch.start} .. {batch.stop - 1} is out of order or outside the stream: "
                f"expected rows from {done} on, below {context.n_rows}"
            )
        done = batch.stop
        if part is not None:
            yield part


def frame_part(context: StitchContext, batch: PatchBatch) -> FrameBatch | None:
    """The rows of ``batch`` inside ``frame_rows``, or None when it has none; any row order of batches is allowed.

    Raises
    ------
    InputError
        The batch does not have shape ``(b, N, N, C)`` or reaches outside the stream.
    """
    expected = (context.N, context.N, context.channels)
    patches = np.asarray(batch.patches)
    if patches.ndim != 4 or patches.shape[1:] != expected:
        raise InputError(
            f"patch batch at row {batch.start}: expected shape (b, {expected[0]}, {expected[1]}, {expected[2]}), found {patches.shape}"
        )
    stop = batch.start + len(patches)
    if batch.start < 0 or stop > context.n_rows:
        raise InputError(
            f"patch batch of rows {batch.start} .. {stop - 1} is out of order or outside the stream: "
            f"expected rows from 0 on, below {context.n_rows}"
        )
    lo, hi = max(batch.start, context.frame_rows.start), min(stop, context.frame_rows.stop)
    if lo >= hi:
        return None
    return FrameBatch(lo, patches[lo - batch.start : hi - batch.start], lo - context.frame_rows.start)


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
