"""``python -m torch.distributed.run --nproc-per-node 2 -m ptychostitch evaluate``: the one-process result, and bad input ends both ranks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.cli import main
from ptychostitch.testing.files import write_grid_file, write_predictions, write_scattered_file

TIMEOUT_S = 240


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PTYCHOSTITCH_DIST_TIMEOUT": "60", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "ptychostitch", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


@pytest.mark.parametrize("kind", ["grid1", "grid2", "scattered"])
def test_two_ranks_equal_one_process(tmp_path: Path, kind: str) -> None:
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
    assert '"world_size": 2' in (tmp_path / "two" / "evaluate.json").read_text()


def test_bad_input_ends_both_ranks_with_its_reason(tmp_path: Path) -> None:
    written = write_grid_file(tmp_path / "test.npz", gridsize=1)
    wrong = np.zeros((3, *written.true_patches.shape[1:]), np.complex64)
    pred = write_predictions(tmp_path / "pred.npz", wrong)
    done = torchrun("evaluate", "--test-npz", str(written.path), "--predictions", str(pred), "--output-dir", str(tmp_path / "o"), "-q", cwd=tmp_path)
    assert done.returncode != 0
    assert "patches" in done.stderr and str(pred) in done.stderr
    assert not (tmp_path / "o" / "metrics.json").exists()
