"""Conformance check for stitcher authors, and the oracle cases it is built from.

Run :func:`check_stitcher` in a plugin's own test suite::

    from ptychostitch.testing import check_stitcher

    def test_conformance():
        check_stitcher(MyStitcher())

It builds small datasets from known smooth complex objects, cuts the *true* patches out of them
(so the right answer is known exactly), asks the stitcher's ``capability`` whether it can run on
each, stitches the ones it accepts, and raises :class:`AssertionError` naming the case and the
first rule broken. The rules:

- true patches cut from a known object come back to that object over covered pixels
  (float32 rounding: relative tolerance ``1e-5``), including ``norm_Y_I`` scaling;
- a constant object comes back constant over covered pixels;
- rows outside ``frame_rows`` (other objects of a grid-lines test file) never reach the object;
- the result is in the ground-truth frame: ``object`` complex64 and ``coverage`` float32 of shape
  ``frame_shape``; coverage finite and ``>= 0``; no NaN or infinity anywhere; ``object == 0``
  where ``coverage == 0``; nothing covered outside the patches' footprint, and with uniform
  weights and no crop, every footprint pixel covered;
- feeding the same rows in batches of other sizes gives the same answer, and the patch arrays
  handed to ``stitch`` are not modified;
- the crop rule (:func:`ptychostitch.geometry.crop_window`): with patches that *disagree* where
  they overlap, at whole-pixel positions, and an odd crop of an even patch (so no window is
  centred and the rule decides the half pixel), the covered pixels are those of the windows
  that rule keeps, where they land, and a pixel under one such window holds its value;
- for a stitcher that offers an accumulator (:mod:`ptychostitch.stitchers.accumulate`):
  merging the accumulators of a split of the stream (rows added out of order) equals the whole
  stitch, and a snapshot equals stitching the prefix, within :data:`MERGE_RTOL` of the largest value;
- ``capability`` answers with a :class:`~ptychostitch.stitchers.Capability` and a reason, refuses
  a context where nothing says where patches go, and accepts at least one oracle case.

The building blocks (:func:`smooth_object`, :func:`cut_patches`, :func:`grid_case`,
:func:`scattered_case`, :func:`oracle_cases` and :class:`OracleCase`) are public so other test
suites can make their own oracle datasets in the same convention
(:mod:`ptychostitch.geometry`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from itertools import cycle
from typing import Iterator, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from ptychostitch.geometry import GridLayout, crop_window, top_left
from ptychostitch.stitchers.accumulate import accumulator, offers_accumulator
from ptychostitch.stitchers.contract import Capability, PatchBatch, StitchContext, Stitcher, StitchOptions, StitchResult, why_not_a_stitcher

log = logging.getLogger(__name__)

__all__ = [
    "OracleCase",
    "check_stitcher",
    "cut_patches",
    "grid_case",
    "oracle_cases",
    "scattered_case",
    "smooth_object",
]

RTOL = 1e-5
"""Relative tolerance of every value comparison (float32 accumulation and ``norm_Y_I`` rounding)."""
ATOL = 1e-6
"""Absolute tolerance added to :data:`RTOL` (object values are of order 1)."""
MERGE_RTOL = 1e-6
"""Largest difference, relative to the largest value, between merged accumulators (or a snapshot) and the one-pass stitch."""

_N = 16
_NORM_Y_I = 1.7
_OBJECTS = 3
_FRAME_OBJECT = 1
_SCATTER_FRAME = (36, 44)
_SCATTER_MARGIN = 24
# Top-left corners (y, x) in the 36 x 44 frame of the scattered case's 16-px patches, chosen to
# straddle every edge (negative coordinates included), to lie wholly outside the frame (two of
# them), to overlap each other, and to leave uncovered holes (rows 26-35 at columns 0-2; the
# top-right corner).
_SCATTER_TOP_LEFTS = (
    (-5, -7), (-3, 20), (28, 35), (10, -9), (40, 10), (-20, 30),
    (5, 5), (8, 12), (12, 26), (20, 3), (22, 18), (15, 30),
)  # fmt: skip
_BATCH_SIZES = (1, 5, 2, 11)
_ODD_CROP = 7
"""Crop of the crop-rule cases: ``N - M`` odd, so no ``M``-pixel window is centred on the position."""
_CONSTANT = np.complex64(0.8 * np.exp(0.6j))
_OTHER_CONSTANT = np.complex64(3.0 * np.exp(-2.0j))


@dataclass(frozen=True)
class OracleCase:
    """A small dataset whose stitched answer is known exactly.

    Attributes
    ----------
    name : str
        Short label used in failure messages, e.g. ``"grid gridsize=2 uniform"``.
    context : StitchContext
        What a stitcher is told about the dataset (positions, grid layout when regular, probe,
        ``norm_Y_I``, options).
    patches : ndarray, shape (n_rows, N, N, gridsize**2), complex64
        The true patches of every row in model units (object divided by ``norm_Y_I``); rows
        outside ``context.frame_rows`` are cut from other objects.
    truth : ndarray, shape frame_shape, complex64
        The object in the ground-truth frame: what stitching ``patches`` must give over every
        covered pixel.
    footprint : ndarray, shape frame_shape, bool
        Frame pixels under at least one patch of a row in ``frame_rows``.
    """

    name: str
    context: StitchContext
    patches: np.ndarray
    truth: np.ndarray
    footprint: np.ndarray

    def constant_patches(self, value: complex, outside: complex | None = None) -> np.ndarray:
        """Patches of a constant object, in model units.

        Parameters
        ----------
        value : complex
            The object's value (ground-truth units) for rows in ``frame_rows``.
        outside : complex, optional
            The value for the other rows; ``value`` when omitted.

        Returns
        -------
        ndarray, shape like :attr:`patches`, complex64
        """
        rows = self.context.frame_rows
        out = np.full(self.patches.shape, (value if outside is None else outside) / self.context.norm_Y_I, np.complex64)
        out[rows.start : rows.stop] = value / self.context.norm_Y_I
        return out

    def batches(self, patches: np.ndarray | None = None, sizes: Sequence[int] | None = None) -> Iterator[PatchBatch]:
        """The patch stream: consecutive rows in increasing order, each once.

        Parameters
        ----------
        patches : ndarray, shape (n_rows, N, N, C), optional
            Rows to stream; :attr:`patches` when omitted. Batches are views of it.
        sizes : sequence of int, optional
            Batch sizes, repeated cyclically; one batch of every row when omitted.
        """
        rows = self.patches if patches is None else patches
        start = 0
        for size in cycle(sizes or (len(rows),)):
            if start >= len(rows):
                return
            yield PatchBatch(start, rows[start : start + size])
            start += size


def smooth_object(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A random smooth complex object: amplitude in [0.5, 1.5], phase in [-1.5, 1.5] rad.

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)`` in pixels.
    seed : int
        Seed of :func:`numpy.random.default_rng`; equal seeds give equal objects.

    Returns
    -------
    ndarray, shape (H, W), complex64
    """
    rng = np.random.default_rng(seed)

    def smooth(sigma: float) -> np.ndarray:
        field = gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
        return (field - field.min()) / (np.ptp(field) or 1.0)

    amplitude = 0.5 + smooth(3.0)
    phase = 3.0 * (smooth(4.0) - 0.5)
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def cut_patches(obj: np.ndarray, top_left_positions: np.ndarray, N: int) -> np.ndarray:
    """Cut ``N x N`` patches out of ``obj`` at integer top-left corners.

    Parameters
    ----------
    obj : ndarray, shape (H, W)
        The object, indexed ``[y, x]``.
    top_left_positions : ndarray, shape (n, C, 2) or (n, 2)
        ``(y, x)`` of patch pixel ``(0, 0)`` in ``obj``'s pixel indices; whole numbers.
    N : int
        Patch side in pixels.

    Returns
    -------
    ndarray, shape (n, N, N, C), complex64
        ``out[k, a, b, c] = obj[y_kc + a, x_kc + b]``; ``C = 1`` for ``(n, 2)`` input.

    Raises
    ------
    ValueError
        A corner is not a whole number, or a patch would leave ``obj``.
    """
    corners = np.asarray(top_left_positions, dtype=np.float64)
    if corners.ndim == 2:
        corners = corners[:, None, :]
    if corners.ndim != 3 or corners.shape[-1] != 2:
        raise ValueError(f"top-left positions must have shape (n, C, 2) or (n, 2), found {np.shape(top_left_positions)}")
    idx = np.rint(corners).astype(np.int64)
    if not np.array_equal(idx, corners):
        raise ValueError("top-left positions must be whole numbers to cut exact patches")
    height, width = obj.shape
    if idx.size and (idx.min() < 0 or idx[..., 0].max() + N > height or idx[..., 1].max() + N > width):
        raise ValueError(f"a {N}-px patch at these top-left positions leaves the {height}x{width} object")
    span = np.arange(N)
    rows = idx[..., 0][..., None, None] + span[:, None]
    cols = idx[..., 1][..., None, None] + span[None, :]
    return np.ascontiguousarray(np.asarray(obj, dtype=np.complex64)[rows, cols].transpose(0, 2, 3, 1))


