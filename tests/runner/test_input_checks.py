"""Inputs that would silently corrupt the score are refused before any stitching, naming the file and key.

A NaN or infinity in the probe, in the positions or in the probe weights is exit 2 with one line;
so is a probe whose weights are 0 over the whole kept window. A test split without ``norm_Y_I``
is read, with a WARNING that says what is assumed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptychostitch.cli import main
from ptychostitch.geometry import crop_window
from ptychostitch.testing.files import write_grid_file, write_npz, write_predictions, write_scattered_file


def evaluate(test_npz: Path, predictions: Path, out: Path, *extra: str) -> int:
    return main(["evaluate", "--test-npz", str(test_npz), "--predictions", str(predictions), "--output-dir", str(out), "-q", *extra])


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def corrupted(tmp_path: Path, key: str, change) -> tuple[Path, Path]:
    written = write_grid_file(tmp_path / "good.npz")
    arrays = dict(written.arrays)
    arrays[key] = change(np.array(arrays[key]))
    return write_npz(tmp_path / "test.npz", arrays), write_predictions(tmp_path / "pred.npz", written.true_patches)


def with_nan(array: np.ndarray) -> np.ndarray:
    array[3, 5] = np.nan
    return array


@pytest.mark.parametrize("key", ["probeGuess", "probe_simulated"])
@pytest.mark.parametrize("weighting", ["probe", "uniform"])
def test_a_nan_in_a_probe_is_exit_2_naming_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, weighting: str) -> None:
    test_npz, pred = corrupted(tmp_path, key, with_nan)
    out = tmp_path / "out"
    assert evaluate(test_npz, pred, out, "--stitch-weighting", weighting) == 2
    line = one_error_line(capsys)
    assert line.count(repr(str(test_npz))) == 1 and f"'{key}'" in line
    assert "1 non-finite" in line and "zero amplitude" not in line
    assert not (out / "metrics.json").exists()


def zero_inside_the_crop(array: np.ndarray) -> np.ndarray:
    start, side = crop_window(array.shape[0], array.shape[0] // 2)
    array[start : start + side, start : start + side] = 0
    return array


def test_probe_weights_zero_over_the_kept_window_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    test_npz, pred = corrupted(tmp_path, "probeGuess", zero_inside_the_crop)
    assert evaluate(test_npz, pred, tmp_path / "out") == 2
    line = one_error_line(capsys)
    assert repr(str(test_npz)) in line and "'probeGuess'" in line
    assert "central 8x8 crop" in line and "0 everywhere" in line


def test_probe_weights_that_overflow_float32_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    test_npz, pred = corrupted(tmp_path, "probeGuess", lambda probe: probe * np.float32(1e30))
    assert evaluate(test_npz, pred, tmp_path / "out") == 2
    line = one_error_line(capsys)
    assert repr(str(test_npz)) in line and "'probeGuess'" in line and "overflow" in line


def test_a_probe_dark_in_the_normalisation_disk_names_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "good.npz")
    arrays = dict(written.arrays)
    del arrays["probe_simulated"]
    probe = np.zeros((16, 16), np.complex64)
    probe[0, 0] = 1.0
    arrays["probeGuess"] = probe
    test_npz = write_npz(tmp_path / "test.npz", arrays)
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    assert evaluate(test_npz, pred, tmp_path / "out", "--stitch-weighting", "uniform") == 2
    line = one_error_line(capsys)
    assert repr(str(test_npz)) in line and "'probeGuess'" in line and "zero amplitude" in line


def test_a_nan_position_is_exit_2_naming_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_scattered_file(tmp_path / "good.npz")
    arrays = dict(written.arrays)
    coords = np.array(arrays["coords_offsets"])
    coords[2, 0, 1, 0] = np.inf
    arrays["coords_offsets"] = coords
    test_npz = write_npz(tmp_path / "test.npz", arrays)
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    assert evaluate(test_npz, pred, tmp_path / "out") == 2
    line = one_error_line(capsys)
    assert repr(str(test_npz)) in line and "'coords_offsets'" in line and "finite" in line


def test_a_missing_norm_y_i_warns_what_is_assumed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "good.npz")
    arrays = dict(written.arrays)
    del arrays["norm_Y_I"]
    test_npz = write_npz(tmp_path / "test.npz", arrays)
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    assert evaluate(test_npz, pred, tmp_path / "out") == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "norm_Y_I" in line]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING")
    assert repr(str(test_npz)) in warnings[0] and "assuming 1.0" in warnings[0] and "amplitude" in warnings[0]
    with np.load(tmp_path / "out" / "stitched.npz") as stitched:
        obj = stitched["object"]
    np.testing.assert_allclose(obj, written.ground_truth / written.norm, rtol=1e-4, atol=1e-4)


def test_a_file_with_norm_y_i_does_not_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    assert evaluate(written.path, pred, tmp_path / "out") == 0
    assert "norm_Y_I" not in capsys.readouterr().err
