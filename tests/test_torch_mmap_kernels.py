"""Tests of the splat kernels behind torch-mmap (NumPy, torch and compiled) against direct formulas."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
import torch

from ptychostitch.stitchers import PatchBatch, StitchContext, StitchOptions
from ptychostitch.stitchers import torch_mmap

from ptychostitch.stitchers.splat import add_blocks, box_sums, scatter_blocks, shift_planes
from ptychostitch.stitchers.splat_numba import splat_footprints
from ptychostitch.testing import grid_case


def test_shift_planes_is_the_four_corner_splat_for_numpy_and_torch() -> None:
    rng = np.random.default_rng(0)
    planes = rng.normal(size=(5, 3, 6, 7)).astype(np.float32)
    frac = rng.uniform(0, 1, size=(5, 2, 1, 1, 1)).astype(np.float32)
    expected = np.zeros((5, 3, 7, 8))
    for k, (fy, fx) in enumerate(frac.reshape(5, 2).astype(np.float64)):
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                expected[k, :, dy : dy + 6, dx : dx + 7] += wy * wx * planes[k]
    with_numpy = shift_planes(planes, frac[:, 0], frac[:, 1])
    frac_t = torch.from_numpy(frac)
    with_torch = shift_planes(torch.from_numpy(planes), frac_t[:, 0], frac_t[:, 1]).numpy()
    np.testing.assert_allclose(with_numpy, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(with_torch, with_numpy)


def test_add_blocks_and_scatter_blocks_agree_with_a_loop_of_slices() -> None:
    rng = np.random.default_rng(1)
    blocks = rng.normal(size=(9, 3, 4, 5)).astype(np.float32)
    rows, cols = rng.integers(0, 7, 9), rng.integers(0, 6, 9)
    expected = np.zeros((3, 11, 11), np.float32)
    for b, y, x in zip(blocks, rows, cols):
        expected[:, y : y + 4, x : x + 5] += b
    looped = np.zeros((3, 11, 11), np.float32)
    add_blocks(looped, blocks, rows.tolist(), cols.tolist())
    scattered = torch.zeros((3, 11, 11))
    scatter_blocks(scattered, torch.from_numpy(blocks), torch.from_numpy(rows), torch.from_numpy(cols))
    np.testing.assert_array_equal(looped, expected)
    np.testing.assert_allclose(scattered.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_box_sums_counts_covering_boxes() -> None:
    rng = np.random.default_rng(2)
    density = rng.integers(0, 3, size=(13, 17))
    expected = np.zeros_like(density)
    for (y, x), count in np.ndenumerate(density):
        expected[y : y + 4, x : x + 4] += count
    np.testing.assert_array_equal(box_sums(density, 4), expected)


def footprint_case(seed: int, count: int = 40, size: int = 9, side: int = 30):
    """Random patches, weights and in-canvas placements for the footprint kernels."""
    rng = np.random.default_rng(seed)
    patches = (rng.normal(size=(count, size, size)) + 1j * rng.normal(size=(count, size, size))).astype(np.complex64)
    weights = rng.uniform(0.1, 2, size=(size, size)).astype(np.float32)
    top = rng.integers(0, side - size - 1, size=(count, 2))
    frac = rng.uniform(0, 1, size=(count, 2)).astype(np.float32)
    frac[:3] = 0  # integer positions too
    pick = rng.permutation(count)[: count - 5]
    return patches, weights, top, frac, pick, side


def test_compiled_kernel_is_the_four_corner_splat_and_bit_identical_to_the_numpy_kernels() -> None:
    patches, weights, top, frac, pick, side = footprint_case(3)
    compiled = np.zeros((3, side, side), np.float32)
    splat_footprints(compiled, patches, pick, top, frac, weights, (0, side))

    planes = np.stack([patches.real * weights, patches.imag * weights, np.broadcast_to(weights, patches.shape)], axis=1)
    footprints = shift_planes(planes[pick], frac[pick, 0, None, None, None], frac[pick, 1, None, None, None])
    with_numpy = np.zeros_like(compiled)
    add_blocks(with_numpy, footprints, top[pick, 0].tolist(), top[pick, 1].tolist())
    np.testing.assert_array_equal(compiled, with_numpy)

    size = weights.shape[0]
    expected = np.zeros((3, side, side))
    for p in pick:
        (y, x), (fy, fx) = top[p], frac[p].astype(np.float64)
        values = np.stack([patches[p].real * weights, patches[p].imag * weights, weights]).astype(np.float64)
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                expected[:, y + dy : y + dy + size, x + dx : x + dx + size] += wy * wx * values
    np.testing.assert_allclose(compiled, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("edges", [(0, 1, 30), (0, 12, 13, 30), (0, 5, 9, 17, 22, 30), (0, 30, 30)])
def test_compiled_kernel_in_row_bands_equals_one_pass_and_leaves_other_rows_alone(edges: tuple[int, ...]) -> None:
    patches, weights, top, frac, pick, side = footprint_case(6)
    whole = np.zeros((3, side, side), np.float32)
    splat_footprints(whole, patches, pick, top, frac, weights, (0, side))
    banded = np.zeros_like(whole)
    for lo, hi in zip(edges[:-1], edges[1:]):
        before = banded.copy()
        splat_footprints(banded, patches, pick, top, frac, weights, (lo, hi))
        outside = np.ones(side, bool)
        outside[lo:hi] = False
        np.testing.assert_array_equal(banded[:, outside], before[:, outside])
    np.testing.assert_array_equal(banded, whole)


def test_compiled_kernel_reads_strided_read_only_patches() -> None:
    patches, weights, top, frac, pick, side = footprint_case(4)
    strided = np.zeros((len(patches), 2 * 9, 9), np.complex64)
    strided[:, ::2] = patches
    view = strided[:, ::2]
    view.flags.writeable = False
    contiguous, from_view = np.zeros((2, 3, side, side), np.float32)
    splat_footprints(contiguous, patches, pick, top, frac, weights, (0, side))
    splat_footprints(from_view, view, pick, top, frac, weights, (0, side))
    np.testing.assert_array_equal(from_view, contiguous)
    assert contiguous.any()


def scattered_stitch() -> np.ndarray:
    """torch-mmap on a small scattered sub-pixel scan (per-patch footprints)."""
    rng = np.random.default_rng(5)
    n, rows, frame = 12, 30, (40, 36)
    positions = rng.uniform(-3, 40, size=(rows, 1, 2))
    patches = (rng.normal(size=(rows, n, n, 1)) + 1j * rng.normal(size=(rows, n, n, 1))).astype(np.complex64)
    ctx = StitchContext(N=n, gridsize=1, n_rows=rows, frame_shape=frame, frame_rows=range(rows), positions=positions)
    return torch_mmap.TorchMmapStitcher().stitch(ctx, [PatchBatch(0, patches[:17]), PatchBatch(17, patches[17:])]).object


def test_without_numba_the_numpy_kernels_give_the_same_object_and_say_how_to_speed_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    compiled = scattered_stitch()
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` fail, as when it is not installed
    monkeypatch.delitem(sys.modules, "ptychostitch.stitchers.splat_numba")
    torch_mmap.compiled_kernel.cache_clear()
    try:
        assert torch_mmap.compiled_kernel() is None
        with caplog.at_level(logging.INFO, logger=torch_mmap.__name__):
            without = scattered_stitch()
    finally:
        torch_mmap.compiled_kernel.cache_clear()
    np.testing.assert_array_equal(without, compiled)
    assert "pip install 'ptychostitch[fast]'" in caplog.text


def test_grid_scans_never_ask_for_the_compiled_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shared-fraction placement needs no footprints, so grid-lines runs never import numba."""

    def refuse() -> None:
        raise AssertionError("a grid scan asked for the compiled kernel")

    monkeypatch.setattr(torch_mmap, "compiled_kernel", refuse)
    for gridsize in (1, 2):
        case = grid_case(gridsize, StitchOptions(weighting="probe", crop=12))
        result = torch_mmap.TorchMmapStitcher().stitch(case.context, [PatchBatch(0, case.patches)])
        covered = result.coverage > 0
        np.testing.assert_allclose(result.object[covered], case.truth[covered], rtol=1e-5)


