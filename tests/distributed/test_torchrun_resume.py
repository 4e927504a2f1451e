"""``torchrun --nproc-per-node 2 -m ptychostitch run --resume DIR``: a one-process run stopped after epoch 1, resumed under 2 ranks, is the uninterrupted one-process run.

Rank 0 resumes the training from ``DIR/checkpoints/last.pt`` alone (one thread, as the
one-process runs), so the models are the same and the stitched objects may differ only by the
order of the canvas sums: within 1e-6 of the largest value.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.simulate import SimulationConfig, simulate

TINY = SimulationConfig(N=16, gridsize=1, size=64, outer_offset_train=4, outer_offset_test=8, nimgs_train=1, nimgs_test=1, set_phi=True, seed=0)


def test_a_run_stopped_after_epoch_1_resumed_under_two_ranks_equals_the_uninterrupted_run(
    tmp_path: Path, torchrun, one_process, one_process_stopped  # noqa: ANN001
) -> None:
    paths = simulate(TINY, tmp_path / "data")
    common = ["run", "-q", "--train-npz", str(paths.train), "--test-npz", str(paths.test), "--epochs", "2", "--infer-batch-size", "16",
              "--batch-size", "64", "--stitcher", "torch-mmap", "--crop", "16"]
    whole = one_process(*common, "--output-dir", str(tmp_path / "whole"), cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    stopped = one_process_stopped(*common, "--output-dir", str(tmp_path / "part"), cwd=tmp_path)
    assert stopped.returncode == 130, stopped.stderr[-3000:]
    assert "stopped after epoch 1" in stopped.stderr and not (tmp_path / "part" / "metrics.json").exists()

    resumed = torchrun("run", "-q", "--resume", str(tmp_path / "part"), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with np.load(tmp_path / "whole" / "stitched.npz") as a, np.load(tmp_path / "part" / "stitched.npz") as b:
        assert np.abs(b["object"] - a["object"]).max() <= 1e-6 * np.abs(a["object"]).max()
    runs = [json.loads((tmp_path / name / "run.json").read_text()) for name in ("whole", "part")]
    assert [epoch["loss"] for epoch in runs[1]["training"]] == [epoch["loss"] for epoch in runs[0]["training"]]
    assert len(runs[1]["training"]) == 2 and runs[1]["distributed"]["world_size"] == 2
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("whole", "part")]
    for key, value in metrics[0]["patch"].items():
        assert metrics[1]["patch"][key] == pytest.approx(value, rel=1e-12, abs=1e-15)
    for key in ("ssim", "psnr", "mae"):
        assert metrics[1]["stitched"][key] == pytest.approx(metrics[0]["stitched"][key], rel=1e-5, abs=1e-6)
