"""``torchrun --nproc-per-node 2 -m ptychostitch run``: the one-process run (same seed, one thread per process), and bad input ends both ranks.

Both launches train 1 epoch from the same seed on one thread (rank 0 trains under ``torchrun``),
so their models are the same and the stitched objects may differ only by the order of the
canvas sums (the reduction): within 1e-6 of the largest value. Their ``predictions.npz`` (under
``torchrun`` each rank writes its rows in place) are equal, and ``evaluate`` on the two-rank
file reproduces the two-rank run's stitched metrics.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.simulate import SimulationConfig, simulate
from ptychostitch.testing.files import write_scattered_file

TINY = SimulationConfig(N=16, gridsize=1, size=64, outer_offset_train=4, outer_offset_test=8, nimgs_train=1, nimgs_test=2, set_phi=True, seed=0)


def _datasets(root: Path, kind: str) -> tuple[Path, Path]:
    paths = simulate(replace(TINY, gridsize=2) if kind == "grid2" else TINY, root / "data")
    if kind != "scattered":
        return paths.train, paths.test
    return paths.train, write_scattered_file(root / "scattered.npz").path


@pytest.mark.parametrize("kind", ["grid1", "grid2", "scattered"])
def test_two_ranks_run_equals_one_process(tmp_path: Path, kind: str, torchrun, one_process) -> None:  # noqa: ANN001
    train, test = _datasets(tmp_path, kind)
    common = ["run", "-q", "--train-npz", str(train), "--test-npz", str(test), "--epochs", "1", "--infer-batch-size", "16",
              "--stitcher", "torch-mmap", "--crop", "16"]
    one = one_process(*common, "--output-dir", str(tmp_path / "one"), cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    two = torchrun(*common, "--output-dir", str(tmp_path / "two"), cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]

    with np.load(tmp_path / "one" / "stitched.npz") as a, np.load(tmp_path / "two" / "stitched.npz") as b:
        assert np.abs(b["object"] - a["object"]).max() <= 1e-6 * np.abs(a["object"]).max()
        np.testing.assert_allclose(b["coverage"], a["coverage"], rtol=1e-6)
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("one", "two")]
    assert metrics[0]["patch"] is not None and metrics[1]["patch"] is not None
    for key, value in metrics[0]["patch"].items():
        assert metrics[1]["patch"][key] == pytest.approx(value, rel=1e-12, abs=1e-15)
    assert metrics[1]["stitched"]["ssim"] == pytest.approx(metrics[0]["stitched"]["ssim"], abs=1e-5)
    assert metrics[1]["predictions"] == metrics[0]["predictions"] and metrics[0]["predictions"]["patches"] > 0

    record = json.loads((tmp_path / "two" / "run.json").read_text())["distributed"]
    assert record["world_size"] == 2 and record["backend"] == "gloo"
    (a0, b0), (a1, b1) = record["shards"]
    with np.load(test) as file:
        n_rows = len(file["diffraction"])
    assert (a0, b1) == (0, n_rows) and b0 == a1 and b0 % 16 == 0  # contiguous, whole batches
    with np.load(tmp_path / "one" / "predictions.npz") as a, np.load(tmp_path / "two" / "predictions.npz") as b:
        assert list(b.keys()) == ["patches"] and b["patches"].dtype == np.complex64
        np.testing.assert_array_equal(b["patches"], a["patches"])  # each rank wrote its rows in place
    assert "predictions.npz is not written" not in two.stderr
    listed = [{p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*")} for name in ("one", "two")]
    assert "predictions.npz" in {p.name for p in listed[1]} and listed[1] <= listed[0]  # no token or temporary file left
    again = one_process("evaluate", "-q", "--test-npz", str(test), "--predictions", str(tmp_path / "two" / "predictions.npz"),
                        "--stitcher", "torch-mmap", "--crop", "16", "--output-dir", str(tmp_path / "again"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    evaluated = json.loads((tmp_path / "again" / "metrics.json").read_text())["stitched"]
    for key, value in metrics[1]["stitched"].items():
        np.testing.assert_allclose(evaluated[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("two")) == ["two"]  # one result folder


def test_predictions_are_skipped_with_a_warning_when_a_rank_cannot_see_the_staging_folder(
    tmp_path: Path, torchrun_rank_1_elsewhere, one_process  # noqa: ANN001
) -> None:
    train, test = _datasets(tmp_path, "grid1")
    common = ["run", "-q", "--train-npz", str(train), "--test-npz", str(test), "--epochs", "1", "--infer-batch-size", "16",
              "--stitcher", "torch-mmap", "--crop", "16"]
    done = torchrun_rank_1_elsewhere(*common, "--output-dir", str(tmp_path / "two"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "predictions.npz is not written: rank 1 cannot see the staging folder" in done.stderr
    assert (tmp_path / "two" / "metrics.json").is_file() and not (tmp_path / "two" / "predictions.npz").exists()
    assert not [p for p in (tmp_path / "two").rglob("*") if "ranks" in p.name]  # neither the token nor the partial file is left
    one = one_process(*common, "--no-save-predictions", "--output-dir", str(tmp_path / "one"), cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    with np.load(tmp_path / "one" / "stitched.npz") as a, np.load(tmp_path / "two" / "stitched.npz") as b:
        assert np.abs(b["object"] - a["object"]).max() <= 1e-6 * np.abs(a["object"]).max()  # the stitch is unaffected


def test_no_save_predictions_under_two_ranks_writes_none_and_warns_nothing(tmp_path: Path, torchrun) -> None:  # noqa: ANN001
    train, test = _datasets(tmp_path, "grid1")
    done = torchrun("run", "-q", "--train-npz", str(train), "--test-npz", str(test), "--epochs", "1", "--no-save-predictions",
                    "--stitcher", "torch-mmap", "--output-dir", str(tmp_path / "two"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "two" / "metrics.json").is_file() and not (tmp_path / "two" / "predictions.npz").exists()
    assert "predictions.npz" not in done.stderr and not [p for p in (tmp_path / "two").rglob("*") if "ranks" in p.name]


def test_bad_input_under_two_ranks_ends_both_with_its_reason(tmp_path: Path, torchrun) -> None:  # noqa: ANN001
    train, _ = _datasets(tmp_path, "grid1")
    other = write_scattered_file(tmp_path / "n12.npz", N=12, size=40).path  # N 12 against a train split of N 16
    done = torchrun("run", "-q", "--train-npz", str(train), "--test-npz", str(other), "--epochs", "1", "--output-dir", str(tmp_path / "o"),
                    cwd=tmp_path)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("ptychostitch run: error: ")]
    assert len(lines) == 2  # one line from each rank
    assert all("train and test must match" in line and f"'{other}'" in line for line in lines)
    assert any(line.startswith("ptychostitch run: error: rank 0: ") for line in lines)  # rank 1 names whose failure ended it
    assert not (tmp_path / "o" / "metrics.json").exists()