class _NoCacheLocator:
    """An import hook standing in for numba's failure when no cache folder is writable."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "ptychostitch.stitchers.splat_numba":
            raise RuntimeError("cannot cache function 'splat_footprints': no locator available for file 'splat_numba.py'")


def test_unwritable_numba_cache_falls_back_to_numpy_with_a_warning(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(sys, "meta_path", [_NoCacheLocator(), *sys.meta_path])
    monkeypatch.delitem(sys.modules, "ptychostitch.stitchers.splat_numba")
    torch_mmap.compiled_kernel.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=torch_mmap.__name__):
            assert torch_mmap.compiled_kernel() is None
    finally:
        torch_mmap.compiled_kernel.cache_clear()
    assert "NUMBA_CACHE_DIR" in caplog.text


def test_a_kernel_numba_cannot_compile_falls_back_to_numpy_with_a_warning(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from numba.core.errors import LoweringError

    from ptychostitch.stitchers import splat_numba

    def fail() -> None:
        raise LoweringError("llvm.prefetch: unknown intrinsic")

    monkeypatch.setattr(splat_numba, "warm_up", fail)
    torch_mmap.compiled_kernel.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=torch_mmap.__name__):
            assert torch_mmap.compiled_kernel() is None
    finally:
        torch_mmap.compiled_kernel.cache_clear()
    assert "cannot build the compiled kernel" in caplog.text and "unknown intrinsic" in caplog.text
