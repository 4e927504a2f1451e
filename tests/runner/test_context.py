"""Where data meets stitchers: the stitch context built from a grid-lines test split."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptychostitch.data import load_gridlines
from ptychostitch.errors import InputError
from ptychostitch.runner.context import stitch_context
from ptychostitch.stitchers import StitchOptions
from ptychostitch.testing.files import write_grid_file, write_npz, write_scattered_file


def test_stitch_context_carries_the_dataset(tmp_path: Path) -> None:
    written = write_grid_file(tmp_path / "t.npz", gridsize=2)
    ds = load_gridlines(written.path)
    context = stitch_context(ds, StitchOptions(weighting="probe", crop=8))
    assert (context.N, context.gridsize, context.n_rows) == (16, 2, ds.n_rows)
    assert context.frame_shape == written.ground_truth.shape and context.frame_rows == ds.frame_rows
    assert context.grid == ds.grid and context.norm_Y_I == ds.norm_Y_I
    assert context.probe is ds.probeGuess and context.positions is ds.positions
    assert context.options == StitchOptions(weighting="probe", crop=8)


def test_train_split_has_no_positions_and_cannot_be_stitched(tmp_path: Path) -> None:
    written = write_grid_file(tmp_path / "t.npz")
    arrays = dict(written.arrays)
    del arrays["YY_ground_truth"], arrays["norm_Y_I"]
    ds = load_gridlines(write_npz(tmp_path / "train.npz", arrays), split="train")
    assert ds.positions is None and ds.grid is None
    with pytest.raises(InputError, match="train split cannot be stitched"):
        stitch_context(ds)


def test_a_scattered_scan_has_positions_and_no_grid(tmp_path: Path) -> None:
    ds = load_gridlines(write_scattered_file(tmp_path / "s.npz").path)
    context = stitch_context(ds)
    assert context.grid is None and context.positions is ds.positions
