"""ptychostitch.testing: the oracle building blocks are right, and check_stitcher catches real defects.

A small slice-add mean stitcher written here passes check_stitcher; each planted defect (the
mistakes seen in other projects' stitchers) makes it fail with a message naming the rule.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pytest

from ptychostitch.geometry import crop_window, top_left
from ptychostitch.stitchers import Capability, PatchBatch, StitchContext, StitchResult
from ptychostitch.testing import check_stitcher, cut_patches, grid_case, oracle_cases, scattered_case, smooth_object


class MeanStitcher:
    """Uniform mean of the kept windows of whole-pixel patches; ``defect`` plants one known mistake."""

    name = "test-mean"
    priority = 0

    def __init__(self, defect: str = "") -> None:
        self.defect = defect

    def capability(self, context: StitchContext) -> Capability:
        if self.defect == "capability raises":
            raise RuntimeError("boom")
        if self.defect == "accepts everything":
            return Capability(True, "always")
        if context.positions is None or self.defect == "refuses everything":
            return Capability(False, "needs positions")
        if context.options.weighting != "uniform":
            return Capability(False, "uniform weights only")
        corners = top_left(context.positions, context.N)
        if not np.array_equal(corners, np.rint(corners)):
            return Capability(False, "needs whole-pixel corners")
        return Capability(True, "whole-pixel positions")

    def stitch(self, context: StitchContext, batches: Iterable[PatchBatch]) -> StitchResult:
        height, width = context.frame_shape
        start, size = crop_window(context.N, context.options.crop)
        if self.defect == "crop window at (N-M)//2":
            start = (context.N - size) // 2
        total = np.zeros((height, width), np.complex128)
        count = np.zeros((height, width), np.float64)
        rows = range(context.n_rows) if self.defect == "ignores frame_rows" else context.frame_rows
        shift = context.N / 2.0 if self.defect == "centre at N/2" else (context.N - 1) / 2.0
        corners = np.floor(context.positions - shift).astype(int) + start  # type: ignore[operator]
        if self.defect == "swaps y and x":
            corners = corners[..., ::-1]
        for batch in batches:
            if self.defect == "keeps only the last batch":
                total[:], count[:] = 0, 0
            if self.defect == "skips each batch's first row":
                batch = PatchBatch(batch.start + 1, batch.patches[1:])
            if self.defect == "modifies its input":
                batch.patches[:, 0, 0] += 1
            for k, whole in enumerate(batch.patches):
                if batch.start + k not in rows:
                    continue
                patch = whole[start : start + size, start : start + size]
                for ch, (y, x) in enumerate(corners[batch.start + k]):
                    if self.defect == "wraps around the edge":
                        idx = np.ix_((y + np.arange(size)) % height, (x + np.arange(size)) % width)
                        np.add.at(total, idx, patch[..., ch])
                        np.add.at(count, idx, 1)
                        continue
                    if self.defect == "drops edge patches" and (y < 0 or x < 0 or y + size > height or x + size > width):
                        continue
                    y0, y1, x0, x1 = max(y, 0), min(y + size, height), max(x, 0), min(x + size, width)
                    if y0 < y1 and x0 < x1:
                        total[y0:y1, x0:x1] += patch[y0 - y : y1 - y, x0 - x : x1 - x, ch]
                        count[y0:y1, x0:x1] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            obj = total / count if self.defect == "divides 0 by 0" else np.where(count > 0, total / np.maximum(count, 1), 0)
        scale = 1.0 if self.defect == "forgets norm_Y_I" else context.norm_Y_I
        dtype = np.complex128 if self.defect == "returns complex128" else np.complex64
        coverage = count + 0.5 if self.defect == "reports coverage everywhere" else count
        return StitchResult((obj * scale).astype(dtype), coverage.astype(np.float32), self.name)


def test_a_correct_stitcher_passes() -> None:
    check_stitcher(MeanStitcher())


@pytest.mark.parametrize(
    "defect,message",
    [
        ("forgets norm_Y_I", "a constant object must come back constant"),
        ("ignores frame_rows", "rows outside frame_rows"),
        ("wraps around the edge", "true patches must give back the object"),
        ("drops edge patches", "every pixel under a patch must be covered"),
        ("divides 0 by 0", "NaN or infinite"),
        ("centre at N/2", "true patches must give back the object"),
        ("swaps y and x", "true patches must give back the object"),
        ("keeps only the last batch", "coverage is 0 everywhere"),
        ("skips each batch's first row", "coverage differs when the rows arrive in batches"),
        ("reports coverage everywhere", "under no patch of frame_rows are covered"),
        ("modifies its input", "modified the patch arrays"),
        ("returns complex128", "dtype complex128"),
        ("accepts everything", "neither positions nor a grid layout"),
        ("refuses everything", "refuses every check_stitcher case"),
        ("capability raises", "capability raised RuntimeError"),
        ("crop window at (N-M)//2", r"crop of M=7 keeps patch rows and columns 5 \.\. 11"),
    ],
)
def test_each_planted_defect_is_caught(defect: str, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_stitcher(MeanStitcher(defect))


def test_cut_patches_takes_the_window_at_each_corner() -> None:
    obj = (np.arange(30)[:, None] * 100 + np.arange(40)[None, :]).astype(np.complex64)
    patches = cut_patches(obj, np.array([[[2, 3], [0, 0]], [[5, 7], [10, 1]]]), 4)
    assert patches.shape == (2, 4, 4, 2)
    assert patches[0, 0, 0, 0] == 203 and patches[0, 3, 1, 0] == 504
    assert patches[1, 2, 3, 1] == 1204 and patches[1, 0, 0, 0] == 507
    with pytest.raises(ValueError, match="whole numbers"):
        cut_patches(obj, np.array([[0.5, 0]]), 4)
    with pytest.raises(ValueError, match="leaves"):
        cut_patches(obj, np.array([[27, 0]]), 4)


def test_smooth_object_is_seeded_and_bounded() -> None:
    a, b = smooth_object((20, 30), 3), smooth_object((20, 30), 3)
    assert a.shape == (20, 30) and a.dtype == np.complex64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, smooth_object((20, 30), 4))
    assert np.abs(a).min() >= 0.5 - 1e-6 and np.abs(a).max() <= 1.5 + 1e-6
    assert np.abs(np.angle(a)).max() <= 1.5 + 1e-6


@pytest.mark.parametrize("case", oracle_cases(), ids=lambda c: c.name)
def test_every_patch_pixel_lands_on_its_truth_pixel(case) -> None:  # noqa: ANN001
    """The geometry rule, checked on the oracle data itself: patch pixel (a, b) of a frame row
    sits at position - (N-1)/2 + (a, b) and equals the truth there (times norm_Y_I)."""
    ctx = case.context
    n = ctx.N
    checked = 0
    for row in ctx.frame_rows:
        for ch in range(ctx.channels):
            y, x = np.rint(top_left(ctx.positions[row, ch], n)).astype(int)
            for a, b in [(0, 0), (n - 1, n - 1), (3, n - 2), (n // 2, 1)]:
                if 0 <= y + a < ctx.frame_shape[0] and 0 <= x + b < ctx.frame_shape[1]:
                    got = case.patches[row, a, b, ch] * ctx.norm_Y_I
                    assert abs(got - case.truth[y + a, x + b]) < 1e-5
                    assert case.footprint[y + a, x + b]
                    checked += 1
    assert checked > 10


def test_oracle_cases_have_what_the_checks_rely_on() -> None:
    scattered = scattered_case(1)
    assert not scattered.footprint.all() and scattered.footprint.any()  # holes to check zeros in
    assert scattered.context.frame_shape[0] != scattered.context.frame_shape[1]  # catches swapped axes
    corners = top_left(scattered.context.positions, scattered.context.N)
    assert corners.min() < 0 and (corners[..., 0].max() + 16 > 36)  # straddles both ends
    grid = grid_case(2)
    assert grid.context.norm_Y_I != 1 and grid.context.frame_rows.start > 0
    assert grid.context.frame_rows.stop < grid.context.n_rows
    assert grid.patches.shape == (grid.context.n_rows, 16, 16, 4)
    rows = grid.context.frame_rows
    others = np.delete(grid.patches, np.r_[rows], axis=0)
    assert not np.allclose(others[: len(rows)], grid.patches[rows.start : rows.stop])  # leaks would show


def test_batches_stream_every_row_once_in_order() -> None:
    case = scattered_case(1)
    starts, rows = [], []
    for batch in case.batches(sizes=(1, 5, 2)):
        starts.append(batch.start)
        rows.append(batch.patches)
    assert starts[:4] == [0, 1, 6, 8]
    np.testing.assert_array_equal(np.concatenate(rows), case.patches)
