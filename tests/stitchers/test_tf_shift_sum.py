"""Tests for the tf-shift-sum stitcher: oracles, PtychoPINN's translation sense, lazy TensorFlow.

Oracles used here are independent of the stitcher's stencil-and-scatter formulation:
- true patches cut from a known object at integer placements must come back exactly;
- a constant object must come back constant wherever anything is covered;
- an object whose real and imaginary parts are affine in (y, x) is reproduced exactly by
  bilinear translation wherever only patch interiors contribute;
- a per-patch four-corner bilinear splat written with NumPy slicing;
- TensorFlow's own ``ImageProjectiveTransformV3`` (the primitive behind PtychoPINN's
  ``translate``) applied to each crop zero-padded to the whole frame, as ``shift_and_sum`` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ptychostitch import plugins
from ptychostitch.errors import InputError
from ptychostitch.geometry import GridLayout, top_left
from ptychostitch.stitchers import PatchBatch, StitchContext, StitchOptions, registry, select
from ptychostitch.stitchers.tf_shift_sum import TfShiftSumStitcher, _footprint_kernel

QUIET_TF = {"TF_CPP_MIN_LOG_LEVEL": "3"}


def random_object(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(shape) + 0.2 + 1j * (rng.random(shape) - 0.5)).astype(np.complex64)


def affine_object(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (1.2 + 0.01 * y - 0.02 * x) + 1j * (-0.5 + 0.015 * y + 0.005 * x)


def patches_from_function(positions: np.ndarray, n: int, fn) -> np.ndarray:  # noqa: ANN001
    """Patches (rows, n, n, C) whose pixel (a, b) holds fn at the frame point it lands on."""
    corner = top_left(positions, n)  # (rows, C, 2)
    a = np.arange(n, dtype=np.float64)
    y = corner[..., 0, None, None] + a[:, None]
    x = corner[..., 1, None, None] + a[None, :]
    return np.moveaxis(fn(y, x), 1, -1).astype(np.complex64)


def splat_oracle(crops: np.ndarray, corners: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Four-corner bilinear splat of each crop (k, M, M) whose pixel (0, 0) lands at corners (k, 2).

    Returns (numerator, coverage) in the frame, accumulated on a margin-padded canvas and then
    cut to the frame, so nothing wraps.
    """
    m = crops.shape[1]
    origin = np.floor(corners).astype(int)
    lo = min(0, int(origin.min()))
    hi = max(shape) + m + 2 + max(0, int(origin.max()))
    num = np.zeros((hi - lo, hi - lo), np.complex128)
    den = np.zeros((hi - lo, hi - lo), np.float64)
    for crop, (y0, x0), (fy, fx) in zip(crops, origin, corners - origin):
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                sl = np.s_[y0 + dy - lo : y0 + dy - lo + m, x0 + dx - lo : x0 + dx - lo + m]
                num[sl] += wy * wx * crop
                den[sl] += wy * wx
    frame = np.s_[-lo : -lo + shape[0], -lo : -lo + shape[1]]
    return num[frame], den[frame]


def crop_start(n: int, m: int) -> int:
    """First kept patch row of a central crop: PtychoPINN's start index (``shift_and_sum``), m pixels from it."""
    return n // 2 - m // 2


