"""Tests of the kernels behind torch-mmap (NumPy, torch and compiled) against direct formulas, and the numba fallback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from ptychostitch.stitchers import PatchBatch, StitchContext, StitchOptions, torch_mmap
from ptychostitch.stitchers.torch_mmap import kernels
from ptychostitch.stitchers.torch_mmap.canvas import box_sums
from ptychostitch.stitchers.torch_mmap.kernels.bilinear import shift_planes
from ptychostitch.stitchers.torch_mmap.kernels.numba_kernels import add_at_offsets, splat_footprints
from ptychostitch.stitchers.torch_mmap.kernels.numpy_kernels import add_blocks
from ptychostitch.stitchers.torch_mmap.kernels.torch_kernels import scatter_blocks
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


@pytest.fixture
def unload(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Call it to forget the compiled kernels, so the next ``compiled_kernels()`` imports them afresh."""

    def forget() -> None:
        monkeypatch.delitem(sys.modules, "ptychostitch.stitchers.torch_mmap.kernels.numba_kernels")
        monkeypatch.delattr(kernels, "numba_kernels")
        kernels.compiled_kernels.cache_clear()

    yield forget
    kernels.compiled_kernels.cache_clear()


def test_without_numba_the_numpy_kernels_give_the_same_object_and_say_how_to_speed_up(
    unload: Callable[[], None], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    compiled = scattered_stitch()
    unload()
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` fail, as when it is not installed
    assert kernels.compiled_kernels() is None
    with caplog.at_level(logging.INFO, logger=torch_mmap.__name__):
        without = scattered_stitch()
    np.testing.assert_array_equal(without, compiled)
    assert "pip install 'ptychostitch[fast]'" in caplog.text


@pytest.mark.parametrize("weighting", ["uniform", "probe"])
@pytest.mark.parametrize("gridsize", [1, 2])
def test_grid_placement_is_bit_identical_with_and_without_numba(gridsize: int, weighting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = grid_case(gridsize, StitchOptions(weighting=weighting, crop=11))  # odd crop of an even patch: the crop rule decides the half pixel
    batches = [PatchBatch(start, case.patches[start : start + 13]) for start in range(0, len(case.patches), 13)]
    assert kernels.compiled_kernels() is not None
    compiled = torch_mmap.TorchMmapStitcher().stitch(case.context, batches)
    monkeypatch.setattr(kernels, "compiled_kernels", lambda: None)
    numpy = torch_mmap.TorchMmapStitcher().stitch(case.context, batches)
    np.testing.assert_array_equal(compiled.object, numpy.object)
    np.testing.assert_array_equal(compiled.coverage, numpy.coverage)
    covered = compiled.coverage > 0
    assert covered.any()


def test_add_at_offsets_is_a_loop_of_slice_adds_in_any_row_bands() -> None:
    rng = np.random.default_rng(7)
    patches = (rng.normal(size=(30, 6, 6)) + 1j * rng.normal(size=(30, 6, 6))).astype(np.complex64)
    weights = rng.uniform(0.1, 2, size=(6, 6)).astype(np.float32)
    top, pick = rng.integers(0, 15, size=(30, 2)), rng.permutation(30)[:24]
    expected_values, expected_totals = np.zeros((2, 21, 21), np.complex64), np.zeros((21, 21), np.float32)
    for p in pick:
        (y, x), block = top[p], patches[p]
        expected_values[0, y : y + 6, x : x + 6] += block
        expected_values[1, y : y + 6, x : x + 6] += block * weights
        expected_totals[y : y + 6, x : x + 6] += weights
    for edges in [(0, 21), (0, 7, 8, 21), (0, 3, 10, 16, 21)]:
        values, totals = np.zeros_like(expected_values), np.zeros_like(expected_totals)
        for band in zip(edges[:-1], edges[1:]):
            add_at_offsets(values[0], None, patches, pick, top, None, band)
            add_at_offsets(values[1], totals, patches, pick, top, weights, band)
        np.testing.assert_array_equal(values, expected_values)
        np.testing.assert_array_equal(totals, expected_totals)


class _NoCacheLocator:
    """An import hook standing in for numba's failure when no cache folder is writable."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "ptychostitch.stitchers.torch_mmap.kernels.numba_kernels":
            raise RuntimeError("cannot cache function 'splat_footprints': no locator available for file 'numba_kernels.py'")


def test_unwritable_numba_cache_falls_back_to_numpy_with_a_warning(
    unload: Callable[[], None], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    unload()
    monkeypatch.setattr(sys, "meta_path", [_NoCacheLocator(), *sys.meta_path])
    with caplog.at_level(logging.WARNING, logger=torch_mmap.__name__):
        assert kernels.compiled_kernels() is None
    assert "NUMBA_CACHE_DIR" in caplog.text


def test_kernels_numba_cannot_compile_fall_back_to_numpy_with_a_warning(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from numba.core.errors import LoweringError

    from ptychostitch.stitchers.torch_mmap.kernels import numba_kernels

    def fail() -> None:
        raise LoweringError("llvm.prefetch: unknown intrinsic")

    monkeypatch.setattr(numba_kernels, "warm_up", fail)
    kernels.compiled_kernels.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=torch_mmap.__name__):
            assert kernels.compiled_kernels() is None
    finally:
        kernels.compiled_kernels.cache_clear()
    assert "cannot build the compiled kernels" in caplog.text and "unknown intrinsic" in caplog.text
