"""``ptychostitch score`` and ``ptychostitch compare`` on tiny evaluate folders: numbers, provenance, refusals."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from ptychostitch.testing.files import GridFile, write_grid_file, write_npz, write_predictions

Cli = Callable[..., tuple[int, str, str]]
METRIC_KEYS = ("mae", "mse", "psnr", "ssim", "ms_ssim", "frc50", "frc1over7")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def noisy(patches: np.ndarray, seed: int, level: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (patches + level * (rng.standard_normal(patches.shape) + 1j * rng.standard_normal(patches.shape))).astype(np.complex64)


@pytest.fixture
def evaluated(tmp_path: Path, run_cli: Cli) -> tuple[GridFile, list[Path]]:
    """A tiny test file and two evaluate folders on it (noisy patches; two stitchers and weightings)."""
    written = write_grid_file(tmp_path / "test.npz")
    folders = []
    for k, extra in enumerate((["--stitcher", "auto"], ["--stitcher", "tf-style", "--stitch-weighting", "uniform"])):
        pred = write_predictions(tmp_path / f"pred{k}.npz", noisy(written.true_patches, k, 0.05 * (k + 1)))
        out = tmp_path / f"eval{k}"
        status, _, err = run_cli("evaluate", "--test-npz", str(written.path), "--predictions", str(pred), "--output-dir", str(out), "-q", *extra)
        assert status == 0, err
        folders.append(out)
    return written, folders


def test_score_of_an_evaluate_object_gives_its_stitched_metrics(evaluated: tuple[GridFile, list[Path]], tmp_path: Path, run_cli: Cli) -> None:
    written, folders = evaluated
    obj = folders[0] / "stitched.npz"
    out = tmp_path / "scored"
    status, stdout, err = run_cli("score", "--test-npz", str(written.path), "--object", str(obj), "--output-dir", str(out), "-q")
    assert status == 0, err
    expected = json.loads((folders[0] / "metrics.json").read_text())
    got = json.loads((out / "metrics.json").read_text())
    assert got["stitched"] == expected["stitched"]
    assert got["stitched_evaluation"] == expected["stitched_evaluation"]
    assert got["stitcher"]["name"] == expected["stitcher"]["name"] and got["stitch"] is None and "patch" not in got
    record = json.loads((out / "score.json").read_text())
    assert record["command"] == "score"
    for role, path in (("test_npz", written.path), ("object", obj)):
        assert record["inputs"][role] == {"path": str(path), "size_bytes": os.path.getsize(path), "sha256": digest(path)}
    assert "ssim" in stdout


def test_score_without_coverage_scores_the_whole_frame(tmp_path: Path, run_cli: Cli) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    obj = write_npz(tmp_path / "obj.npz", {"object": written.ground_truth[..., None]})
    status, _, err = run_cli("score", "--test-npz", str(written.path), "--object", str(obj), "--output-dir", str(tmp_path / "out"), "-q")
    assert status == 0, err
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    height, width = written.ground_truth.shape
    assert metrics["stitched_evaluation"]["window"] == [0, height, 0, width]
    assert metrics["stitched"]["ssim"] == [pytest.approx(1.0), pytest.approx(1.0)] and metrics["stitcher"]["name"] == "elsewhere"


@pytest.mark.parametrize("kind", ["shape", "dtype", "missing", "coverage"])
def test_score_refuses_a_bad_object_naming_file_key_expected_and_found(tmp_path: Path, run_cli: Cli, kind: str) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    height, width = written.ground_truth.shape
    arrays = {
        "shape": {"object": np.zeros((height + 1, width), np.complex64)},
        "dtype": {"object": np.zeros((height, width), np.float32)},
        "missing": {"stitched": np.zeros((height, width), np.complex64)},
        "coverage": {"object": written.ground_truth, "coverage": np.full((height, width), -1.0, np.float32)},
    }[kind]
    obj = write_npz(tmp_path / "obj.npz", arrays)
    status, _, err = run_cli("score", "--test-npz", str(written.path), "--object", str(obj), "--output-dir", str(tmp_path / "out"))
    assert status == 2
    line = err.strip().splitlines()[-1]
    assert str(obj) in line
    words = {
        "shape": ["'object'", f"expected shape ({height}, {width}) or ({height}, {width}, 1)", f"found shape ({height + 1}, {width})"],
        "dtype": ["'object'", "expected a complex array", "found dtype float32"],
        "missing": ["'object'", "found keys: stitched"],
        "coverage": ["'coverage'", "expected weights >= 0", "found minimum -1.0"],
    }[kind]
    for word in words:
        assert word in line
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_compare_two_evaluates_and_a_score(evaluated: tuple[GridFile, list[Path]], tmp_path: Path, run_cli: Cli) -> None:
    written, folders = evaluated
    scored = tmp_path / "scored"
    assert run_cli("score", "--test-npz", str(written.path), "--object", str(folders[1] / "stitched.npz"), "--output-dir", str(scored), "-q")[0] == 0
    out = tmp_path / "cmp"
    status, stdout, err = run_cli("compare", *map(str, [*folders, scored]), "--output-dir", str(out), "-q")
    assert status == 0, err
    assert str(out / "comparison.csv") in stdout
    with open(out / "comparison.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["folder"] for row in rows] == [str(folders[0]), str(folders[1]), str(scored)]
    for row, folder in zip(rows, [*folders, scored]):
        metrics = json.loads((folder / "metrics.json").read_text())
        for key in METRIC_KEYS:
            assert [float(row[f"{key}_amp"]), float(row[f"{key}_phase"])] == metrics["stitched"][key]
        y0, y1, x0, x1 = metrics["stitched_evaluation"]["window"]
        assert row["window"] == f"{y0}:{y1},{x0}:{x1}" and row["stitcher"] == metrics["stitcher"]["name"]
        assert row["sha256_test_npz"] == digest(written.path)
    assert rows[0]["stitch_weighting"] == "probe" and rows[1]["stitch_weighting"] == "uniform" and rows[2]["stitch_weighting"] == ""
    assert (rows[0]["command"], rows[1]["stitcher"], rows[2]["command"]) == ("evaluate", "tf-style", "score")
    assert rows[0]["sha256_predictions"] == digest(written.path.parent / "pred0.npz") and rows[2]["sha256_object"] == digest(folders[1] / "stitched.npz")
    markdown = (out / "comparison.md").read_text()
    assert all(str(folder) in markdown for folder in folders) and digest(written.path) in markdown
    assert (out / "comparison.png").stat().st_size > 0
    assert json.loads((out / "compare.json").read_text())["command"] == "compare"
    assert not (out / "metrics.json").exists()
    status, _, err = run_cli("compare", str(folders[0]), str(out), "--output-dir", str(tmp_path / "again"))
    assert status == 2 and str(out) in err and "not a result folder" in err  # a comparison is not a result folder


def test_compare_refuses_a_folder_that_is_not_a_result(evaluated: tuple[GridFile, list[Path]], tmp_path: Path, run_cli: Cli) -> None:
    _, folders = evaluated
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "stitched.npz").write_bytes((folders[0] / "stitched.npz").read_bytes())
    for bad in (unfinished, tmp_path / "nowhere"):
        status, _, err = run_cli("compare", str(folders[0]), str(bad), "--output-dir", str(tmp_path / "cmp"))
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1 and str(bad) in lines[0] and "not a result folder" in lines[0]
    assert not (tmp_path / "cmp").exists()


def test_compare_refuses_folders_scored_against_different_ground_truths(
    evaluated: tuple[GridFile, list[Path]], tmp_path: Path, run_cli: Cli
) -> None:
    _, folders = evaluated
    other = write_grid_file(tmp_path / "other.npz", seed=7)
    pred = write_predictions(tmp_path / "other-pred.npz", other.true_patches)
    elsewhere = tmp_path / "elsewhere"
    assert run_cli("evaluate", "--test-npz", str(other.path), "--predictions", str(pred), "--output-dir", str(elsewhere), "-q")[0] == 0
    status, _, err = run_cli("compare", *map(str, folders), str(elsewhere), "--output-dir", str(tmp_path / "cmp"))
    line = err.strip().splitlines()[-1]
    assert status == 2 and "different ground truths" in line
    assert all(str(folder) in line for folder in [*folders, elsewhere])
    assert not (tmp_path / "cmp").exists()


def test_compare_finds_a_test_file_recorded_relative_to_where_the_folder_was_made(
    tmp_path: Path, run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = tmp_path / "made"
    made.mkdir()
    monkeypatch.chdir(made)
    written = write_grid_file(Path("test.npz"))
    write_predictions(Path("pred.npz"), written.true_patches)
    assert run_cli("evaluate", "--test-npz", "test.npz", "--predictions", "pred.npz", "--output-dir", "out", "-q")[0] == 0
    assert json.loads(Path("out/evaluate.json").read_text())["inputs"]["test_npz"]["path"] == "test.npz"
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli("compare", str(made / "out"), "--output-dir", "cmp", "-q")
    assert status == 0, err
    with open(tmp_path / "cmp" / "comparison.csv", newline="") as fh:
        (row,) = csv.DictReader(fh)
    assert row["sha256_test_npz"] == digest(made / "test.npz")
