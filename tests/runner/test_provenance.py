"""Provenance records (``run.json``, ``evaluate.json``): inputs by size and SHA-256, options, versions, plugins, timings."""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import json
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from ptychostitch import __version__
from ptychostitch.runner import provenance
from ptychostitch.runner.run import RunConfig, run
from ptychostitch.simulate import simulate
from ptychostitch.testing.files import write_grid_file, write_predictions
from tests.runner.test_runner import TINY
from tests.stitchers.test_plugins import plugin_module

KEYS = {"command", "argv", "cwd", "created_utc", "inputs", "options", "stitcher", "versions", "plugins", "timings_s"}


def independent_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_sha256_streams_files_larger_than_one_chunk(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(np.random.default_rng(0).bytes(int(2.5 * provenance.CHUNK_BYTES) + 7))
    assert provenance.sha256(path) == independent_digest(path)
    record = provenance.input_record(path, "/elsewhere/big.bin")
    assert record == {"path": "/elsewhere/big.bin", "size_bytes": os.path.getsize(path), "sha256": independent_digest(path)}


def test_evaluate_writes_provenance_before_metrics(
    tmp_path: Path, install: Callable[..., None], monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    install("fake-good", {"good": "fake_good"}, {"fake_good": plugin_module(("good-one", 1000, False))})
    written = write_grid_file(tmp_path / "test.npz")
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    out = tmp_path / "out"
    argv = ["ptychostitch", "evaluate", "--test-npz", str(written.path), "--predictions", str(pred), "--output-dir", str(out), "-q"]
    monkeypatch.setattr(sys, "argv", argv)
    status, _, err = run_cli(*argv[1:])
    assert status == 0, err
    record = json.loads((out / "evaluate.json").read_text())
    assert set(record) == KEYS
    assert record["command"] == "evaluate" and record["argv"] == argv and record["cwd"] == os.getcwd()
    for role, path in (("test_npz", written.path), ("predictions", pred)):
        assert record["inputs"][role] == {"path": str(path), "size_bytes": os.path.getsize(path), "sha256": independent_digest(path)}
    assert set(record["inputs"]) == {"test_npz", "predictions"}
    assert record["options"]["stitch"] == {"weighting": "probe", "crop": 8, "device": "cpu"}  # N=16 with a probe: N//2, |probe|^2
    assert record["options"]["stitcher"] == "auto" and record["options"]["batch_size"] > 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert record["stitcher"] == metrics["stitcher"]
    assert record["stitcher"]["rejected"]["good-one"] == "good-one refuses: fake reason"
    assert record["versions"] == {
        "python": ".".join(map(str, sys.version_info[:3])), "ptychostitch": __version__, "numpy": np.__version__,
        "torch": torch.__version__, "tensorflow": installed("tensorflow") or installed("tensorflow-cpu"), "numba": installed("numba"),
    }
    plugins = {p["entry_point"]: p for p in record["plugins"]}
    assert plugins["good"] == {"entry_point": "good", "distribution": "fake-good", "version": "1.0", "stitchers": ["good-one"]}
    assert plugins["tf-style"]["distribution"] == "ptychostitch"
    assert set(record["timings_s"]) == {"load", "stitch+score", "artifacts"}
    assert all(seconds >= 0 for seconds in record["timings_s"].values())
    manifest = json.loads((out / ".ptychostitch-files.json").read_text())["files"]
    assert "evaluate.json" in manifest and manifest[-1] == "metrics.json"


def test_run_json_starts_with_the_same_provenance_and_compares(tmp_path: Path, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    paths = simulate(TINY, tmp_path / "data")
    out = tmp_path / "run"
    run(RunConfig(output_dir=out, train_npz=paths.train, test_npz=paths.test, epochs=1, infer_batch_size=50, loss="mae"))
    record = json.loads((out / "run.json").read_text())
    assert KEYS <= set(record) and record["command"] == "run"
    assert set(record["inputs"]) == {"train_npz", "test_npz"}
    for role, path in (("train_npz", paths.train), ("test_npz", paths.test)):
        assert record["inputs"][role] == {"path": str(path), "size_bytes": os.path.getsize(path), "sha256": independent_digest(path)}
    options = record["options"]
    assert (options["model"], options["loss"], options["epochs"], options["device"]) == ("reference", "mae", 1, "cpu")
    assert options["stitch"] == {"weighting": "probe", "crop": 8, "device": "cpu"}
    assert record["stitcher"] == json.loads((out / "metrics.json").read_text())["stitcher"]
    assert {"load", "train", "predict+stitch", "artifacts"} <= set(record["timings_s"])
    assert any(p["distribution"] == "ptychostitch" for p in record["plugins"])
    scored = tmp_path / "scored"
    assert run_cli("score", "--test-npz", str(paths.test), "--object", str(out / "stitched.npz"), "--output-dir", str(scored), "-q")[0] == 0
    status, _, err = run_cli("compare", str(out), str(scored), "--output-dir", str(tmp_path / "cmp"), "-q")
    assert status == 0, err
    with open(tmp_path / "cmp" / "comparison.csv", newline="") as fh:
        run_row, score_row = csv.DictReader(fh)
    assert (run_row["command"], run_row["model"], run_row["loss"], run_row["epochs"]) == ("run", "reference", "mae", "1")
    assert float(run_row["training_s"]) == record["timings_s"]["train"]
    assert run_row["sha256_train_npz"] == independent_digest(paths.train) and score_row["sha256_train_npz"] == ""
    assert run_row["ssim_amp"] == score_row["ssim_amp"] != ""
