"""Oracle tests for the tf-style grid stitcher: true patches cut from a known object come back."""

import numpy as np
import pytest

from ptychostitch.geometry import GridLayout
from ptychostitch.stitchers import PatchBatch, StitchContext, StitchOptions
from ptychostitch.stitchers.tf_style import TfStyleStitcher
from ptychostitch.testing.files import grid_patches, smooth_object


@pytest.mark.parametrize(
    "n,gridsize,outer_offset,size",
    [(64, 1, 20, 392), (64, 2, 20, 392), (32, 1, 12, 150), (32, 2, 12, 150), (24, 2, 8, 100), (128, 1, 20, 300)],
)
def test_true_patches_reproduce_ground_truth(n: int, gridsize: int, outer_offset: int, size: int) -> None:
    grid = GridLayout(size=size, N=n, gridsize=gridsize, offset=4, outer_offset=outer_offset, nimgs=2)
    objects = np.stack([smooth_object(size, 1), smooth_object(size, 2)])
    norm = 1.7
    patches = grid_patches(objects, grid) / norm
    o = grid.gt_origin
    truth = objects[0, o : o + grid.gt_side, o : o + grid.gt_side]
    ctx = StitchContext(
        N=n, gridsize=gridsize, n_rows=grid.n_rows, frame_shape=grid.gt_shape,
        frame_rows=range(0, grid.rows_per_object), grid=grid, norm_Y_I=norm,
    )
    stitcher = TfStyleStitcher()
    assert stitcher.capability(ctx).ok
    batches = (PatchBatch(start, patches[start : start + 37]) for start in range(0, grid.n_rows, 37))
    result = stitcher.stitch(ctx, batches)
    assert result.object.shape == truth.shape
    assert result.object.dtype == np.complex64
    np.testing.assert_allclose(result.object, truth, rtol=2e-7, atol=1e-6)
    assert np.all(result.coverage == gridsize**2)


def test_refuses_a_crop_its_tiles_leave_and_wrong_row_count() -> None:
    grid = GridLayout(size=150, N=32, gridsize=1, offset=4, outer_offset=12, nimgs=1)
    base = dict(N=32, gridsize=1, frame_shape=grid.gt_shape, frame_rows=range(grid.n_rows), grid=grid)
    assert not TfStyleStitcher().capability(StitchContext(n_rows=grid.n_rows + 1, **base)).ok
    assert TfStyleStitcher().capability(StitchContext(n_rows=grid.n_rows, options=StitchOptions(weighting="probe", crop=16), **base)).ok
    verdict = TfStyleStitcher().capability(StitchContext(n_rows=grid.n_rows, options=StitchOptions(crop=4), **base))
    assert not verdict.ok and "outside the kept crop" in verdict.reason
    assert "grid" in TfStyleStitcher().capability(StitchContext(n_rows=4, N=32, gridsize=1, frame_shape=(10, 10), frame_rows=range(4))).reason
