"""Tests of the ``median`` stitcher: the ptychostitch conformance check, and median specifics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from ptychostitch_median import MedianStitcher

from ptychostitch.stitchers import PatchBatch, StitchContext, StitchOptions
from ptychostitch.testing import check_stitcher, grid_case, scattered_case


def test_passes_the_ptychostitch_conformance_check() -> None:
    check_stitcher(MedianStitcher())


def stack_of(values: list[complex], n: int = 4) -> tuple[StitchContext, list[PatchBatch]]:
    """Patches of constant ``values`` all at one position, covering a frame of their own size."""
    ctx = StitchContext(
        N=n, gridsize=1, n_rows=len(values), frame_shape=(n, n), frame_rows=range(len(values)),
        positions=np.full((len(values), 1, 2), (n - 1) / 2.0),
    )  # fmt: skip
    patches = np.array([np.full((n, n, 1), v, np.complex64) for v in values])
    return ctx, [PatchBatch(0, patches)]


@pytest.mark.parametrize(
    "values,expected",
    [
        ([1 + 1j], 1 + 1j),
        ([1, 2, 100], 2),
        ([1, 100, 2, 3], 2.5),  # even count: mean of the middle two
        ([1 + 9j, 5 + 1j, 3 + 4j], 3 + 4j),  # real and imaginary parts separately
    ],
)
def test_median_of_the_values_at_a_pixel(values: list[complex], expected: complex) -> None:
    ctx, batches = stack_of(values)
    result = MedianStitcher().stitch(ctx, batches)
    np.testing.assert_allclose(result.object, np.full((4, 4), expected), rtol=1e-6)
    np.testing.assert_array_equal(result.coverage, np.full((4, 4), len(values), np.float32))


def test_refusals_say_why() -> None:
    ctx = scattered_case(1).context
    median = MedianStitcher()
    assert median.capability(ctx).ok
    cases = {
        "needs scan positions": replace(ctx, positions=None),
        "whole-pixel": replace(ctx, positions=ctx.positions + 0.25),
    }
    for reason, context in cases.items():
        verdict = median.capability(context)
        assert not verdict.ok and reason in verdict.reason, (reason, verdict.reason)


@pytest.mark.parametrize("n,crop", [(4, 3), (5, 2), (6, 3), (5, 5)])
def test_a_crop_keeps_ptychopinns_window_where_it_lands(n: int, crop: int) -> None:
    patch = (np.arange(n * n).reshape(n, n, 1) + 1j).astype(np.complex64)
    ctx, batches = stack_of([0], n)
    ctx = replace(ctx, options=StitchOptions(crop=crop))
    assert MedianStitcher().capability(ctx).ok
    result = MedianStitcher().stitch(ctx, [PatchBatch(0, patch[None])])
    start = n // 2 - crop // 2  # PtychoPINN's start index; crop pixels from it
    kept = np.zeros((n, n), bool)
    kept[start : start + crop, start : start + crop] = True
    np.testing.assert_array_equal(result.coverage > 0, kept)
    np.testing.assert_array_equal(result.object[kept], patch[..., 0][kept])


def test_buffer_limit_is_stated_and_enforced() -> None:
    ctx = grid_case(1).context
    verdict = MedianStitcher().capability(ctx)
    assert verdict.ok and "MiB buffer" in verdict.reason
    tight = MedianStitcher(max_buffer_bytes=1000)
    assert "above its limit" in tight.capability(ctx).reason


def test_patches_that_all_miss_the_frame_give_an_empty_object() -> None:
    ctx, batches = stack_of([1, 2])
    away = replace(ctx, positions=ctx.positions + 50.0)
    assert MedianStitcher().capability(away).ok
    result = MedianStitcher().stitch(away, batches)
    np.testing.assert_array_equal(result.object, np.zeros((4, 4), np.complex64))
    np.testing.assert_array_equal(result.coverage, np.zeros((4, 4), np.float32))


def test_weighted_median_matches_the_plain_median_for_equal_weights_and_follows_heavy_weights() -> None:
    from ptychostitch_median.stitcher import _weighted_median

    rng = np.random.default_rng(3)
    values = rng.normal(size=(5, 4, 6)).astype(np.float32)
    for depth in (1, 2, 3, 4, 5):
        got = _weighted_median(values[:depth], np.ones((depth, 4, 6), np.float32))
        np.testing.assert_allclose(got, np.median(values[:depth], axis=0), rtol=1e-6)
    heavy = np.ones((5, 4, 6), np.float32)
    heavy[2] = 10.0
    np.testing.assert_array_equal(_weighted_median(values, heavy), values[2])
    padded = np.concatenate([values[:3], np.full((2, 4, 6), np.nan, np.float32)])
    np.testing.assert_allclose(_weighted_median(padded, np.concatenate([np.ones((3, 4, 6)), np.zeros((2, 4, 6))]).astype(np.float32)),
                               np.median(values[:3], axis=0), rtol=1e-6)