def grid_case(gridsize: int, options: StitchOptions | None = None, *, seed: int = 0) -> OracleCase:
    """A grid-lines test split of three 48-px objects, ground truth = object 1 (the middle one).

    16-px patches on a stride-4 grid (:class:`~ptychostitch.geometry.GridLayout` with
    ``offset=4``, ``outer_offset=8``), rows object-major, ``frame_rows`` the middle object's
    rows (so a stitcher must honour both ends of the range), positions in each object's own
    ground-truth frame, ``norm_Y_I = 1.7``.

    Parameters
    ----------
    gridsize : int
        Group side (1 or 2); each row has ``gridsize**2`` channels.
    options : StitchOptions, optional
        Put into the context; default uniform weights, no crop.
    seed : int
        Objects use seeds ``seed``, ``seed + 1``, ``seed + 2``.
    """
    grid = GridLayout(size=48, N=_N, gridsize=gridsize, offset=4, outer_offset=8, nimgs=_OBJECTS)
    objects = [smooth_object((grid.size, grid.size), seed + k) for k in range(_OBJECTS)]
    corners = grid.object_positions() - (_N - 1) / 2.0
    patches = np.concatenate([cut_patches(obj, corners, _N) for obj in objects]) / np.float32(_NORM_Y_I)
    per_object = grid.rows_per_object
    origin, side = grid.gt_origin, grid.gt_side
    context = StitchContext(
        N=_N,
        gridsize=gridsize,
        n_rows=grid.n_rows,
        frame_shape=grid.gt_shape,
        frame_rows=range(_FRAME_OBJECT * per_object, (_FRAME_OBJECT + 1) * per_object),
        positions=np.tile(grid.frame_positions(), (_OBJECTS, 1, 1)),
        grid=grid,
        probe=_probe(_N),
        norm_Y_I=_NORM_Y_I,
        options=options or StitchOptions(),
    )
    truth = objects[_FRAME_OBJECT][origin : origin + side, origin : origin + side]
    footprint = _footprint(grid.gt_shape, corners - origin, _N)
    name = f"grid gridsize={gridsize} {_describe(context.options)}"
    return OracleCase(name, context, patches.astype(np.complex64), truth, footprint)


