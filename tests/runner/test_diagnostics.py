"""Diagnostics a person cannot miss: the scored window in the summary, warnings on suspicious predictions, never-crossed FRC cut-offs, coverage.png."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.cli import main
from ptychostitch.geometry import crop_window
from ptychostitch.testing.files import write_grid_file, write_predictions, write_scattered_file, zero_border

PNG = b"\x89PNG\r\n\x1a\n"


def evaluate(test_npz: Path, predictions: Path, out: Path, *extra: str) -> int:
    return main(["evaluate", "--test-npz", str(test_npz), "--predictions", str(predictions), "--output-dir", str(out), "-q", *extra])


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("WARNING")]


def test_a_scattered_scan_with_a_coverage_hole_prints_the_window_and_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_scattered_file(tmp_path / "test.npz", count=80)
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    out = tmp_path / "out"
    assert evaluate(written.path, pred, out) == 0
    captured = capsys.readouterr()
    with np.load(out / "stitched.npz") as stitched:
        coverage = stitched["coverage"]
    height, width = coverage.shape
    assert not np.all(coverage > 0)  # the scan leaves a hole
    evaluation = json.loads((out / "metrics.json").read_text())["stitched_evaluation"]
    y0, y1, x0, x1 = evaluation["window"]
    assert np.all(coverage[y0:y1, x0:x1] > 0) and (y1 - y0) * (x1 - x0) < height * width
    share = (y1 - y0) * (x1 - x0) / (height * width)
    assert evaluation["window_share_of_frame"] == pytest.approx(share) and evaluation["window_is_full_frame"] is False
    window = f"rows {y0}:{y1}, cols {x0}:{x1}"
    printed = [line for line in captured.out.splitlines() if line.startswith("scored window:")]
    assert printed == [f"scored window: {window} of the {height}x{width} frame ({100 * share:.1f}% of it; NOT the whole frame, see coverage.png)"]
    warned = [line for line in warnings(captured.err) if window in line]
    assert len(warned) == 1 and f"{100 * share:.1f}% of it" in warned[0]
    assert (out / "coverage.png").read_bytes().startswith(PNG)


def test_the_whole_frame_is_printed_as_such_without_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    out = tmp_path / "out"
    assert evaluate(written.path, pred, out) == 0
    captured = capsys.readouterr()
    height, width = written.ground_truth.shape
    assert f"scored window: rows 0:{height}, cols 0:{width} of the {height}x{width} frame (100.0% of it; the whole frame)" in captured.out
    assert warnings(captured.err) == []
    assert (out / "coverage.png").read_bytes().startswith(PNG)



@pytest.mark.parametrize("weighting", ["uniform", "probe"])
def test_much_weight_on_exactly_zero_pixels_warns_with_the_share(tmp_path: Path, capsys: pytest.CaptureFixture[str], weighting: str) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    pred = write_predictions(tmp_path / "pred.npz", zero_border(written.true_patches))
    out = tmp_path / "out"
    assert evaluate(written.path, pred, out, "--crop", "16", "--stitch-weighting", weighting) == 0
    start, side = crop_window(16, 8)
    weights = np.abs(written.arrays["probeGuess"]).astype(np.float64) ** 2 if weighting == "probe" else np.ones((16, 16))
    expected = 1 - weights[start : start + side, start : start + side].sum() / weights.sum()
    assert expected > 0.25
    section = json.loads((out / "metrics.json").read_text())["predictions"]
    assert section["zero_weight_share"] == pytest.approx(expected, rel=1e-6)
    assert section["zero_weight_warn_share"] == 0.25 and section["all_zero"] is False and section["constant"] is False
    warned = [line for line in warnings(capsys.readouterr().err) if "exactly 0" in line]
    assert len(warned) == 1 and f"{100 * expected:.0f}% of the stitched weight" in warned[0] and "--crop" in warned[0]


def test_zero_border_patches_under_the_default_crop_do_not_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    pred = write_predictions(tmp_path / "pred.npz", zero_border(written.true_patches))
    out = tmp_path / "out"
    assert evaluate(written.path, pred, out) == 0
    assert json.loads((out / "metrics.json").read_text())["predictions"]["zero_weight_share"] == 0.0
    assert warnings(capsys.readouterr().err) == []


@pytest.mark.parametrize("gridsize", [1, 2])
@pytest.mark.parametrize("hole", [False, True])
def test_tf_style_weighs_only_the_tiles_it_stitches(tmp_path: Path, capsys: pytest.CaptureFixture[str], gridsize: int, hole: bool) -> None:
    """Zero-border patches under ``--crop N``: tf-style stitches only central tiles, which hold no zero, so no warning.

    With ``hole``, a band of each patch that crosses channel 0's tile is zeroed: those zeros do count.
    """
    written = write_grid_file(tmp_path / "test.npz", gridsize=gridsize)
    patches = zero_border(written.true_patches)
    params = written.metadata["additional_parameters"]
    stride, offset, origin = params["outer_offset_test"] // 2, params["offset"], written.gt_origin
    if hole:
        patches[:, origin : origin + 2, :, 0] = 0
    pred = write_predictions(tmp_path / "pred.npz", patches)
    out = tmp_path / "out"
    assert evaluate(written.path, pred, out, "--stitcher", "tf-style", "--crop", "16") == 0
    tiles = [patches[:, origin - offset * i : origin - offset * i + stride, origin - offset * j : origin - offset * j + stride, i * gridsize + j]
             for i in range(gridsize) for j in range(gridsize)]
    expected = float(np.mean([tile == 0 for tile in tiles]))  # channels weigh alike, every row alike
    assert (expected > 0) is hole
    section = json.loads((out / "metrics.json").read_text())["predictions"]
    assert section["zero_weight_share"] == pytest.approx(expected, abs=1e-12)
    warned = [line for line in warnings(capsys.readouterr().err) if "exactly 0" in line]
    assert len(warned) == (expected > 0.25)


def test_constant_predictions_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    pred = write_predictions(tmp_path / "pred.npz", np.full(written.true_patches.shape, 0.5 + 0.25j, np.complex64))
    out = tmp_path / "out"
    assert evaluate(written.path, pred, out) == 0
    section = json.loads((out / "metrics.json").read_text())["predictions"]
    assert section["constant"] is True and section["all_zero"] is False
    assert any("has one value" in line for line in warnings(capsys.readouterr().err))


def test_all_zero_predictions_warn_before_the_scoring_refuses_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    pred = write_predictions(tmp_path / "pred.npz", np.zeros(written.true_patches.shape, np.complex64))
    assert evaluate(written.path, pred, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert any("is exactly 0" in line for line in warnings(err))
    assert "amplitude is 0 everywhere" in err.strip().splitlines()[-1]


def test_never_crossed_frc_cut_offs_are_marked_in_the_console_and_metrics_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    out = tmp_path / "out"
    assert evaluate(written.path, pred, out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for part in (0, 1):  # a perfect reconstruction: the FRC is 1 everywhere
        assert metrics["stitched"]["frc50"][part] == len(metrics["stitched"]["frc"][part])  # PtychoPINN's value is kept
    assert metrics["stitched_evaluation"]["frc50_crossed"] == [False, False]
    assert metrics["stitched_evaluation"]["frc1over7_crossed"] == [False, False]
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("stitched frc50"))
    assert line.count("not crossed") == 2 and not re.search(r"\d", line.replace("frc50", ""))


def test_crossed_frc_cut_offs_are_printed_as_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    rng = np.random.default_rng(3)
    noise = rng.normal(size=written.true_patches.shape) + 1j * rng.normal(size=written.true_patches.shape)
    pred = write_predictions(tmp_path / "pred.npz", (written.true_patches + 0.5 * noise).astype(np.complex64))
    out = tmp_path / "out"
    assert evaluate(written.path, pred, out, "--crop", "16") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    crossed = metrics["stitched_evaluation"]["frc50_crossed"]
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("stitched frc50"))
    assert crossed == [True, True] and "not crossed" not in line
    assert f"{metrics['stitched']['frc50'][0]:.4f}" in line and f"{metrics['stitched']['frc50'][1]:.4f}" in line


def test_score_prints_the_window_and_writes_coverage_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_scattered_file(tmp_path / "test.npz", count=80)
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    assert evaluate(written.path, pred, tmp_path / "evaluated") == 0
    evaluated = json.loads((tmp_path / "evaluated" / "metrics.json").read_text())["stitched_evaluation"]
    capsys.readouterr()
    out = tmp_path / "scored"
    assert main(["score", "--test-npz", str(written.path), "--object", str(tmp_path / "evaluated" / "stitched.npz"), "--output-dir", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stitched_evaluation"]["window"] == evaluated["window"] and "predictions" not in metrics
    y0, y1, x0, x1 = evaluated["window"]
    assert f"scored window: rows {y0}:{y1}, cols {x0}:{x1} of the" in captured.out
    assert any(f"rows {y0}:{y1}, cols {x0}:{x1}" in line for line in warnings(captured.err))
    assert (out / "coverage.png").read_bytes().startswith(PNG)


def test_a_global_phase_offset_that_makes_the_phase_wrap_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    phase = np.angle(written.ground_truth)
    offset = np.pi - 0.5 * (phase.min() + phase.max())  # the middle of the phase range onto pi: the phase crosses it
    pred = write_predictions(tmp_path / "pred.npz", (written.true_patches * np.exp(1j * offset)).astype(np.complex64))
    assert evaluate(written.path, pred, tmp_path / "out") == 0
    warned = [line for line in warnings(capsys.readouterr().err) if "phase wraps" in line]
    assert len(warned) == 1 and "angle() without unwrapping" in warned[0]
