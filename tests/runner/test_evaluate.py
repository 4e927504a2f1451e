"""``ptychostitch evaluate`` and ``ptychostitch stitchers --test-npz`` end to end, good and bad input."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.cli import main
from ptychostitch.testing.files import write_grid_file, write_npz, write_predictions, write_scattered_file


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def evaluate(test_npz: Path, predictions: Path, out: Path, *extra: str) -> int:
    return main(["evaluate", "--test-npz", str(test_npz), "--predictions", str(predictions), "--output-dir", str(out), *extra])


@pytest.mark.parametrize(
    "gridsize, compressed, metadata, stitcher",
    [
        (1, False, "json", "auto"),
        (1, True, "pickled", "tf-style"),
        (2, False, "pickled", "tf-shift-sum"),
        (2, True, "json", "auto"),
        (2, False, "json", "tf-style"),
    ],
)
def test_evaluate_reproduces_the_ground_truth(
    tmp_path: Path, gridsize: int, compressed: bool, metadata: str, stitcher: str
) -> None:
    written = write_grid_file(tmp_path / "test.npz", gridsize=gridsize, compressed=compressed, metadata=metadata)
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches, compressed=compressed)
    out = tmp_path / "out"
    assert evaluate(written.path, pred, out, "-q", "--batch-size", "33", "--stitcher", stitcher) == 0
    chosen = "torch-mmap" if stitcher == "auto" else stitcher
    with np.load(out / "stitched.npz", allow_pickle=False) as stitched:
        obj, coverage, name = stitched["object"], stitched["coverage"], stitched["stitcher"]
    assert obj.dtype == np.complex64 and obj.shape == written.ground_truth.shape
    np.testing.assert_allclose(obj, written.ground_truth, rtol=1e-5, atol=1e-5)
    assert coverage.dtype == np.float32 and np.all(coverage > 0)
    assert name.shape == () and str(name) == chosen
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stitcher"] == {
        "name": chosen, "requested": stitcher, "fallback": False,
        "reason": metrics["stitcher"]["reason"], "rejected": {},
    }
    assert metrics["stitched"]["ssim"][0] > 0.9999 and metrics["stitched"]["ssim"][1] > 0.9999
    assert metrics["stitched"]["mae"][0] < 1e-4
    assert set(metrics["patch"]) == {"mae_amp", "mse_amp", "mae_phase", "mse_phase"}
    assert metrics["patch"]["mae_amp"] < 1e-5
    assert (out / "comparison.png").stat().st_size > 0 and (out / "frc.png").stat().st_size > 0


def test_named_stitcher_that_cannot_run_exits_2_with_its_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    assert evaluate(written.path, pred, tmp_path / "out", "--stitcher", "tf-style", "--crop", "2") == 2
    line = one_error_line(capsys)
    assert "'tf-style' cannot run" in line and "outside the kept crop" in line
    assert not (tmp_path / "out" / "stitched.npz").exists()

    scattered = write_scattered_file(tmp_path / "scattered.npz")
    pred = write_predictions(tmp_path / "pred2.npz", scattered.true_patches)
    assert evaluate(scattered.path, pred, tmp_path / "out", "--stitcher", "tf-style") == 2
    assert "needs the regular-grid layout" in one_error_line(capsys)

    assert evaluate(written.path, tmp_path / "pred.npz", tmp_path / "out", "--stitcher", "no-such") == 2
    assert "unknown stitcher 'no-such'" in one_error_line(capsys)


class RunsShell:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


def make_bad_file(kind: str, tmp_path: Path) -> tuple[Path, list[str]]:
    """A broken test NPZ and the words its error line must contain."""
    good = write_grid_file(tmp_path / "good.npz")
    bad = tmp_path / f"{kind}.npz"
    if kind == "missing":
        return bad, ["file not found"]
    if kind == "not-a-zip":
        bad.write_text("diffraction,Y_I\n1,2\n")
        return bad, ["expected an NPZ (zip) archive", "not a zip archive"]
    if kind == "truncated":
        bad.write_bytes(good.path.read_bytes()[: good.path.stat().st_size // 2])
        return bad, ["expected an NPZ (zip) archive", "truncated"]
    arrays = dict(good.arrays)
    if kind == "missing-key":
        del arrays["coords_nominal"]
        expected = ["'coords_nominal'", "found keys"]
    elif kind == "wrong-shape":
        arrays["Y_phi"] = arrays["Y_phi"][:, :15]
        expected = ["'Y_phi'", "expected shape (338, 16, 16, 1)", "found (338, 15, 16, 1)"]
    elif kind == "evil-metadata":
        arrays["_metadata"] = np.array(RunsShell(f"touch {tmp_path / 'pwned'}"), dtype=object)
        expected = ["'_metadata'", "expected a pickled plain string", "system", "nothing was executed"]
    write_npz(bad, arrays)
    return bad, expected


@pytest.mark.parametrize("kind", ["missing", "not-a-zip", "truncated", "missing-key", "wrong-shape", "evil-metadata"])
def test_bad_test_npz_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    bad, words = make_bad_file(kind, tmp_path)
    pred = write_predictions(tmp_path / "pred.npz", np.zeros((338, 16, 16, 1), np.complex64))
    capsys.readouterr()
    if kind == "missing":  # found at parse time, a usage error: argparse exits
        with pytest.raises(SystemExit) as stopped:
            evaluate(bad, pred, tmp_path / "out")
        status = stopped.value.code
    else:
        status = evaluate(bad, pred, tmp_path / "out")
    assert status == 2
    line = one_error_line(capsys)
    assert line.startswith("ptychostitch evaluate: error: ") and str(bad) in line
    for word in words:
        assert word in line
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "pwned").exists()
    if kind == "missing":
        with pytest.raises(SystemExit) as stopped:
            main(["stitchers", "--test-npz", str(bad)])
        assert stopped.value.code == 2
    else:
        assert main(["stitchers", "--test-npz", str(bad)]) == 2
    assert str(bad) in one_error_line(capsys)


def test_bad_predictions_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz", gridsize=2)
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches[:, :, :, :1])
    assert evaluate(written.path, pred, tmp_path / "out") == 2
    line = one_error_line(capsys)
    assert str(pred) in line and "'patches'" in line and "complex-last: complex (288, 16, 16, 4);" in line and "found complex64 (288, 16, 16, 1)" in line
    pickle_pred = tmp_path / "objects.npz"
    np.savez(pickle_pred, patches=np.array([pickle.dumps(1)], dtype=object))
    assert evaluate(written.path, pickle_pred, tmp_path / "out") == 2
    assert "'patches'" in one_error_line(capsys)


def test_stitchers_with_test_npz_reports_whether_each_can_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid = write_grid_file(tmp_path / "grid.npz", gridsize=2)
    scattered = write_scattered_file(tmp_path / "scattered.npz")
    capsys.readouterr()
    assert main(["stitchers", "--test-npz", str(grid.path), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["stitchers"]}
    assert rows["tf-style"]["can_run"] is True and "gridsize 2" in rows["tf-style"]["reason"]
    assert main(["stitchers", "--test-npz", str(scattered.path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in document["stitchers"]}
    assert rows["tf-style"]["can_run"] is False and "regular-grid" in rows["tf-style"]["reason"]
    assert document["test_npz"] == str(scattered.path)
    assert main(["stitchers", "--test-npz", str(scattered.path)]) == 0
    table = capsys.readouterr().out
    assert "tf-style" in table and "cannot run: needs the regular-grid layout" in table
    assert main(["stitchers", "--json"]) == 0
    assert "can_run" not in json.loads(capsys.readouterr().out)["stitchers"][0]
