"""A checkpoint written by ``ptychostitch run --epochs K`` loads with ``--checkpoint`` (only plain types inside)."""

from __future__ import annotations

from pathlib import Path

import torch

from ptychostitch.cli import main
from ptychostitch.simulate import SimulationConfig, simulate

TINY = SimulationConfig(N=16, gridsize=1, size=64, outer_offset_train=4, outer_offset_test=8, nimgs_train=1, nimgs_test=1, set_phi=True, seed=0)


def test_a_run_checkpoint_is_reused_with_epochs_0(tmp_path: Path) -> None:
    paths = simulate(TINY, tmp_path / "data")
    data = ["--train-npz", str(paths.train), "--test-npz", str(paths.test), "-q", "--no-save-predictions"]
    assert main(["run", *data, "--epochs", "1", "--output-dir", str(tmp_path / "a")]) == 0
    checkpoint = tmp_path / "a" / "checkpoint.pt"
    info = torch.load(checkpoint, map_location="cpu", weights_only=True)["info"]
    assert type(info["epochs"]) is int and info["epochs"] == 1
    assert main(["run", *data, "--checkpoint", str(checkpoint), "--epochs", "0", "--output-dir", str(tmp_path / "b")]) == 0
