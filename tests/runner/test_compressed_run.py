"""``run`` on PtychoPINN's compressed files trains on the same rows, and so ends with the same numbers, as on stored ones."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.data import inflated
from ptychostitch.runner.run import RunConfig, run
from ptychostitch.simulate import SimulationConfig, simulate

TINY = SimulationConfig(N=16, gridsize=1, size=64, outer_offset_train=4, outer_offset_test=8, nimgs_train=1, nimgs_test=1, set_phi=True, seed=0)


def savez_compressed_copy(path: Path, target: Path) -> Path:
    """``path`` rewritten by ``np.savez_compressed``, PtychoPINN's writer."""
    with np.load(path, allow_pickle=False) as data:
        np.savez_compressed(target, **{key: data[key] for key in data.files})
    return target


def test_a_run_on_compressed_files_equals_the_run_on_stored_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stored = simulate(TINY, tmp_path / "stored")
    packed = [savez_compressed_copy(path, tmp_path / f"{path.stem}-compressed.npz") for path in (stored.train, stored.test)]
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(cache))
    monkeypatch.setattr(inflated, "IN_MEMORY_BYTES", 0)  # the temporary-file cache, as for a full-size train split
    caplog.set_level(logging.INFO, logger="ptychostitch.data.inflated")
    common = dict(epochs=2, batch_size=16, infer_batch_size=50, device="cpu")
    plain_dir, plain = run(RunConfig(train_npz=stored.train, test_npz=stored.test, output_dir=tmp_path / "plain", **common))
    assert "decompressed once" not in caplog.text
    packed_dir, compressed = run(RunConfig(train_npz=packed[0], test_npz=packed[1], output_dir=tmp_path / "packed", **common))
    assert f"{str(packed[0])!r}: key 'diffraction': decompressed once" in caplog.text
    assert compressed["stitched"] == plain["stitched"] and compressed["patch"] == plain["patch"]
    losses = [[epoch["loss"] for epoch in json.loads((folder / "run.json").read_text())["training"]] for folder in (plain_dir, packed_dir)]
    assert losses[0] == losses[1] and len(losses[0]) == 2
    assert not [path for path in cache.rglob("*") if path.name.startswith("ptychostitch")]  # torch keeps its own folder there
