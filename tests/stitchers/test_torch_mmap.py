"""Oracle tests for the torch-mmap stitcher: known objects come back, and the splat definition holds.

Oracles used
------------
* Integer top-left positions: true patches cut from a random smooth object come back at every
  covered pixel (each patch pixel lands on one frame pixel with weight 1).
* Sub-pixel positions: (a) a brute-force float64 evaluation of the definition (each patch pixel
  at frame coordinate ``(y, x)`` sends weight ``(1-|y-i|)(1-|x-j|)·w`` to the four nearest frame
  pixels ``(i, j)``), for any patches; (b) true patches of an object that is affine in ``(y, x)``
  come back exactly wherever every contributing patch reaches the pixel with all four bilinear
  corners (at a footprint's outer ring only one or two corners arrive, so their weighted mean
  sits up to a pixel off the pixel centre: there, no resampling can return an affine object).
* A constant-1 object comes back exactly 1 (bit for bit) over covered pixels.

Every test runs twice: with the compiled (numba) kernels and with the NumPy kernels.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptychostitch.errors import InputError
from ptychostitch.geometry import GridLayout
from ptychostitch.stitchers import PatchBatch, StitchContext, StitchOptions, select
from ptychostitch.stitchers.tf_style import TfStyleStitcher
from ptychostitch.stitchers.torch_mmap import TorchMmapStitcher, kernels, placement
from ptychostitch.stitchers.torch_mmap.kernels.torch_kernels import TorchKernels
from ptychostitch.stitchers.torch_mmap.placement import Placement
from ptychostitch.testing.files import grid_patches, smooth_object

RTOL = 1e-5


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def cpu_kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run every test with the compiled kernels and with the NumPy kernels (no numba)."""
    if request.param == "numpy":
        monkeypatch.setattr(kernels, "compiled_kernels", lambda: None)
    else:
        assert kernels.compiled_kernels() is not None, "numba is part of the test set-up (ptychostitch[fast])"
    return request.param


def batches_of(patches: np.ndarray, size: int) -> list[PatchBatch]:
    return [PatchBatch(start, patches[start : start + size]) for start in range(0, len(patches), size)]


def stitch(ctx: StitchContext, patches: np.ndarray, batch: int = 7):
    stitcher = TorchMmapStitcher()
    verdict = stitcher.capability(ctx)
    assert verdict.ok, verdict.reason
    return stitcher.stitch(ctx, batches_of(patches, batch))


def context(positions: np.ndarray, frame: tuple[int, int], n: int, **kw) -> StitchContext:
    rows, channels = positions.shape[:2]
    return StitchContext(
        N=n, gridsize=int(round(channels**0.5)), n_rows=rows, frame_shape=frame,
        frame_rows=kw.pop("frame_rows", range(rows)), positions=positions, **kw,
    )


