"""Checkpoints during training, resuming bit for bit, Ctrl-C leaving a resumable folder, and the validation band."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ptychostitch.cli import main
from ptychostitch.data import load_gridlines
from ptychostitch.data.gridlines import train_row_positions
from ptychostitch.runner import run as pipeline
from ptychostitch.runner.resume import BEST, LAST
from ptychostitch.runner.run import RunConfig, run
from ptychostitch.runner.validation import split_rows
from ptychostitch.simulate import SimulationConfig, simulate

TINY = SimulationConfig(N=16, gridsize=1, size=64, outer_offset_train=4, outer_offset_test=8, nimgs_train=1, nimgs_test=1, set_phi=True, seed=0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    paths = simulate(TINY, tmp_path_factory.mktemp("tiny"))
    return paths.train, paths.test


def config(tiny: tuple[Path, Path], out: Path, **changes: object) -> RunConfig:
    return dataclasses.replace(
        RunConfig(output_dir=out, train_npz=tiny[0], test_npz=tiny[1], epochs=3, batch_size=64, infer_batch_size=50), **changes
    )


def test_a_run_stopped_after_epoch_1_and_resumed_equals_an_uninterrupted_run(
    tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole_dir, document = run(config(tiny, tmp_path / "whole"))
    real = pipeline.checkpoint_writer

    def stop_after_first(*args: object):
        write = real(*args)

        def hook(record, state) -> None:
            write(record, state)
            raise KeyboardInterrupt

        return hook

    monkeypatch.setattr(pipeline, "checkpoint_writer", stop_after_first)
    with pytest.raises(KeyboardInterrupt) as stopped:
        run(config(tiny, tmp_path / "part"))
    assert getattr(stopped.value, "epoch", None) == 1
    part = tmp_path / "part"
    assert (part / LAST).is_file() and not (part / "metrics.json").exists()
    monkeypatch.setattr(pipeline, "checkpoint_writer", real)
    folder, resumed_document = run(RunConfig(resume=part, epochs=None))  # type: ignore[arg-type]
    assert folder == part
    assert resumed_document["stitched"] == document["stitched"]
    with np.load(whole_dir / "stitched.npz") as a, np.load(part / "stitched.npz") as b:
        np.testing.assert_array_equal(a["object"], b["object"])
    runs = [json.loads((d / "run.json").read_text())["training"] for d in (whole_dir, part)]
    assert [r["loss"] for r in runs[0]] == [r["loss"] for r in runs[1]] and len(runs[0]) == 3
    assert all(r["val_loss"] is not None and np.isfinite(r["val_loss"]) for r in runs[0])
    a, b = (torch.load(d / LAST, weights_only=True)["state_dict"] for d in (whole_dir, part))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (whole_dir / "loss.png").stat().st_size > 0
    best = torch.load(whole_dir / BEST, weights_only=True)["info"]
    assert best["val_loss"] == min(r["val_loss"] for r in runs[0])


def _cut_positions(train: Path) -> np.ndarray:
    """Each train row's window corner, found independently: where its Y_phi patch is cut from YY_full."""
    with np.load(train) as f:
        phase, full = f["Y_phi"][..., 0], np.angle(f["YY_full"][0, ..., 0])
    n, side = phase.shape[1], full.shape[0]
    corners = [(r, c) for r in range(side - n + 1) for c in range(side - n + 1)]
    windows = np.stack([full[r : r + n, c : c + n] for r, c in corners])
    found = np.empty((len(phase), 2))
    for t, patch in enumerate(phase):
        error = np.abs(windows - patch).max(axis=(1, 2))
        best = int(error.argmin())
        assert error[best] < 1e-5, f"train row {t} is not a window of YY_full"
        found[t] = corners[best]
    return found


def test_validation_rows_are_a_band_spatially_disjoint_from_training_rows(tiny: tuple[Path, Path]) -> None:
    train = load_gridlines(tiny[0], split="train")
    corners = _cut_positions(tiny[0])
    np.testing.assert_array_equal(train_row_positions(train)[:, 0] - (train.N - 1) / 2, corners)
    split = split_rows(train, 0.2, seed=3)
    assert len(split.validation) > 0 and len(split.train) > 0
    assert not set(split.train) & set(split.validation)
    n = train.N
    for v in split.validation:
        dy = np.abs(corners[split.train, 0] - corners[v, 0])
        dx = np.abs(corners[split.train, 1] - corners[v, 1])
        assert not np.any((dy < n) & (dx < n)), "a training patch overlaps a validation patch"
    lines = np.unique(corners[:, 0])
    held = np.unique(corners[split.validation, 0])
    count = round(0.2 * len(lines))
    assert len(held) == count and 0.1 < len(split.validation) / len(corners) < 0.3
    assert set(held) in (set(lines[:count]), set(lines[-count:])), "the band is the first or the last scan lines"
    np.testing.assert_array_equal(split_rows(train, 0.2, seed=3).validation, split.validation)
    edges = {tuple(split_rows(train, 0.2, seed=s).validation[:1]) for s in range(8)}
    assert len(edges) == 2, "the seed picks the top or the bottom band"


def test_a_train_split_without_a_train_grid_trains_on_every_row_with_a_warning(
    tiny: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    train = load_gridlines(tiny[0], split="train")
    extra = {k: v for k, v in train.metadata["additional_parameters"].items() if k != "outer_offset_train"}
    bare = dataclasses.replace(train, metadata={**train.metadata, "additional_parameters": extra})
    split = split_rows(bare, 0.2, seed=3)
    assert len(split.train) == train.n_rows and len(split.validation) == 0
    assert "records no train grid" in caplog.text


def test_ctrl_c_during_training_leaves_a_resumable_folder(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ptychostitch", "run", "--train-npz", str(tiny[0]), "--test-npz", str(tiny[1]),
               "--output-dir", str(out), "--epochs", "500", "--batch-size", "64"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    staged = out / ".ptychostitch-staging" / LAST
    deadline = time.monotonic() + 240
    while not staged.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert "--resume" in err and (out / LAST).is_file() and not (out / "metrics.json").exists()
    epoch = torch.load(out / LAST, weights_only=True)["info"]["epoch"]
    assert main(["run", "--resume", str(out), "--epochs", str(epoch + 1)]) == 0
    training = json.loads((out / "run.json").read_text())["training"]
    assert len(training) == epoch + 1 and (out / "metrics.json").is_file()
