"""``python -m torch.distributed.run --nproc-per-node 2 -m ptychostitch evaluate``: the one-process result, and bad input ends both ranks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.cli import main
from ptychostitch.testing.files import write_grid_file, write_predictions, write_scattered_file, zero_border


@pytest.mark.parametrize("kind", ["grid1", "grid2", "scattered"])
def test_two_ranks_equal_one_process(tmp_path: Path, kind: str, torchrun) -> None:  # noqa: ANN001
    if kind == "scattered":
        written = write_scattered_file(tmp_path / "test.npz")
    else:
        written = write_grid_file(tmp_path / "test.npz", gridsize=int(kind[-1]))
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    crop = str(written.true_patches.shape[1])  # the whole patch: the scattered file's frame is too small for SSIM after a default crop
    common = ["--test-npz", str(written.path), "--predictions", str(pred), "-q", "--stitcher", "torch-mmap", "--crop", crop]
    assert main(["evaluate", *common, "--output-dir", str(tmp_path / "one")]) == 0
    done = torchrun("evaluate", *common, "--output-dir", str(tmp_path / "two"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(tmp_path / "one" / "stitched.npz") as one, np.load(tmp_path / "two" / "stitched.npz") as two:
        scale = np.abs(one["object"]).max()
        assert np.abs(two["object"] - one["object"]).max() <= 1e-6 * scale
        np.testing.assert_allclose(two["coverage"], one["coverage"], rtol=1e-6)
    record = json.loads((tmp_path / "two" / "evaluate.json").read_text())
    assert record["distributed"]["world_size"] == 2
    assert list(record["timings_s"]) == ["load+stitch", "score", "artifacts"]
    one_patch, two_patch = (json.loads((tmp_path / name / "metrics.json").read_text())["patch"] for name in ("one", "two"))
    assert one_patch is not None and two_patch is not None
    for key in ("mae_amp", "mse_amp", "mae_phase", "mse_phase"):
        assert two_patch[key] == pytest.approx(one_patch[key], rel=1e-12, abs=1e-15)
    one_pred, two_pred = (json.loads((tmp_path / name / "metrics.json").read_text())["predictions"] for name in ("one", "two"))
    assert two_pred == one_pred and one_pred["patches"] > 0  # merged exactly, every field


@pytest.mark.parametrize("halves, warning", [((0.5, 0.25), None), ((0.5, 0.5), "has one value"), ("border", "exactly 0, which pulls")])
def test_prediction_warnings_see_every_rank(tmp_path: Path, torchrun, halves, warning: str | None) -> None:  # noqa: ANN001
    """Each rank holds half of the one object's rows; alone each half looks constant, only the merged statistics tell."""
    written = write_scattered_file(tmp_path / "test.npz")
    patches = zero_border(written.true_patches) if halves == "border" else np.empty_like(written.true_patches)
    if halves != "border":
        rows = len(patches)
        patches[: rows // 2], patches[rows // 2 :] = halves
    pred = write_predictions(tmp_path / "pred.npz", patches)
    common = ["--test-npz", str(written.path), "--predictions", str(pred), "--stitcher", "torch-mmap", "--crop", str(patches.shape[1])]
    done = torchrun("evaluate", *common, "--output-dir", str(tmp_path / "two"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    section = json.loads((tmp_path / "two" / "metrics.json").read_text())["predictions"]
    assert section["constant"] is (halves == (0.5, 0.5))
    found = [line for line in done.stderr.splitlines() if "WARNING" in line and ("predicted" in line)]
    assert (found == []) if warning is None else (len(found) == 1 and warning in found[0])  # rank 0 alone warns


def test_bad_input_ends_both_ranks_with_its_reason(tmp_path: Path, torchrun) -> None:  # noqa: ANN001
    written = write_grid_file(tmp_path / "test.npz", gridsize=1)
    wrong = np.zeros((3, *written.true_patches.shape[1:]), np.complex64)
    pred = write_predictions(tmp_path / "pred.npz", wrong)
    done = torchrun("evaluate", "--test-npz", str(written.path), "--predictions", str(pred), "--output-dir", str(tmp_path / "o"), "-q", cwd=tmp_path)
    assert done.returncode != 0
    assert "patches" in done.stderr and str(pred) in done.stderr
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_a_failure_on_rank_1_alone_ends_rank_0_with_its_reason(tmp_path: Path, torchrun) -> None:  # noqa: ANN001
    written = write_grid_file(tmp_path / "test.npz", gridsize=1)
    patches = written.true_patches.copy()
    patches[-1] = np.nan  # the last row is rank 1's: rank 0's rows are clean
    pred = write_predictions(tmp_path / "pred.npz", patches)
    done = torchrun("evaluate", "--test-npz", str(written.path), "--predictions", str(pred), "--output-dir", str(tmp_path / "o"), "-q",
                    "--stitcher", "torch-mmap", cwd=tmp_path)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("ptychostitch evaluate: error: ")]
    assert len(lines) == 2 and all("expected finite values" in line and f"'{pred}'" in line for line in lines)
    assert any(line.startswith("ptychostitch evaluate: error: rank 1: ") for line in lines)  # rank 0 names the rank that failed
    assert not (tmp_path / "o" / "metrics.json").exists()