def scattered_case(gridsize: int, options: StitchOptions | None = None, *, seed: int = 0) -> OracleCase:
    """A scattered scan (no grid layout) of twelve 16-px patches in a 36 x 44 frame.

    Patches sit at integer top-left corners (half-integer positions), straddle every edge of
    the frame (negative coordinates included), two lie wholly outside it, and some frame pixels
    stay uncovered. Rows hold ``gridsize**2`` consecutive patches of that list. As in a
    grid-lines file, the rows are repeated for three objects and ``frame_rows`` is the middle
    copy; ``norm_Y_I = 1.7``.

    Parameters
    ----------
    gridsize : int
        Group side; must divide the 12 patches into whole rows (1 or 2).
    options : StitchOptions, optional
        Put into the context; default uniform weights, no crop.
    seed : int
        Objects use seeds ``seed``, ``seed + 1``, ``seed + 2``.
    """
    channels = gridsize**2
    if len(_SCATTER_TOP_LEFTS) % channels:
        raise ValueError(f"gridsize {gridsize} does not divide {len(_SCATTER_TOP_LEFTS)} patches into whole rows")
    corners = np.asarray(_SCATTER_TOP_LEFTS, np.float64).reshape(-1, channels, 2)
    height, width = _SCATTER_FRAME
    margin = _SCATTER_MARGIN
    objects = [smooth_object((height + 2 * margin, width + 2 * margin), seed + k) for k in range(_OBJECTS)]
    patches = np.concatenate([cut_patches(obj, corners + margin, _N) for obj in objects]) / np.float32(_NORM_Y_I)
    per_object = len(corners)
    context = StitchContext(
        N=_N,
        gridsize=gridsize,
        n_rows=_OBJECTS * per_object,
        frame_shape=_SCATTER_FRAME,
        frame_rows=range(_FRAME_OBJECT * per_object, (_FRAME_OBJECT + 1) * per_object),
        positions=np.tile(corners + (_N - 1) / 2.0, (_OBJECTS, 1, 1)),
        grid=None,
        probe=_probe(_N),
        norm_Y_I=_NORM_Y_I,
        options=options or StitchOptions(),
    )
    truth = objects[_FRAME_OBJECT][margin : margin + height, margin : margin + width]
    footprint = _footprint(_SCATTER_FRAME, corners, _N)
    name = f"scattered gridsize={gridsize} {_describe(context.options)}"
    return OracleCase(name, context, patches.astype(np.complex64), truth, footprint)


