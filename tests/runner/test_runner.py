"""``ptychostitch run`` end to end on a tiny simulated dataset: artifacts, stitcher choice, bad input.

The two tests PtychoPINN's torch grid-lines runner design asks for are here: a mocked torch-mmap
stitch that returns an object of the right shape yields a ``metrics.json`` with ``stitched`` and
``patch``; and a dataset without positions falls back to tf-style, saying so in ``metrics.json``
and the log.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from ptychostitch.cli import main
from ptychostitch.data import load_gridlines
from ptychostitch.runner import result_folder
from ptychostitch.runner import run as pipeline
from ptychostitch.runner.defaults import StitchChoice
from ptychostitch.runner.run import RunConfig, run
from ptychostitch.simulate import SimulationConfig, simulate
from ptychostitch.stitchers import StitchResult
from ptychostitch.stitchers.torch_mmap import TorchMmapStitcher

TINY = SimulationConfig(N=16, gridsize=1, size=64, outer_offset_train=4, outer_offset_test=8, nimgs_train=1, nimgs_test=1, set_phi=True, seed=0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    paths = simulate(TINY, tmp_path_factory.mktemp("tiny"))
    return paths.train, paths.test


def tiny_config(tiny: tuple[Path, Path], out: Path, **changes: object) -> RunConfig:
    train, test = tiny
    return dataclasses.replace(RunConfig(output_dir=out, train_npz=train, test_npz=test, epochs=1, infer_batch_size=50), **changes)


def test_mocked_torch_stitch_gives_stitched_and_patch_metrics(tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    truth = load_gridlines(tiny[1]).YY_ground_truth
    seen: list[int] = []

    def fake_stitch(self: TorchMmapStitcher, context, batches) -> StitchResult:  # noqa: ANN001
        seen.extend(len(b.patches) for b in batches)
        return StitchResult(truth.copy(), np.ones(truth.shape, np.float32), self.name)

    monkeypatch.setattr(TorchMmapStitcher, "stitch", fake_stitch)
    _, document = run(tiny_config(tiny, tmp_path / "out"))
    out = tmp_path / "out"
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(document))
    assert on_disk["stitcher"]["name"] == "torch-mmap" and on_disk["stitcher"]["fallback"] is False
    assert on_disk["stitched"]["ssim"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert set(on_disk["patch"]) == {"mae_amp", "mse_amp", "mae_phase", "mse_phase"}
    assert sum(seen) == load_gridlines(tiny[1]).n_rows
    with np.load(out / "tmp" / "torch_reassembly" / "reassembly_test.npz", allow_pickle=False) as f:
        assert set(f.files) == {"diffraction", "xcoords", "ycoords", "probeGuess", "objectGuess"}
        assert f["diffraction"].shape == (sum(seen), 16, 16) and f["xcoords"].shape == (sum(seen),)
        np.testing.assert_array_equal(f["objectGuess"], truth)
    run_json = json.loads((out / "run.json").read_text())
    assert set(run_json["timings_s"]) == {"load", "train", "predict+stitch", "artifacts"}
    assert run_json["stitcher"]["name"] == "torch-mmap"
    for name in ("stitched.npz", "comparison.png", "frc.png", "checkpoint.pt"):
        assert (out / name).stat().st_size > 0


def test_missing_positions_fall_back_to_tf_style(tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def without_positions(path: Path, **kw: object):  # noqa: ANN202
        return dataclasses.replace(load_gridlines(path, **kw), positions=None)

    monkeypatch.setattr(pipeline, "load_gridlines", without_positions)
    with caplog.at_level(logging.WARNING):
        _, document = run(tiny_config(tiny, tmp_path / "out", stitch=StitchChoice(weighting="uniform")))
    section = document["stitcher"]
    assert section["name"] == "tf-style" and section["fallback"] is True and section["requested"] == "auto"
    assert "positions" in section["rejected"]["torch-mmap"]
    assert any("falling back to stitcher 'tf-style'" in r.getMessage() for r in caplog.records)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["stitcher"] == section
    assert not (tmp_path / "out" / "tmp").exists()


def test_second_run_goes_to_a_new_folder_and_checkpoint_reloads(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(tiny_config(tiny, out, stitcher="tf-style", stitch=StitchChoice(weighting="uniform")))
    first = (out / "metrics.json").read_text()
    run(tiny_config(tiny, out, checkpoint=out / "checkpoint.pt", epochs=0, stitcher="tf-style", stitch=StitchChoice(weighting="uniform")))
    assert (out / "metrics.json").read_text() == first
    second = json.loads((tmp_path / "out-2" / "metrics.json").read_text())
    assert second["stitched"] == json.loads(first)["stitched"]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_train_test_n_mismatch_exits_2(tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = simulate(dataclasses.replace(TINY, N=32, size=96), tmp_path / "other")
    capsys.readouterr()
    code = main(["run", "-q", "--train-npz", str(other.train), "--test-npz", str(tiny[1]), "--output-dir", str(tmp_path / "out"), "--epochs", "1"])
    assert code == 2
    line = one_error_line(capsys)
    assert "N=32" in line and "N=16" in line
    assert not (tmp_path / "out" / "metrics.json").exists()


def wrong_shape_factory(N: int, gridsize: int) -> torch.nn.Module:
    return torch.nn.Conv2d(gridsize**2, gridsize**2, 3)


class NanModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.complex(x * self.scale * torch.nan, x)


def nan_factory(N: int, gridsize: int) -> torch.nn.Module:
    return NanModel()


@pytest.mark.parametrize("factory, words", [("wrong_shape_factory", "expected"), ("nan_factory", "NaN")])
def test_bad_model_output_exits_2_naming_the_batch(tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], factory: str, words: str) -> None:
    code = main([
        "run", "-q", "--train-npz", str(tiny[0]), "--test-npz", str(tiny[1]), "--output-dir", str(tmp_path / "out"),
        "--model", f"test_runner:{factory}", "--epochs", "0",
    ])
    assert code == 2
    line = one_error_line(capsys)
    assert words in line and "batch 1 (rows 0:" in line
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_no_ground_truth_gives_patch_metrics_only(tiny: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with np.load(tiny[1], allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "YY_ground_truth"}
    test = tmp_path / "test_no_gt.npz"
    np.savez(test, **arrays)
    with caplog.at_level(logging.WARNING):
        _, document = run(tiny_config((tiny[0], test), tmp_path / "out"))
    assert "stitched" not in document and set(document["patch"]) == {"mae_amp", "mse_amp", "mae_phase", "mse_phase"}
    assert any("no ground truth" in r.getMessage() for r in caplog.records)


def test_run_writes_metrics_json_last_and_nothing_survives_a_failure_before_it(
    tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    final, _ = run(tiny_config(tiny, out, stitcher="tf-style", stitch=StitchChoice(weighting="uniform")))
    assert final == out
    written = {p.relative_to(out).as_posix(): p.stat().st_ctime_ns for p in out.rglob("*") if p.is_file()}
    assert {"run.json", "checkpoint.pt", "stitched.npz", "metrics.json"} <= set(written)
    assert max(written.values()) == written["metrics.json"]  # the last file to arrive
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["output_dir"] == str(out) and Path(run_json["checkpoint"]) == out / "checkpoint.pt"

    real = result_folder.write_json

    def fails_at_metrics(path: Path, obj: object) -> None:
        if path.name == "metrics.json":
            raise OSError(28, "No space left on device")
        real(path, obj)

    monkeypatch.setattr(result_folder, "write_json", fails_at_metrics)
    with pytest.raises(OSError, match="No space left"):
        run(tiny_config(tiny, tmp_path / "second", stitcher="tf-style", stitch=StitchChoice(weighting="uniform")))
    assert not (tmp_path / "second").exists()  # not even run.json or the checkpoint
