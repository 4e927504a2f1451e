"""``evaluate --layout``: every layout of ``patches`` gives the channel-last result; ambiguous or wrong shapes exit 2.

Each layout is built here from the same complex channel-last patches with numpy transposes,
independently of :mod:`ptychostitch.data.predictions`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from ptychostitch.cli import main
from ptychostitch.data import load_gridlines
from ptychostitch.data.predictions import fitting_layouts, read_predictions
from ptychostitch.runner.context import plan_stitch
from ptychostitch.runner.defaults import STITCH_OPTIONS
from ptychostitch.runner.scoring import stitch_and_score
from ptychostitch.stitchers import StitchResult
from ptychostitch.testing.files import write_grid_file, write_predictions


def ri_last(p: np.ndarray) -> np.ndarray:
    return np.stack([p.real, p.imag], axis=-1)  # (n, N, N, C, 2)


LAYOUTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "complex-last": lambda p: p,
    "complex-first": lambda p: p.transpose(0, 3, 1, 2),
    "ri-last": ri_last,
    "ri-first": lambda p: ri_last(p).transpose(0, 3, 1, 2, 4),
    "ri-channels": lambda p: np.concatenate([p.real.transpose(0, 3, 1, 2), p.imag.transpose(0, 3, 1, 2)], axis=1),
}
SINGLE_CHANNEL = {  # C = 1: the channel axis may be left out
    "complex-last": lambda p: p[..., 0],
    "ri-last": lambda p: np.stack([p[..., 0].real, p[..., 0].imag], axis=-1),  # (n, N, N, 2)
}


def predicted(true_patches: np.ndarray) -> np.ndarray:
    """Imperfect predictions (so the metrics are not all 1): the truth plus a little complex noise."""
    rng = np.random.default_rng(11)
    noise = rng.normal(scale=0.05, size=true_patches.shape) + 1j * rng.normal(scale=0.05, size=true_patches.shape)
    return (true_patches + noise).astype(np.complex64)


def evaluate(test_npz: Path, predictions: Path, out: Path, *extra: str) -> int:
    return main(["evaluate", "-q", "--test-npz", str(test_npz), "--predictions", str(predictions), "--output-dir", str(out), *extra])


def stitched_metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())["stitched"]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def stitched(test_npz: Path, pred: Path, layout: str) -> StitchResult:
    """What ``evaluate`` stitches from ``pred`` with default options (its pipeline, without the PNGs)."""
    dataset = load_gridlines(test_npz)
    plan = plan_stitch(dataset, STITCH_OPTIONS)
    return stitch_and_score(dataset, plan.context, plan.selection, read_predictions(pred, dataset, layout=layout)).result


@pytest.mark.parametrize("gridsize, builders", [(2, LAYOUTS), (1, {**SINGLE_CHANNEL, "ri-channels": LAYOUTS["ri-channels"]})])
def test_every_layout_stitches_to_the_channel_last_object(tmp_path: Path, gridsize: int, builders: dict) -> None:
    written = write_grid_file(tmp_path / "test.npz", gridsize=gridsize, nimgs=1)
    patches = predicted(written.true_patches)
    expected = stitched(written.path, write_predictions(tmp_path / "last.npz", patches), "complex-last")
    for k, (layout, build) in enumerate(builders.items()):
        pred = write_predictions(tmp_path / f"{layout}.npz", build(patches), compressed=k % 2 == 1)
        for asked in ("auto", layout):
            result = stitched(written.path, pred, asked)
            np.testing.assert_array_equal(result.object, expected.object, err_msg=f"{layout} read as {asked}")
            np.testing.assert_array_equal(result.coverage, expected.coverage)


def test_evaluate_of_real_imag_channels_gives_the_channel_last_metrics(tmp_path: Path) -> None:
    written = write_grid_file(tmp_path / "test.npz", gridsize=2, nimgs=1)
    patches = predicted(written.true_patches)
    assert evaluate(written.path, write_predictions(tmp_path / "last.npz", patches), tmp_path / "last") == 0
    expected = stitched_metrics(tmp_path / "last")
    assert expected["ssim"][0] < 0.9999  # imperfect predictions: a real comparison, not a perfect score
    pred = write_predictions(tmp_path / "ri.npz", LAYOUTS["ri-channels"](patches), compressed=True)
    assert evaluate(written.path, pred, tmp_path / "ri") == 0
    assert stitched_metrics(tmp_path / "ri") == expected


def test_each_layout_is_read_batch_by_batch_into_the_same_channel_last_patches(tmp_path: Path) -> None:
    written = write_grid_file(tmp_path / "test.npz", gridsize=2, nimgs=1)
    dataset = load_gridlines(written.path)
    patches = predicted(written.true_patches)
    for layout, build in LAYOUTS.items():
        predictions = read_predictions(write_predictions(tmp_path / f"{layout}.npz", build(patches)), dataset, batch_size=7)
        assert predictions.layout == layout
        count = 0
        for batch in predictions:
            assert batch.patches.dtype == np.complex64 and len(batch.patches) <= 7
            np.testing.assert_array_equal(batch.patches, patches[batch.start : batch.stop])
            count += len(batch.patches)
        assert count == len(patches)


def test_fitting_layouts_finds_the_coincidences() -> None:
    n = 5
    assert fitting_layouts((n, 2, 2, 2), np.dtype(np.float32), n, 2, 1) == ["ri-last", "ri-channels"]  # N == 2*C
    assert fitting_layouts((n, 4, 4, 4), np.dtype(np.complex64), n, 4, 4) == ["complex-last", "complex-first"]  # N == C
    assert fitting_layouts((n, 4, 4, 4, 2), np.dtype(np.float64), n, 4, 4) == ["ri-last", "ri-first"]
    assert fitting_layouts((n, 16, 16, 4), np.dtype(np.float32), n, 16, 4) == []  # real but not a pair
    assert fitting_layouts((n, 8, 16, 16), np.dtype(np.float32), n, 16, 4) == ["ri-channels"]
    assert fitting_layouts((n, 16, 16, 2), np.dtype(np.int16), n, 16, 1) == []


def test_an_ambiguous_shape_exits_2_listing_the_layouts_and_a_layout_resolves_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "n4.npz", N=4, gridsize=2, offset=1, outer_offset=4, size=16, nimgs=1)  # N == C == 4
    patches = written.true_patches
    pred = write_predictions(tmp_path / "pred.npz", patches)
    assert evaluate(written.path, pred, tmp_path / "out") == 2
    line = one_error_line(capsys)
    assert "pred.npz" in line and "'patches'" in line and "complex-last, complex-first" in line and "--layout" in line
    assert not (tmp_path / "out").exists()
    first = write_predictions(tmp_path / "first.npz", LAYOUTS["complex-first"](patches))
    expected = stitched(written.path, pred, "complex-last")
    np.testing.assert_array_equal(stitched(written.path, first, "complex-first").object, expected.object)
    assert not np.array_equal(stitched(written.path, first, "complex-last").object, expected.object)  # the layout matters

    pairs = write_predictions(tmp_path / "pairs.npz", ri_last(patches))
    assert evaluate(written.path, pairs, tmp_path / "out") == 2
    assert "ri-last, ri-first" in one_error_line(capsys)


def test_a_wrong_layout_names_file_key_expected_and_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_grid_file(tmp_path / "test.npz", gridsize=2, nimgs=1)
    n = len(written.true_patches)
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    assert evaluate(written.path, pred, tmp_path / "out", "--layout", "complex-first") == 2
    line = one_error_line(capsys)
    assert "pred.npz" in line and "key 'patches'" in line
    assert f"expected layout complex-first: complex ({n}, 4, 16, 16)" in line
    assert f"found complex64 ({n}, 16, 16, 4)" in line

    assert evaluate(written.path, pred, tmp_path / "out", "--layout", "ri-last") == 2
    line = one_error_line(capsys)
    assert f"expected layout ri-last: real (float) ({n}, 16, 16, 4, 2)" in line and "found complex64" in line

    odd = write_predictions(tmp_path / "odd.npz", written.true_patches.real)
    assert evaluate(written.path, odd, tmp_path / "out") == 2
    line = one_error_line(capsys)
    assert "odd.npz" in line and f"expected one of the layouts complex-last: complex ({n}, 16, 16, 4);" in line
    assert f"ri-channels: real (float) ({n}, 8, 16, 16)" in line and f"found float32 ({n}, 16, 16, 4)" in line