def oracle_cases(gridsizes: Sequence[int] = (1, 2)) -> list[OracleCase]:
    """Every case :func:`check_stitcher` uses: grid and scattered layouts for each gridsize,
    each with uniform weights, probe (``|P|**2``) weights, and a central crop of ``N // 2``."""
    variants = (StitchOptions(), StitchOptions(weighting="probe"), StitchOptions(crop=_N // 2))
    return [build(g, options) for g in gridsizes for build in (grid_case, scattered_case) for options in variants]


def check_stitcher(stitcher: Stitcher, *, gridsizes: Sequence[int] = (1, 2)) -> None:
    """Check that ``stitcher`` follows the stitcher contract on known-answer datasets.

    Parameters
    ----------
    stitcher : Stitcher
        The object a plugin passes to ``register``.
    gridsizes : sequence of int
        Group sides to build cases for (each case runs only where ``capability`` accepts it).

    Raises
    ------
    AssertionError
        On the first rule broken, naming the stitcher, the case and the rule; or when the
        stitcher accepts none of the cases. (Raised explicitly, so it also works under
        ``python -O``.)
    ValueError
        ``gridsizes`` is empty, or holds a gridsize the cases cannot be built for (1 and 2 can).
    """
    if not gridsizes:
        raise ValueError("check_stitcher needs at least one gridsize")
    problem = why_not_a_stitcher(stitcher)
    if problem:
        raise AssertionError(f"{stitcher!r} is not a stitcher: it {problem}")
    cases = oracle_cases(gridsizes)
    nowhere = replace(cases[0].context, positions=None, grid=None)
    verdict = _capability(stitcher, nowhere, "no positions, no grid")
    if verdict.ok:
        raise AssertionError(
            f"stitcher {stitcher.name!r} accepts a context with neither positions nor a grid layout, where no "
            f"patch can be placed (its reason: {verdict.reason!r}); its capability check must refuse it"
        )
    refused: dict[str, str] = {}
    for case in cases:
        verdict = _capability(stitcher, case.context, case.name)
        if verdict.ok:
            _check_case(stitcher, case)
            log.info("stitcher %r passed case %r", stitcher.name, case.name)
        else:
            refused[case.name] = verdict.reason
            log.info("stitcher %r refused case %r: %s", stitcher.name, case.name, verdict.reason)
    if len(refused) == len(cases):
        raise AssertionError(
            f"stitcher {stitcher.name!r} refuses every check_stitcher case, so nothing could be checked: "
            + "; ".join(f"{name}: {why}" for name, why in refused.items())
        )
    for case in _crop_rule_cases(gridsizes):
        if _capability(stitcher, case.context, case.name).ok:
            _check_crop_rule(stitcher, case)
            log.info("stitcher %r passed case %r", stitcher.name, case.name)


def _crop_rule_cases(gridsizes: Sequence[int]) -> list[OracleCase]:
    """Grid and scattered cases with the odd crop :data:`_ODD_CROP` and patches that disagree where they overlap."""
    cases = []
    for g in gridsizes:
        for build in (grid_case, scattered_case):
            case = build(g, StitchOptions(crop=_ODD_CROP))
            cases.append(replace(case, name=f"crop rule {case.name}", patches=_disagreeing(case)))
    return cases


def _disagreeing(case: OracleCase) -> np.ndarray:
    """Patches whose pixel ``(a, b)`` of channel ``c`` of row ``r`` depends on ``(r, c)`` and on ``(a, b)``.

    Rows outside ``frame_rows`` hold a far-off value, so a leak shows too.
    """
    rows, n, _, channels = case.patches.shape
    patch = (np.arange(rows)[:, None] * channels + np.arange(channels)[None, :])[:, None, None, :]
    a, b = np.arange(n)[None, :, None, None], np.arange(n)[None, None, :, None]
    values = (1.0 + 0.05 * (patch % 11) + 0.01 * a) + 1j * (0.5 + 0.013 * b - 0.03 * (patch % 7))
    frame = case.context.frame_rows
    outside = np.ones(rows, bool)
    outside[frame.start : frame.stop] = False
    values[outside] = 100.0
    return values.astype(np.complex64)


def _check_crop_rule(stitcher: Stitcher, case: OracleCase) -> None:
    """Covered pixels are those of the kept windows; a pixel under exactly one holds that window's value.

    Where windows overlap, how a stitcher combines them (mean, median, ...) is its own business.
    """
    label = f"stitcher {stitcher.name!r}, case {case.name!r}"
    context = case.context
    start, size = crop_window(context.N, context.options.crop)
    height, width = context.frame_shape
    total = np.zeros((height, width), np.complex128)
    count = np.zeros((height, width), np.int64)
    rows = context.frame_rows
    corners = np.rint(top_left(context.positions[rows.start : rows.stop], context.N)).astype(np.int64) + start  # type: ignore[index]
    for k, row in enumerate(rows):
        for channel, (y, x) in enumerate(corners[k]):
            y0, y1, x0, x1 = max(y, 0), min(y + size, height), max(x, 0), min(x + size, width)
            if y0 < y1 and x0 < x1:
                total[y0:y1, x0:x1] += case.patches[row, start + y0 - y : start + y1 - y, start + x0 - x : start + x1 - x, channel]
                count[y0:y1, x0:x1] += 1
    result = _stitch(stitcher, case, case.patches, None, label)
    rule = f"a crop of M={size} keeps patch rows and columns {start} .. {start + size - 1} (ptychostitch.geometry.crop_window), where they land"
    differ = (result.coverage > 0) != (count > 0)
    if differ.any():
        raise AssertionError(
            f"{label}: {rule}, but {int(differ.sum())} pixels are covered differently from those windows, e.g. (y, x) = {_first(differ)}"
        )
    _assert_object(result, total * context.norm_Y_I, label, f"{rule}: a pixel under one kept window must hold its value", where=count == 1)


def _check_case(stitcher: Stitcher, case: OracleCase) -> None:
    label = f"stitcher {stitcher.name!r}, case {case.name!r}"
    options = case.context.options
    constant = _stitch(stitcher, case, case.constant_patches(_CONSTANT), None, label)
    covered = constant.coverage > 0
    if options.weighting == "uniform" and options.crop is None:
        missed = case.footprint & ~covered
        if missed.any():
            raise AssertionError(
                f"{label}: with uniform weights and no crop every pixel under a patch must be covered, "
                f"but {int(missed.sum())} are not, e.g. (y, x) = {_first(missed)} (patches dropped at the frame edge?)"
            )
    _assert_object(constant, np.full(case.truth.shape, _CONSTANT), label, "a constant object must come back constant")
    leak = _stitch(stitcher, case, case.constant_patches(_CONSTANT, _OTHER_CONSTANT), None, label)
    _assert_object(
        leak, np.full(case.truth.shape, _CONSTANT), label,
        f"rows outside frame_rows {case.context.frame_rows} (another constant) must not reach the object",
    )
    whole = _stitch(stitcher, case, case.patches, None, label)
    _assert_object(whole, case.truth, label, "true patches must give back the object they were cut from")
    pieces = _stitch(stitcher, case, case.patches, _BATCH_SIZES, label)
    same_support = np.array_equal(pieces.coverage > 0, whole.coverage > 0)
    if not (same_support and np.allclose(pieces.coverage, whole.coverage, rtol=RTOL, atol=ATOL)):
        raise AssertionError(
            f"{label}: coverage differs when the rows arrive in batches of sizes {_BATCH_SIZES} instead of one batch"
        )
    _assert_object(pieces, whole.object, label, f"batches of sizes {_BATCH_SIZES} must give the same object as one batch")
    if offers_accumulator(stitcher):
        _check_accumulator(stitcher, case, whole, label)


def _check_accumulator(stitcher: Stitcher, case: OracleCase, whole: StitchResult, label: str) -> None:
    """Merging accumulators of any split of the stream gives the whole stitch; a snapshot gives the prefix's stitch."""
    n = case.context.n_rows
    rng = np.random.default_rng(n)
    for parts in (2, 3):
        cuts = np.sort(rng.choice(np.arange(1, n), size=min(parts - 1, n - 1), replace=False))
        accumulators = [accumulator(stitcher, case.context) for _ in range(len(cuts) + 1)]
        pieces = list(zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [n]])))
        for (lo, hi), acc in reversed(list(zip(pieces, accumulators))):
            for start in reversed(range(int(lo), int(hi), 2)):  # rows out of order on purpose
                acc.add(PatchBatch(start, case.patches[start : min(start + 2, int(hi))]))
        merged = accumulators[0]
        for other in accumulators[1:]:
            merged.merge(other)
            other.finish()
        rule = f"merging accumulators of rows split at {cuts.tolist()} must give the whole stitch"
        _assert_close(merged.finish(), whole, label, rule, MERGE_RTOL)
    prefix = max(1, n // 2)
    running = accumulator(stitcher, case.context)
    running.add(PatchBatch(0, case.patches[:prefix]))
    snap = running.snapshot()
    expected = stitcher.stitch(case.context, [PatchBatch(0, case.patches[:prefix].copy())])
    _assert_close(snap, expected, label, f"a snapshot after rows 0 .. {prefix - 1} must equal stitching those rows", MERGE_RTOL)
    running.add(PatchBatch(prefix, case.patches[prefix:]))
    _assert_close(running.finish(), whole, label, "adding the rest after a snapshot must give the whole stitch", MERGE_RTOL)


def _assert_close(result: StitchResult, expected: StitchResult, label: str, rule: str, rtol: float) -> None:
    scale = max(float(np.abs(expected.object).max()), 1e-30)
    wscale = max(float(np.abs(expected.coverage).max()), 1e-30)
    error = float(np.abs(result.object - expected.object).max()) / scale
    werror = float(np.abs(result.coverage - expected.coverage).max()) / wscale
    if not error <= rtol or not werror <= rtol:
        raise AssertionError(f"{label}: {rule}; largest relative difference {error:.2e} (object), {werror:.2e} (coverage), allowed {rtol:.0e}")


def _stitch(stitcher: Stitcher, case: OracleCase, patches: np.ndarray, sizes: Sequence[int] | None, label: str) -> StitchResult:
    """Stitch ``patches`` as a one-pass stream and check the structural rules of the result."""
    given = patches.copy()
    try:
        result = stitcher.stitch(case.context, case.batches(given, sizes))
    except Exception as exc:  # noqa: BLE001 - reported as the conformance failure it is
        raise AssertionError(f"{label}: stitch raised {exc!r} on a dataset its capability check accepted") from exc
    if not np.array_equal(given, patches):
        raise AssertionError(f"{label}: stitch modified the patch arrays it was given")
    if not isinstance(result, StitchResult):
        raise AssertionError(f"{label}: stitch returned {type(result).__name__}, not a StitchResult")
    if result.stitcher != stitcher.name:
        raise AssertionError(f"{label}: result names stitcher {result.stitcher!r}, expected {stitcher.name!r}")
    shape = case.context.frame_shape
    obj, coverage = result.object, result.coverage
    for what, array, dtype in (("object", obj, np.complex64), ("coverage", coverage, np.float32)):
        if not isinstance(array, np.ndarray):
            raise AssertionError(f"{label}: result {what} is {type(array).__name__}, not a numpy array")
        if array.shape != shape:
            raise AssertionError(f"{label}: result {what} has shape {array.shape}, expected the frame shape {shape}")
        if array.dtype != dtype:
            raise AssertionError(f"{label}: result {what} has dtype {array.dtype}, expected {np.dtype(dtype)}")
        bad = ~np.isfinite(array)
        if bad.any():
            raise AssertionError(
                f"{label}: result {what} has {int(bad.sum())} NaN or infinite values, e.g. at (y, x) = {_first(bad)}"
            )
    negative = coverage < 0
    if negative.any():
        raise AssertionError(
            f"{label}: coverage is negative at {int(negative.sum())} pixels, e.g. (y, x) = {_first(negative)}"
        )
    covered = coverage > 0
    if not covered.any():
        raise AssertionError(f"{label}: coverage is 0 everywhere: no patch reached the frame")
    stray = (obj != 0) & ~covered
    if stray.any():
        raise AssertionError(
            f"{label}: object must be 0 where coverage is 0, but {int(stray.sum())} such pixels are not, "
            f"e.g. (y, x) = {_first(stray)}"
        )
    outside = covered & ~case.footprint
    if outside.any():
        raise AssertionError(
            f"{label}: {int(outside.sum())} pixels under no patch of frame_rows are covered, e.g. (y, x) = "
            f"{_first(outside)} (patches misplaced, wrapped around the frame edge, or rows outside frame_rows used?)"
        )
    return result


def _assert_object(result: StitchResult, expected: np.ndarray, label: str, rule: str, where: np.ndarray | None = None) -> None:
    """``result.object`` is ``expected`` (within the tolerances) over ``where``, by default every covered pixel."""
    covered = result.coverage > 0 if where is None else where
    got, want = result.object[covered], expected[covered]
    wrong = np.abs(got - want) > ATOL + RTOL * np.abs(want)
    if wrong.any():
        k = int(np.argmax(np.abs(got - want)))
        y, x = np.argwhere(covered)[k]
        raise AssertionError(
            f"{label}: {rule}; {int(wrong.sum())} of {int(covered.sum())} covered pixels differ (relative tolerance "
            f"{RTOL:g}), worst at (y, x) = ({y}, {x}): got {complex(got[k]):.6g}, expected {complex(want[k]):.6g}"
        )


def _capability(stitcher: Stitcher, context: StitchContext, case: str) -> Capability:
    try:
        verdict = stitcher.capability(context)
    except Exception as exc:  # noqa: BLE001 - reported as the conformance failure it is
        raise AssertionError(
            f"stitcher {stitcher.name!r}: capability raised {exc!r} on case {case!r}; it must answer no, with a reason"
        ) from exc
    if not isinstance(verdict, Capability):
        raise AssertionError(
            f"stitcher {stitcher.name!r}: capability returned {verdict!r} on case {case!r}, not a Capability"
        )
    if not (isinstance(verdict.reason, str) and verdict.reason.strip()):
        raise AssertionError(f"stitcher {stitcher.name!r}: capability gave no reason on case {case!r}; a person reads it")
    return verdict


def _footprint(frame_shape: tuple[int, int], corners: np.ndarray, n: int) -> np.ndarray:
    """Frame pixels under an ``n``-px patch at any of ``corners`` (integer ``(y, x)``, any shape ``(..., 2)``)."""
    mask = np.zeros(frame_shape, bool)
    for y, x in np.asarray(corners, np.int64).reshape(-1, 2):
        mask[max(y, 0) : max(y + n, 0), max(x, 0) : max(x + n, 0)] = True
    return mask


def _probe(n: int) -> np.ndarray:
    """A disk-like probe with a phase ramp; exactly 0 in the corners (zero-weight pixels)."""
    centre = (n - 1) / 2.0
    y, x = np.mgrid[0:n, 0:n] - centre
    amplitude = np.clip(1.0 - (y**2 + x**2) / (0.5 * n) ** 2, 0.0, None)
    return (amplitude * np.exp(0.3j * (y + 2 * x) / n)).astype(np.complex64)


def _describe(options: StitchOptions) -> str:
    return f"{options.weighting}" + ("" if options.crop is None else f" crop={options.crop}")


def _first(mask: np.ndarray) -> tuple[int, int]:
    y, x = np.argwhere(mask)[0]
    return int(y), int(x)
