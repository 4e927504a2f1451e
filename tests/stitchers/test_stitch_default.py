"""The one stitching default of ``run`` and ``evaluate``: PtychoPINN-style output (zero outside the central N/2) stitches back.

A PtychoPINN-style decoder predicts only the central ``N/2 x N/2`` of each patch (0 elsewhere);
the best it can do is the true patch zeroed outside that centre. Under the default (central
``N//2`` crop, ``|probe|**2`` weights where the file has a probe) such patches, and full true
patches, must stitch back to the ground truth wherever the kept centres cover, for every
built-in stitcher and the example plugin, with a Gaussian and with PtychoPINN's ideal-disk probe.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.cli import main
from ptychostitch.data import load_gridlines, read_predictions
from ptychostitch.runner.context import plan_stitch, stitch_context
from ptychostitch.runner.defaults import EvaluateConfig, RunConfig
from ptychostitch.runner.scoring import stitch_and_score
from ptychostitch.simulate.probe import ideal_disk
from ptychostitch.testing.files import GridFile, gaussian_probe, write_grid_file, write_npz, write_predictions, zero_border

STITCHERS = ("torch-mmap", "tf-shift-sum", "tf-style", "median")
PROBES = {"gaussian": gaussian_probe, "disk": ideal_disk}



def grid_with_probe(path: Path, probe: str) -> GridFile:
    written = write_grid_file(path, N=16, size=64, offset=4, outer_offset=8)
    written.arrays["probeGuess"] = PROBES[probe](16)
    write_npz(path, written.arrays)
    return written


def test_run_and_evaluate_share_the_default_and_it_is_the_central_half_crop_with_probe_weights(tmp_path: Path) -> None:
    written = grid_with_probe(tmp_path / "test.npz", "disk")
    dataset = load_gridlines(written.path)
    run_default = plan_stitch(dataset, RunConfig().stitch).context.options
    evaluate_default = plan_stitch(dataset, EvaluateConfig(Path("t"), Path("p"), Path("o")).stitch).context.options
    assert run_default == evaluate_default == stitch_context(dataset).options
    assert (run_default.weighting, run_default.crop) == ("probe", 8)
    del written.arrays["probeGuess"]
    write_npz(written.path, written.arrays)
    assert stitch_context(load_gridlines(written.path)).options.weighting == "uniform"


@pytest.mark.parametrize("probe", sorted(PROBES))
@pytest.mark.parametrize("stitcher", STITCHERS)
def test_zero_border_patches_stitch_back_under_evaluate_defaults(tmp_path: Path, stitcher: str, probe: str) -> None:
    written = grid_with_probe(tmp_path / "test.npz", probe)
    for name, patches in {"zero-border": zero_border(written.true_patches), "full": written.true_patches}.items():
        out = tmp_path / name
        pred = write_predictions(tmp_path / f"{name}.npz", patches)
        assert main(["evaluate", "--test-npz", str(written.path), "--predictions", str(pred), "--output-dir", str(out), "-q", "--stitcher", stitcher]) == 0
        with np.load(out / "stitched.npz") as stitched:
            obj, coverage = stitched["object"], stitched["coverage"]
        covered = coverage > 0
        assert covered.mean() > 0.95, (name, covered.mean())
        np.testing.assert_allclose(obj[covered], written.ground_truth[covered], rtol=1e-4, atol=1e-4, err_msg=name)
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["stitch"] == {"weighting": "probe", "crop": 8, "device": "cpu"}
        assert min(metrics["stitched"]["ssim"]) > 0.999, (name, metrics["stitched"]["ssim"])


@pytest.mark.parametrize("probe", sorted(PROBES))
@pytest.mark.parametrize("stitcher", STITCHERS)
def test_zero_border_patches_stitch_back_under_run_defaults(tmp_path: Path, stitcher: str, probe: str) -> None:
    written = grid_with_probe(tmp_path / "test.npz", probe)
    write_predictions(tmp_path / "pred.npz", zero_border(written.true_patches))
    dataset = load_gridlines(written.path)
    plan = plan_stitch(dataset, RunConfig().stitch, stitcher)
    scores = stitch_and_score(dataset, plan.context, plan.selection, read_predictions(tmp_path / "pred.npz", dataset, batch_size=7))
    covered = scores.result.coverage > 0
    assert scores.result.stitcher == stitcher and covered.mean() > 0.95
    np.testing.assert_allclose(scores.result.object[covered], written.ground_truth[covered], rtol=1e-4, atol=1e-4)


def test_uniform_whole_patch_is_what_the_default_avoids(tmp_path: Path) -> None:
    """The old evaluate default (uniform weights over the whole patch) averages the zero border in: the object shrinks."""
    written = grid_with_probe(tmp_path / "test.npz", "gaussian")
    pred = write_predictions(tmp_path / "pred.npz", zero_border(written.true_patches))
    out = tmp_path / "out"
    assert main(["evaluate", "--test-npz", str(written.path), "--predictions", str(pred), "--output-dir", str(out), "-q",
                 "--stitch-weighting", "uniform", "--crop", "16"]) == 0
    with np.load(out / "stitched.npz") as stitched:
        ratio = np.abs(stitched["object"]).mean() / np.abs(written.ground_truth).mean()
    assert ratio < 0.5


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
