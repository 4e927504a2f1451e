"""torch-mmap and tf-shift-sum implement one placement rule: on the same stream they must agree.

Random (not true) patches make the comparison bite everywhere: any difference in where a pixel
lands, in its bilinear weights, in the crop or in the normalisation shows up.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ptychostitch.stitchers import StitchOptions
from ptychostitch.stitchers.tf_shift_sum import TfShiftSumStitcher
from ptychostitch.stitchers.torch_mmap import TorchMmapStitcher
from ptychostitch.testing import OracleCase, grid_case, scattered_case


def _subpixel(case: OracleCase, seed: int) -> OracleCase:
    rng = np.random.default_rng(seed)
    positions = case.context.positions + rng.uniform(-0.5, 0.5, size=case.context.positions.shape)
    return dataclasses.replace(case, context=dataclasses.replace(case.context, positions=positions))


@pytest.mark.parametrize("gridsize", [1, 2])
@pytest.mark.parametrize("crop", [None, 10])
@pytest.mark.parametrize("layout", ["grid", "scattered", "scattered-subpixel"])
def test_torch_mmap_and_tf_shift_sum_agree(gridsize: int, crop: int | None, layout: str) -> None:
    options = StitchOptions(crop=crop)
    case = grid_case(gridsize, options) if layout == "grid" else scattered_case(gridsize, options)
    if layout == "scattered-subpixel":
        case = _subpixel(case, seed=gridsize)
    rng = np.random.default_rng(7)
    shape = case.patches.shape
    patches = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    results = []
    for stitcher in (TorchMmapStitcher(), TfShiftSumStitcher()):
        assert stitcher.capability(case.context).ok
        results.append(stitcher.stitch(case.context, case.batches(patches, sizes=(3, 7))))
    torch_result, tf_result = results
    covered = torch_result.coverage > 0
    assert covered.sum() > 100
    np.testing.assert_array_equal(covered, tf_result.coverage > 0)
    np.testing.assert_allclose(torch_result.coverage, tf_result.coverage, rtol=1e-5, atol=1e-6)
    scale = np.max(np.abs(torch_result.object))
    np.testing.assert_allclose(torch_result.object, tf_result.object, rtol=1e-5, atol=1e-5 * scale)