def pixel_coords(positions: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame coordinates (rows, C, N, N) of every patch pixel, per the geometry convention."""
    a = np.arange(n) - (n - 1) / 2.0
    y = positions[..., 0, None, None] + a[:, None]
    x = positions[..., 1, None, None] + a[None, :]
    return np.broadcast_to(y, y.shape[:-1] + (n,)), np.broadcast_to(x, x.shape[:-2] + (n, n))


def reference(patches: np.ndarray, positions: np.ndarray, frame: tuple[int, int], crop: int | None = None,
              weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force float64 splat straight from the definition, per pixel and corner."""
    n = patches.shape[1]
    keep = np.zeros((n, n), bool)
    m = crop or n
    s = n // 2 - m // 2  # the crop rule: PtychoPINN's start index, m pixels
    keep[s : s + m, s : s + m] = True
    w = np.ones((n, n)) if weights is None else weights.astype(np.float64)
    y, x = pixel_coords(positions, n)
    values = np.moveaxis(patches, -1, 1).astype(np.complex128)
    sel = np.broadcast_to(keep, values.shape)
    y, x, values, wv = y[sel], x[sel], values[sel], np.broadcast_to(w, sel.shape)[sel]
    num = np.zeros(frame, np.complex128)
    den = np.zeros(frame)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    for dy in (0, 1):
        for dx in (0, 1):
            wy = (1 - (y - y0)) if dy == 0 else (y - y0)
            wx = (1 - (x - x0)) if dx == 0 else (x - x0)
            r, c = y0 + dy, x0 + dx
            ok = (r >= 0) & (r < frame[0]) & (c >= 0) & (c < frame[1])
            np.add.at(num, (r[ok], c[ok]), (wy * wx * wv * values)[ok])
            np.add.at(den, (r[ok], c[ok]), (wy * wx * wv)[ok])
    obj = np.where(den > 0, num / np.where(den > 0, den, 1), 0)
    return obj, den


def assert_relative(found: np.ndarray, expected: np.ndarray, mask: np.ndarray, rtol: float = RTOL) -> None:
    assert mask.any()
    err = np.abs(found[mask] - expected[mask]) / np.abs(expected[mask])
    assert err.max() <= rtol, f"max relative error {err.max():.3g} > {rtol}"


def scattered(rng: np.random.Generator, rows: int, channels: int, frame: tuple[int, int], n: int,
              integer: bool) -> np.ndarray:
    """Random positions reaching past every frame edge (negative coordinates included)."""
    lo = -(n // 2) - 2.0
    pos = rng.uniform(lo, np.array(frame) - lo, size=(rows, channels, 2))
    return np.floor(pos) + (n - 1) / 2.0 if integer else pos


# --- true patches at integer top-left positions ---------------------------------------------------

@pytest.mark.parametrize("n,gridsize,outer_offset,size", [(32, 1, 12, 150), (32, 2, 12, 150), (64, 1, 20, 200), (24, 2, 8, 100)])
def test_grid_true_patches_come_back(n: int, gridsize: int, outer_offset: int, size: int) -> None:
    grid = GridLayout(size=size, N=n, gridsize=gridsize, offset=4, outer_offset=outer_offset, nimgs=2)
    objects = np.stack([smooth_object(size, 1), smooth_object(size, 2)])
    norm = 1.7
    patches = grid_patches(objects, grid) / norm
    positions = np.concatenate([grid.frame_positions()] * 2)
    ctx = context(positions, grid.gt_shape, n, grid=grid, norm_Y_I=norm, frame_rows=range(grid.rows_per_object))
    result = stitch(ctx, patches, batch=11)
    o = grid.gt_origin
    truth = objects[0, o : o + grid.gt_side, o : o + grid.gt_side]
    assert result.object.shape == truth.shape and result.object.dtype == np.complex64
    assert result.coverage.dtype == np.float32 and result.stitcher == "torch-mmap"
    assert np.all(result.coverage > 0)
    assert_relative(result.object, truth, result.coverage > 0)


@pytest.mark.parametrize("gridsize", [1, 2])
def test_scattered_integer_positions_with_negative_and_straddling_patches(gridsize: int) -> None:
    rng = np.random.default_rng(3)
    n, frame, margin = 16, (40, 52), 12
    positions = scattered(rng, 30, gridsize**2, frame, n, integer=True)
    big = smooth_object(frame[1] + 2 * margin + 2 * n, 5)
    y, x = pixel_coords(positions, n)
    patches = np.moveaxis(big[y.astype(int) + margin + n, x.astype(int) + margin + n], 1, -1)
    truth = big[margin + n : margin + n + frame[0], margin + n : margin + n + frame[1]]
    assert (positions < (n - 1) / 2).any() and (positions > np.array(frame) - (n - 1) / 2).any()
    result = stitch(context(positions, frame, n), patches)
    covered = result.coverage > 0
    assert_relative(result.object, truth, covered)
    _, den = reference(patches, positions, frame)
    np.testing.assert_array_equal(result.coverage, den.astype(np.float32))


# --- sub-pixel positions --------------------------------------------------------------------------

def affine(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (3.0 + 0.021 * y - 0.017 * x) + 1j * (1.0 - 0.013 * y + 0.029 * x)


def partial_ring(positions: np.ndarray, n: int, frame: tuple[int, int]) -> np.ndarray:
    """Pixels where some patch arrives with only part of its bilinear corners."""
    ring = np.zeros((frame[0] + 4 * n, frame[1] + 4 * n), bool)
    off = 2 * n
    for py, px in positions.reshape(-1, 2):
        ty, tx = py - (n - 1) / 2.0, px - (n - 1) / 2.0
        iy, ix = int(np.floor(ty)) + off, int(np.floor(tx)) + off
        if ty != np.floor(ty):
            ring[[iy, iy + n], ix : ix + n + 1] = True
        if tx != np.floor(tx):
            ring[iy : iy + n + 1, [ix, ix + n]] = True
    return ring[off : off + frame[0], off : off + frame[1]]


@pytest.mark.parametrize("gridsize", [1, 2])
def test_subpixel_affine_object_comes_back_where_all_corners_arrive(gridsize: int) -> None:
    rng = np.random.default_rng(7)
    n, frame = 16, (48, 44)
    positions = scattered(rng, 12, gridsize**2, frame, n, integer=False)
    patches = np.moveaxis(affine(*pixel_coords(positions, n)), 1, -1).astype(np.complex64)
    result = stitch(context(positions, frame, n), patches)
    rows, cols = np.indices(frame)
    clean = (result.coverage > 0) & ~partial_ring(positions, n, frame)
    assert clean.sum() > 0.2 * frame[0] * frame[1]
    assert_relative(result.object, affine(rows, cols), clean)


@pytest.mark.parametrize(
    "gridsize,crop,weighting",
    [(1, None, "uniform"), (2, None, "uniform"), (1, 10, "probe"), (2, 9, "uniform"), (2, None, "probe")],
)
def test_scattered_subpixel_scan_matches_definition(gridsize: int, crop: int | None, weighting: str) -> None:
    rng = np.random.default_rng(11 + gridsize)
    n, frame = 16, (37, 45)
    positions = scattered(rng, 25, gridsize**2, frame, n, integer=False)
    patches = (rng.normal(size=(25, n, n, gridsize**2)) + 1j * rng.normal(size=(25, n, n, gridsize**2))).astype(np.complex64)
    probe = (np.hanning(n)[:, None] * np.hanning(n)[None, :] + 0.05).astype(np.complex64) * np.exp(0.3j)
    opts = StitchOptions(weighting=weighting, crop=crop)
    result = stitch(context(positions, frame, n, probe=probe, options=opts), patches)
    expected, den = reference(patches, positions, frame, crop, np.abs(probe) ** 2 if weighting == "probe" else None)
    covered = den > 0
    np.testing.assert_array_equal(result.coverage > 0, covered)
    np.testing.assert_allclose(result.coverage, den, rtol=RTOL)
    scale = np.abs(expected[covered]).max()
    np.testing.assert_allclose(result.object[covered], expected[covered], rtol=0, atol=RTOL * scale)
    assert np.all(result.object[~covered] == 0)


def grid_with_fraction(shift: tuple[float, float], n: int = 16, step: int = 5, frame: tuple[int, int] = (40, 40)) -> np.ndarray:
    """A regular scan (one shared sub-pixel offset) reaching past the frame edges."""
    ys = np.arange(-n // 2, frame[0] + n // 2, step) + shift[0]
    xs = np.arange(-n // 2, frame[1] + n // 2, step) + shift[1]
    return np.stack(np.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 1, 2)


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.5, 0.5), (0.25, 0.0), (0.3, 0.85)])
def test_shared_fraction_placement_matches_definition_and_footprints(shift: tuple[float, float], monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    n, frame = 16, (40, 40)
    positions = grid_with_fraction(shift, n, 5, frame)
    rows = len(positions)
    patches = (rng.normal(size=(rows, n, n, 1)) + 1j * rng.normal(size=(rows, n, n, 1))).astype(np.complex64)
    ctx = context(positions, frame, n)
    shared = stitch(ctx, patches)
    expected, den = reference(patches, positions, frame)
    covered = den > 0
    scale = np.abs(expected[covered]).max()
    np.testing.assert_allclose(shared.object[covered], expected[covered], rtol=0, atol=RTOL * scale)
    np.testing.assert_allclose(shared.coverage, den, rtol=RTOL, atol=1e-6)
    monkeypatch.setattr(placement, "MAX_SHARED_FRACTIONS", 0)
    footprints = stitch(ctx, patches)
    np.testing.assert_allclose(footprints.object, shared.object, rtol=0, atol=RTOL * scale)
    np.testing.assert_allclose(footprints.coverage, shared.coverage, rtol=RTOL, atol=1e-6)


# --- constant object, edges, determinism ----------------------------------------------------------

@pytest.mark.parametrize(
    "layout,weighting,crop",
    [("integer", "uniform", None), ("subpixel", "uniform", None), ("subpixel", "probe", 11),
     ("shared", "uniform", None), ("shared", "probe", 12), ("shared-integer", "probe", None)],
)
def test_constant_one_object_comes_back_exactly_one(layout: str, weighting: str, crop: int | None) -> None:
    rng = np.random.default_rng(5)
    n, frame = 16, (41, 39)
    if layout.startswith("shared"):
        positions = grid_with_fraction((0.0, 0.0) if layout == "shared-integer" else (0.37, 0.61), n, 3, frame)
        positions = positions + np.array([[0, 0], [0, 4], [4, 0], [4, 4]])[None]  # gridsize 2, offset 4
    else:
        positions = scattered(rng, 40, 4, frame, n, integer=layout == "integer")
    patches = np.ones((len(positions), n, n, 4), np.complex64)
    probe = (rng.uniform(0.1, 1.0, (n, n)) * np.exp(1j * rng.uniform(0, 6, (n, n)))).astype(np.complex64)
    opts = StitchOptions(weighting=weighting, crop=crop)
    result = stitch(context(positions, frame, n, probe=probe, options=opts), patches)
    covered = result.coverage > 0
    assert covered.mean() > 0.9
    assert np.all(result.object[covered] == 1)
    assert np.all(result.object[~covered] == 0)


def test_straddling_patch_is_clipped_never_wrapped_or_dropped() -> None:
    n, frame = 8, (20, 30)
    positions = np.array([[[-1.25, 25.5]], [[-40.0, 5.0]]])  # top-right corner straddler; one fully outside
    patches = np.full((2, n, n, 1), 2 - 1j, np.complex64)
    result = stitch(context(positions, frame, n), patches)
    _, den = reference(patches, positions, frame)
    covered = result.coverage > 0
    np.testing.assert_array_equal(covered, den > 0)
    assert covered[:4, 22:].all() and not covered[4:].any() and not covered[:, :22].any()
    assert np.all(result.object[covered] == np.complex64(2 - 1j))


@pytest.mark.parametrize("layout", ["subpixel", "shared"])
def test_cpu_result_is_deterministic_and_independent_of_batching(layout: str) -> None:
    rng = np.random.default_rng(9)
    n, frame = 16, (40, 40)
    positions = scattered(rng, 60, 1, frame, n, integer=False) if layout == "subpixel" else grid_with_fraction((0.4, 0.1))
    patches = (rng.normal(size=(len(positions), n, n, 1)) * (1 + 1j)).astype(np.complex64)
    ctx = context(positions, frame, n)
    runs = [stitch(ctx, patches, batch) for batch in (7, 7, 1, len(patches))]
    for other in runs[1:]:
        assert np.array_equal(other.object, runs[0].object) and np.array_equal(other.coverage, runs[0].coverage)


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_cpu_result_does_not_depend_on_the_number_of_threads(threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(10)
    n, frame = 16, (60, 50)
    positions = scattered(rng, 80, 4, frame, n, integer=False)
    patches = (rng.normal(size=(80, n, n, 4)) + 1j * rng.normal(size=(80, n, n, 4))).astype(np.complex64)
    ctx = context(positions, frame, n)
    monkeypatch.setattr(kernels, "_threads", lambda: 1)
    single = stitch(ctx, patches)
    monkeypatch.setattr(kernels, "_threads", lambda: threads)
    several = stitch(ctx, patches)
    assert np.array_equal(several.object, single.object) and np.array_equal(several.coverage, single.coverage)


def test_row_bands_tile_the_canvas_and_share_the_footprints() -> None:
    rng = np.random.default_rng(11)
    n, frame = 16, (200, 40)
    positions = scattered(rng, 400, 1, frame, n, integer=False)
    positions[:300, :, 0] = rng.uniform(0, 30, size=(300, 1))  # three quarters of the scan in the top rows
    plan = Placement.build(context(positions, frame, n), shared_fractions=True)
    height = frame[0] + 2 * plan.margin
    for count in (1, 2, 3, 4):
        bands = plan.bands(height, count)
        assert bands[0][0] == 0 and bands[-1][1] == height and len(bands) <= count
        assert all(lo < hi and hi == next_lo for (lo, hi), (next_lo, _) in zip(bands, bands[1:] + [(height, 0)]))
        rows = np.concatenate([np.arange(y, y + n + 1) for y in plan.top[plan.inside, 0]])
        work = [np.count_nonzero((rows >= lo) & (rows < hi)) for lo, hi in bands]
        assert max(work) <= 1.5 * len(rows) / len(bands), (count, work)


def test_only_frame_rows_are_stitched_and_norm_applies() -> None:
    n, frame = 8, (16, 16)
    positions = np.array([[[5.5, 5.5]], [[9.5, 9.5]], [[7.5, 7.5]]])
    patches = np.stack([np.full((n, n, 1), v, np.complex64) for v in (1.0, 5.0, 100.0)])
    ctx = context(positions, frame, n, frame_rows=range(0, 2), norm_Y_I=3.0)
    result = stitch(ctx, patches, batch=2)
    assert result.object[2, 2] == 3.0 and result.object[13, 13] == 15.0 and result.object[8, 8] == 9.0
    assert result.coverage[8, 8] == 2 and result.coverage[0, 0] == 0


def test_agrees_with_tf_style_on_gridsize1_grid_lines() -> None:
    """True patches: any crop agrees. Noisy patches: crop = stride keeps the very tile tf-style keeps.

    With ``N - stride`` even, the central ``stride x stride`` crop starts at patch pixel
    ``(N - stride) / 2 = gt_origin``, the tile tf-style cuts, and the crops tile the frame
    without overlap, so both stitchers place the same pixel values for any patches.
    """
    grid = GridLayout(size=200, N=64, gridsize=1, offset=4, outer_offset=20, nimgs=1)
    assert (grid.N - grid.stride) % 2 == 0
    true = grid_patches(smooth_object(200, 4)[None], grid)
    noisy = true + (np.random.default_rng(1).normal(size=true.shape) * 0.1).astype(np.complex64)
    base = dict(N=64, gridsize=1, n_rows=grid.n_rows, frame_shape=grid.gt_shape, frame_rows=range(grid.n_rows),
                positions=grid.frame_positions(), grid=grid, norm_Y_I=1.3)
    tf_ctx = StitchContext(**base)
    for patches, crop in ((true, None), (true, 24), (noisy, grid.stride)):
        ours = stitch(StitchContext(**base, options=StitchOptions(crop=crop)), patches)
        theirs = TfStyleStitcher().stitch(tf_ctx, batches_of(patches, 16))
        assert_relative(ours.object, theirs.object, np.ones(grid.gt_shape, bool))


# --- capability, registration, input checks ------------------------------------------------------

def test_capability_reasons_are_readable() -> None:
    """What torch-mmap refuses itself, and what the contract refuses before asking it (same words)."""
    pos = np.zeros((4, 1, 2))
    base = dict(N=16, gridsize=1, n_rows=4, frame_shape=(20, 20), frame_rows=range(4))
    check = TorchMmapStitcher().capability

    def refused(ctx: StitchContext) -> str:
        with pytest.raises(InputError) as raised:
            select(ctx, "torch-mmap")
        return str(raised.value)

    assert "positions" in check(StitchContext(**base)).reason and not check(StitchContext(**base))
    assert "shape" in refused(StitchContext(**base, positions=np.zeros((4, 2))))
    assert "NaN" in refused(StitchContext(**base, positions=np.full((4, 1, 2), np.nan)))
    assert "probe" in refused(StitchContext(**base, positions=pos, options=StitchOptions(weighting="probe")))
    with pytest.raises(InputError, match="crop"):
        StitchOptions(crop=0)
    assert "crop" in refused(StitchContext(**base, positions=pos, options=StitchOptions(crop=17)))
    assert "device" in check(StitchContext(**base, positions=pos, options=StitchOptions(device="tpu"))).reason
    cuda = check(StitchContext(**base, positions=pos, options=StitchOptions(device="cuda")))
    assert cuda.ok == torch.cuda.is_available()
    if not cuda.ok:
        assert "cuda" in cuda.reason.lower()
    gs2 = check(StitchContext(N=16, gridsize=2, n_rows=4, frame_shape=(20, 20), frame_rows=range(4), positions=np.zeros((4, 4, 2))))
    assert gs2.ok and "gridsize 2" in gs2.reason


def test_registered_and_preferred_by_auto_when_positions_exist() -> None:
    grid = GridLayout(size=150, N=32, gridsize=2, offset=4, outer_offset=12, nimgs=1)
    base = dict(N=32, gridsize=2, n_rows=grid.n_rows, frame_shape=grid.gt_shape, frame_rows=range(grid.n_rows), grid=grid)
    assert select(StitchContext(**base, positions=grid.frame_positions())).stitcher.name == "torch-mmap"
    fallback = select(StitchContext(**base))
    assert fallback.stitcher.name == "tf-style" and fallback.fallback and "torch-mmap" in fallback.rejected


def test_wrong_patch_shape_is_an_input_error() -> None:
    ctx = context(np.zeros((2, 1, 2)) + 7.5, (16, 16), 16)
    with pytest.raises(InputError, match="expected shape"):
        TorchMmapStitcher().stitch(ctx, [PatchBatch(0, np.ones((2, 16, 15, 1), np.complex64))])


def test_accelerator_kernels_match_the_cpu_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The torch path (footprints + index_add_, used on CUDA) run on the CPU gives the same object."""
    rng = np.random.default_rng(4)
    n, frame = 16, (37, 45)
    positions = scattered(rng, 25, 4, frame, n, integer=False)
    patches = (rng.normal(size=(25, n, n, 4)) + 1j * rng.normal(size=(25, n, n, 4))).astype(np.complex64)
    probe = (np.hanning(n)[:, None] * np.hanning(n)[None, :] + 0.05).astype(np.complex64)
    ctx = context(positions, frame, n, probe=probe, options=StitchOptions(weighting="probe", crop=12))
    cpu = stitch(ctx, patches)
    monkeypatch.setattr(kernels, "choose", lambda device: TorchKernels(device))
    accel = stitch(ctx, patches)
    covered = cpu.coverage > 0
    np.testing.assert_array_equal(accel.coverage > 0, covered)
    np.testing.assert_allclose(accel.coverage, cpu.coverage, rtol=1e-6)
    np.testing.assert_allclose(accel.object, cpu.object, rtol=0, atol=1e-6 * np.abs(cpu.object).max())