def crops_and_corners(patches: np.ndarray, positions: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    n = patches.shape[1]
    s = crop_start(n, m)
    crops = np.moveaxis(patches[:, s : s + m, s : s + m, :], -1, 1).reshape(-1, m, m)
    return crops, top_left(positions.reshape(-1, 2), n) + s


def stitch(ctx: StitchContext, patches: np.ndarray, batch: int = 7, **kwargs: int):
    stitcher = TfShiftSumStitcher(**kwargs)
    verdict = stitcher.capability(ctx)
    assert verdict.ok, verdict.reason
    batches = (PatchBatch(k, patches[k : k + batch]) for k in range(0, len(patches), batch))
    return stitcher.stitch(ctx, batches)


def scattered_context(n: int, gridsize: int, rows: int, shape: tuple[int, int], seed: int, **kw) -> StitchContext:
    """Random subpixel positions, including negative ones and ones past the far edge."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(-n / 2, np.array(shape) + n / 2 - 1, size=(rows, gridsize**2, 2))
    return StitchContext(N=n, gridsize=gridsize, n_rows=rows, frame_shape=shape, frame_rows=range(rows), positions=pos, **kw)


@pytest.mark.parametrize("gridsize,crop", [(1, None), (1, 32), (2, None), (2, 32)])
def test_grid_lines_true_patches_come_back(gridsize: int, crop: int | None) -> None:
    grid = GridLayout(size=150, N=64, gridsize=gridsize, offset=4, outer_offset=20, nimgs=2)
    obj = random_object((grid.size, grid.size), seed=gridsize)
    tl = top_left(grid.object_positions(), grid.N).astype(int)  # integer top-lefts, object frame
    one = np.stack([np.stack([obj[y : y + 64, x : x + 64] for y, x in row], axis=-1) for row in tl])
    garbage = np.full_like(one, 1e6)  # object 1: outside frame_rows, must be ignored
    norm = 1.7
    patches = np.concatenate([one, garbage]) / norm
    positions = np.tile(grid.frame_positions(), (2, 1, 1))
    ctx = StitchContext(
        N=64, gridsize=gridsize, n_rows=grid.n_rows, frame_shape=grid.gt_shape,
        frame_rows=range(grid.rows_per_object), positions=positions, grid=grid, norm_Y_I=norm,
        options=StitchOptions(crop=crop),
    )
    result = stitch(ctx, patches, batch=5)
    o, side = grid.gt_origin, grid.gt_side
    truth = obj[o : o + side, o : o + side]
    assert result.object.shape == truth.shape and result.object.dtype == np.complex64
    assert result.coverage.dtype == np.float32
    m = crop or 64
    count = np.zeros((grid.size + m, grid.size + m))
    for y, x in tl.reshape(-1, 2) + crop_start(64, m):
        count[y : y + m, x : x + m] += 1
    np.testing.assert_array_equal(result.coverage, count[o : o + side, o : o + side])
    assert result.coverage.min() > 0
    np.testing.assert_allclose(result.object, truth, rtol=1e-6, atol=0)


@pytest.mark.parametrize("gridsize", [1, 2])
def test_constant_object_is_constant_wherever_covered(gridsize: int) -> None:
    rows = 24 // gridsize**2
    ctx = scattered_context(16, gridsize, rows=rows, shape=(40, 52), seed=gridsize, norm_Y_I=2.5)
    c = 0.7 - 0.2j
    patches = np.full((rows, 16, 16, gridsize**2), c, np.complex64)
    result = stitch(ctx, patches)
    _, den = splat_oracle(*crops_and_corners(patches, ctx.positions, 16), ctx.frame_shape)
    np.testing.assert_allclose(result.coverage, den, rtol=1e-6, atol=1e-6)
    covered = result.coverage > 0
    assert 0.3 < covered.mean() < 1.0  # the scan leaves some of the frame uncovered
    np.testing.assert_allclose(result.object[covered], np.complex64(c * 2.5), rtol=1e-6)
    assert np.all(result.object[~covered] == 0)


@pytest.mark.parametrize("gridsize,crop", [(1, None), (2, 12), (1, 9)])
def test_scattered_subpixel_scan_matches_bilinear_splat(gridsize: int, crop: int | None) -> None:
    ctx = scattered_context(16, gridsize, rows=31, shape=(37, 45), seed=10 + gridsize, options=StitchOptions(crop=crop))
    patches = random_object((31 * 16, 16 * gridsize**2), seed=3).reshape(31, 16, 16, gridsize**2)
    result = stitch(ctx, patches, batch=4, chunk_pixels=300)  # several chunks per batch
    num, den = splat_oracle(*crops_and_corners(patches, ctx.positions, crop or 16), ctx.frame_shape)
    expected = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    np.testing.assert_allclose(result.coverage, den, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(result.object, expected, rtol=1e-5, atol=1e-6)


def test_affine_object_reproduced_exactly_where_only_interiors_contribute() -> None:
    n, m, side = 32, 28, 40
    ctx = scattered_context(n, 2, rows=3, shape=(side, side), seed=0, options=StitchOptions(crop=m))
    patches = patches_from_function(ctx.positions, n, affine_object)
    result = stitch(ctx, patches)
    _, corners = crops_and_corners(patches, ctx.positions, m)
    inner_count = np.zeros((side + 2 * n, side + 2 * n), int)
    edge = np.zeros(inner_count.shape, bool)
    for y0, x0 in np.floor(corners).astype(int) + n:  # footprint y0 .. y0+m; interior y0+1 .. y0+m-1
        box = np.zeros_like(edge)
        box[y0 : y0 + m + 1, x0 : x0 + m + 1] = True
        inner = np.zeros_like(edge)
        inner[y0 + 1 : y0 + m, x0 + 1 : x0 + m] = True
        inner_count += inner
        edge |= box & ~inner
    frame = np.s_[n : n + side, n : n + side]
    clean = (inner_count > 0)[frame] & ~edge[frame]
    assert clean.sum() > 500 and (clean & (inner_count[frame] > 1)).sum() > 300  # overlaps included
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    truth = affine_object(yy, xx)
    np.testing.assert_allclose(result.object[clean], truth[clean], rtol=1e-6)
    rim = ~clean & (result.coverage > 0)  # one-sided bilinear taps: not the affine value
    assert np.abs(result.object[rim] - truth[rim]).max() > 1e-3


def test_matches_tensorflow_projective_translation_of_padded_crops() -> None:
    """shift_and_sum's own recipe: pad each crop to the frame, translate with TF, sum, divide."""
    n, m = 12, 8
    ctx = scattered_context(n, 1, rows=9, shape=(24, 28), seed=7, options=StitchOptions(crop=m))
    patches = random_object((9 * n, n), seed=8).reshape(9, n, n, 1)
    result = stitch(ctx, patches)
    crops, corners = crops_and_corners(patches, ctx.positions, m)
    pad = m + 2
    h, w = 24 + 2 * pad, 28 + 2 * pad
    num = np.zeros((h, w), np.complex128)
    den = np.zeros((h, w))
    for crop, corner in zip(crops, corners):
        y0, x0 = np.floor(corner).astype(int) + pad
        fy, fx = corner - np.floor(corner)
        canvas = np.zeros((1, h, w, 3), np.float32)
        canvas[0, y0 : y0 + m, x0 : x0 + m] = np.stack([crop.real, crop.imag, np.ones((m, m))], axis=-1)
        moved = tf.raw_ops.ImageProjectiveTransformV3(
            images=canvas, transforms=[[1, 0, -fx, 0, 1, -fy, 0, 0]], output_shape=[h, w],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT",
        ).numpy()[0]
        num += moved[..., 0] + 1j * moved[..., 1]
        den += moved[..., 2]
    num, den = num[pad:-pad, pad:-pad], den[pad:-pad, pad:-pad]
    np.testing.assert_allclose(result.coverage, den, atol=1e-5)
    expected = np.divide(num, den, out=np.zeros_like(num), where=den > 1e-6)
    solid = den > 0.05
    np.testing.assert_allclose(result.object[solid], expected[solid], rtol=1e-5, atol=1e-5)


def test_content_moves_by_plus_t_and_never_wraps() -> None:
    """The reference's one-pixel probe: a 12x12 delta at (5, 5) moved by (t_y, t_x) = (-2, +3.5)."""
    patch = np.zeros((1, 12, 12, 1), np.complex64)
    patch[0, 5, 5, 0] = 1
    # top-left (-2, 3.5): the patch straddles the top edge of the frame.
    ctx = StitchContext(N=12, gridsize=1, n_rows=1, frame_shape=(12, 12), frame_rows=range(1),
                        positions=np.array([[[3.5, 9.0]]]))
    result = stitch(ctx, patch)
    expected = np.zeros((12, 12), np.complex64)
    expected[3, 8] = expected[3, 9] = 0.5
    np.testing.assert_array_equal(result.object, expected)
    assert result.coverage[3, 8] == 1 and result.coverage[3, 3] == 0.5
    assert np.all(result.coverage[:10, 4:12] == 1)
    assert np.all(result.coverage[10:] == 0)  # rows -2, -1 were dropped, not wrapped to 10, 11


def test_patch_entirely_outside_the_frame_contributes_nothing() -> None:
    ctx = StitchContext(N=8, gridsize=1, n_rows=2, frame_shape=(10, 10), frame_rows=range(2),
                        positions=np.array([[[-20.25, 4.0]], [[4.0, 30.5]]]))
    result = stitch(ctx, np.ones((2, 8, 8, 1), np.complex64))
    assert not result.coverage.any() and not result.object.any()


def test_odd_crop_keeps_m_pixels_from_ptychopinn_start() -> None:
    n, m = 16, 7
    obj = random_object((20, 20), seed=4)
    patch = obj[2:18, 2:18][None, :, :, None]
    ctx = StitchContext(N=n, gridsize=1, n_rows=1, frame_shape=(20, 20), frame_rows=range(1),
                        positions=np.array([[[2 + 7.5, 2 + 7.5]]]), options=StitchOptions(crop=m))
    result = stitch(ctx, patch)
    kept = np.zeros((20, 20), bool)
    kept[2 + 5 : 2 + 12, 2 + 5 : 2 + 12] = True  # patch rows 16//2 - 7//2 = 5 .. 11
    np.testing.assert_array_equal(result.coverage > 0, kept)
    np.testing.assert_array_equal(result.object[kept], obj[kept])


def test_capability_reasons() -> None:
    s = TfShiftSumStitcher()
    assert (s.name, s.priority) == ("tf-shift-sum", 50)
    base = dict(N=16, gridsize=2, n_rows=3, frame_shape=(30, 30), frame_rows=range(3))
    pos = np.zeros((3, 4, 2))
    assert s.capability(StitchContext(positions=pos, **base)).ok
    probe = s.capability(StitchContext(positions=pos, probe=np.ones((16, 16), np.complex64), options=StitchOptions(weighting="probe"), **base))
    assert probe.ok and "probe weights" in probe.reason
    assert "positions" in s.capability(StitchContext(**base)).reason

    def refused(ctx: StitchContext) -> str:  # malformed contexts: refused by the contract before any capability
        with pytest.raises(InputError) as raised:
            select(ctx, "tf-shift-sum")
        return str(raised.value)

    assert "shape" in refused(StitchContext(positions=np.zeros((3, 1, 2)), **base))
    assert "crop" in refused(StitchContext(positions=pos, options=StitchOptions(crop=17), **base))
    nan = pos.copy()
    nan[1, 2, 0] = np.nan
    assert "finite" in refused(StitchContext(positions=nan, **base))


def test_bad_batch_shape_is_a_one_line_input_error() -> None:
    ctx = StitchContext(N=8, gridsize=1, n_rows=2, frame_shape=(10, 10), frame_rows=range(2), positions=np.zeros((2, 1, 2)))
    with pytest.raises(InputError, match=r"expected shape \(b, 8, 8, 1\), found \(2, 8, 8, 4\)"):
        TfShiftSumStitcher().stitch(ctx, [PatchBatch(0, np.zeros((2, 8, 8, 4), np.complex64))])


def test_kernel_is_traced_once_for_any_batch_crop_or_frame() -> None:
    for rows, crop, shape in ((5, None, (20, 20)), (9, 10, (33, 17)), (1, 7, (8, 50))):
        ctx = scattered_context(16, 1, rows=rows, shape=shape, seed=rows, options=StitchOptions(crop=crop))
        stitch(ctx, np.ones((rows, 16, 16, 1), np.complex64), batch=3)
    assert _footprint_kernel(tf).experimental_get_tracing_count() == 1


def test_auto_selection_prefers_it_over_tf_style(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", registry.Registry.load({plugins.ALLOW_ENV: "tf-style,tf-shift-sum"}))
    grid = GridLayout(size=100, N=16, gridsize=1, offset=4, outer_offset=8, nimgs=1)
    ctx = StitchContext(N=16, gridsize=1, n_rows=grid.n_rows, frame_shape=grid.gt_shape,
                        frame_rows=range(grid.n_rows), positions=grid.frame_positions(), grid=grid)
    chosen = select(ctx)
    assert chosen.stitcher.name == "tf-shift-sum" and not chosen.fallback


SELECT_WITHOUT_TF = """
    import sys
    import numpy as np
    from ptychostitch.geometry import GridLayout
    from ptychostitch.stitchers import StitchContext, available, select
    grid = GridLayout(size=100, N=16, gridsize=1, offset=4, outer_offset=8, nimgs=1)
    ctx = StitchContext(N=16, gridsize=1, n_rows=grid.n_rows, frame_shape=grid.gt_shape,
                        frame_rows=range(grid.n_rows), positions=grid.frame_positions(), grid=grid)
    verdict = available()["tf-shift-sum"].capability(ctx)
    assert not verdict.ok and verdict.reason.startswith("tensorflow not installed"), verdict
    chosen = select(ctx)
    assert chosen.stitcher.name == "tf-style" and chosen.fallback, chosen
    assert chosen.rejected["tf-shift-sum"] == verdict.reason, chosen.rejected
    print("ok")
"""

BLOCK_TENSORFLOW = """
    import sys

    class BlockTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, BlockTensorFlow())
"""


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full, capture_output=True, text=True, timeout=120)


def test_without_tensorflow_it_is_listed_but_never_selected(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(BLOCK_TENSORFLOW))
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    done = run_python(SELECT_WITHOUT_TF, {"PYTHONPATH": path, plugins.ALLOW_ENV: "tf-style,tf-shift-sum"})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    blocked = run_python("import tensorflow", {"PYTHONPATH": path})
    assert "ModuleNotFoundError" in blocked.stderr  # the block is a real import failure


def test_importing_ptychostitch_does_not_import_tensorflow() -> None:
    code = """
        import sys
        import ptychostitch, ptychostitch.stitchers, ptychostitch.stitchers.tf_shift_sum
        assert "tf-shift-sum" in ptychostitch.stitchers.available()
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
        print("ok")
    """
    done = run_python(code, QUIET_TF)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
