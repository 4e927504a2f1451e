"""Tests of the splat kernels behind torch-mmap against direct formulas."""

from __future__ import annotations

import numpy as np
import torch

from ptychostitch.stitchers.splat import add_blocks, box_sums, scatter_blocks, shift_planes


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
