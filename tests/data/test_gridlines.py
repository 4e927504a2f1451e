"""Loading grid-lines files: validation, lazy arrays, positions in the ground-truth frame, predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.data import load_gridlines, read_predictions
from ptychostitch.data.streamed import StreamedArray
from ptychostitch.errors import InputError
from ptychostitch.testing.files import write_grid_file, write_npz, write_predictions, write_scattered_file


def expected_positions(grid_file) -> np.ndarray:  # noqa: ANN001 - a GridFile
    """The fixture's own answer: top-left + (N-1)/2, moved into the ground-truth frame."""
    return grid_file.top_left + (grid_file.N - 1) / 2 - grid_file.gt_origin


@pytest.mark.parametrize("gridsize", [1, 2])
@pytest.mark.parametrize(
    "coords, record",
    [("position-major", False), ("object-major", True), ("object-major", False), (None, False)],
)
def test_positions_in_ground_truth_frame(tmp_path: Path, gridsize: int, coords: str | None, record: bool) -> None:
    written = write_grid_file(tmp_path / "t.npz", gridsize=gridsize, coords_offsets=coords, record_order=record)
    ds = load_gridlines(written.path)
    m = ds.grid.m
    assert ds.positions.shape == (ds.n_rows, gridsize**2, 2) and ds.positions.dtype == np.float64
    np.testing.assert_allclose(ds.positions, expected_positions(written), atol=1e-9)
    assert ds.frame_rows == range(0, m * m)
    assert ds.frame_shape == written.ground_truth.shape
    assert (ds.N, ds.gridsize, ds.channels) == (16, gridsize, gridsize**2)
    assert not ds.positions.flags.writeable


def test_position_major_coords_are_remapped_row_by_row(tmp_path: Path) -> None:
    """Without grid metadata the coordinates alone give the positions: PtychoPINN's order is undone."""
    written = write_grid_file(tmp_path / "t.npz", coords_offsets="position-major")
    arrays = dict(written.arrays)
    meta = json.loads(str(arrays["_metadata"]))
    del meta["additional_parameters"]["outer_offset_test"]
    arrays["_metadata"] = np.array(json.dumps(meta))
    arrays["YY_ground_truth"] = arrays["YY_full"][0]  # a frame coords_offsets can be placed in
    ds = load_gridlines(write_npz(tmp_path / "nogrid.npz", arrays))
    assert ds.grid is None
    np.testing.assert_allclose(ds.positions, written.top_left + (written.N - 1) / 2, atol=1e-6)
    assert ds.frame_rows == range(0, ds.n_rows // 2)


def test_coords_that_disagree_with_the_grid_are_an_error(tmp_path: Path) -> None:
    written = write_grid_file(tmp_path / "t.npz", gridsize=2)
    arrays = dict(written.arrays)
    arrays["coords_offsets"] = arrays["coords_offsets"] + np.float32(0.5)
    path = write_npz(tmp_path / "bad.npz", arrays)
    with pytest.raises(InputError, match=r"'coords_offsets'.*grid metadata.*0\.5 px"):
        load_gridlines(path)


def test_a_declared_order_is_trusted_and_checked(tmp_path: Path) -> None:
    written = write_grid_file(tmp_path / "t.npz", coords_offsets="position-major")
    arrays = dict(written.arrays)
    meta = json.loads(str(arrays["_metadata"]))
    meta["additional_parameters"]["coords_offsets_order"] = "object-major"
    arrays["_metadata"] = np.array(json.dumps(meta))
    with pytest.raises(InputError, match="object-major rows differ"):
        load_gridlines(write_npz(tmp_path / "lie.npz", arrays))


def test_scattered_scan_gets_positions_in_the_ground_truth_frame(tmp_path: Path) -> None:
    written = write_scattered_file(tmp_path / "s.npz")
    ds = load_gridlines(written.path)
    assert ds.grid is None
    assert ds.frame_shape == written.ground_truth.shape
    assert ds.frame_rows == range(0, len(written.true_patches))
    np.testing.assert_allclose(ds.positions, written.positions, atol=1e-6)


def test_lazy_arrays_small_arrays_and_scalars(tmp_path: Path) -> None:
    stored = write_grid_file(tmp_path / "s.npz", gridsize=2, metadata="pickled")
    packed = write_grid_file(tmp_path / "c.npz", gridsize=2, compressed=True)
    a, b = load_gridlines(stored.path), load_gridlines(packed.path)
    assert isinstance(a.diffraction, np.memmap) and isinstance(a.Y_I, np.memmap) and isinstance(a.YY_full, np.memmap)
    assert isinstance(b.diffraction, StreamedArray) and isinstance(b.Y_phi, StreamedArray)
    np.testing.assert_array_equal(b.Y_phi[3:9], stored.arrays["Y_phi"][3:9])
    np.testing.assert_array_equal(a.Y_I[-1], stored.arrays["Y_I"][-1])
    for ds, written in ((a, stored), (b, packed)):
        assert ds.YY_ground_truth.shape == written.ground_truth.shape and ds.YY_ground_truth.dtype == np.complex64
        np.testing.assert_array_equal(ds.YY_ground_truth, written.ground_truth)
        assert not ds.YY_ground_truth.flags.writeable
        assert ds.probeGuess.shape == (16, 16) and ds.probeGuess.dtype == np.complex64
        assert ds.norm_Y_I == pytest.approx(written.norm)
        assert ds.metadata == written.metadata
    with pytest.raises(AttributeError):
        a.norm_Y_I = 2.0  # type: ignore[misc]


@pytest.mark.parametrize("norm, expected", [(np.array([2.5], np.float32), 2.5), (None, 1.0)])
def test_norm_y_i_as_one_element_array_or_absent(tmp_path: Path, norm: np.ndarray | None, expected: float) -> None:
    arrays = dict(write_grid_file(tmp_path / "t.npz").arrays)
    if norm is None:
        del arrays["norm_Y_I"]
    else:
        arrays["norm_Y_I"] = norm
    assert load_gridlines(write_npz(tmp_path / "n.npz", arrays)).norm_Y_I == expected


def corrupt(tmp_path: Path, **changes: object) -> Path:
    arrays = dict(write_grid_file(tmp_path / "t.npz").arrays)
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    return write_npz(tmp_path / "bad.npz", arrays)


@pytest.mark.parametrize(
    "changes, pattern",
    [
        ({"Y_phi": None}, r"missing required key 'Y_phi'"),
        ({"Y_I": np.zeros((338, 16, 16), np.float32)}, r"'Y_I': expected shape \(338, 16, 16, 1\).*found \(338, 16, 16\)"),
        ({"diffraction": np.zeros((338, 16, 16, 3), np.float32)}, r"'diffraction': expected shape \(B, N, N, C\).*found \(338, 16, 16, 3\)"),
        ({"coords_nominal": np.zeros((338, 2, 1), np.float32)}, r"'coords_nominal': expected shape \(338, 1, 2, 1\), found \(338, 2, 1\)"),
        ({"probeGuess": np.ones((24, 24), np.complex64)}, r"'probeGuess': expected shape \(16, 16\).*found \(24, 24\)"),
        ({"YY_ground_truth": np.ones((52, 52, 2), np.complex64)}, r"'YY_ground_truth': expected shape \(H, W\).*found \(52, 52, 2\)"),
        ({"YY_ground_truth": np.ones((50, 50, 1), np.complex64)}, r"'YY_ground_truth': declared shape \(50, 50\), allowed \(52, 52\)"),
        ({"norm_Y_I": np.array(0.0)}, r"'norm_Y_I': expected a finite value > 0, found 0.0"),
        ({"Y_I": np.zeros((338, 16, 16, 1), np.complex64)}, r"'Y_I': expected a real array, found dtype complex64"),
    ],
)
def test_bad_arrays_are_one_line_errors(tmp_path: Path, changes: dict, pattern: str) -> None:
    path = corrupt(tmp_path, **changes)
    with pytest.raises(InputError, match=pattern) as err:
        load_gridlines(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_metadata_that_contradicts_the_data_is_an_error(tmp_path: Path) -> None:
    written = write_grid_file(tmp_path / "t.npz")
    for edit, pattern in (
        (("additional_parameters", "nimgs_test", 3), r"'diffraction': expected 507 rows from the grid metadata.*found 338"),
        (("physics_parameters", "N", 64), r"'_metadata': expected physics_parameters.N = 16.*found 64"),
        (("additional_parameters", "size", 10), r"'_metadata': .*smaller than the group window"),
    ):
        meta = json.loads(json.dumps(written.metadata))
        section, key, value = edit
        meta[section][key] = value
        arrays = dict(written.arrays, _metadata=np.array(json.dumps(meta)))
        with pytest.raises(InputError, match=pattern):
            load_gridlines(write_npz(tmp_path / "m.npz", arrays))


@pytest.mark.parametrize("compressed", [False, True])
def test_predictions_stream_in_row_order(tmp_path: Path, compressed: bool) -> None:
    written = write_grid_file(tmp_path / "t.npz")
    ds = load_gridlines(written.path)
    pred_path = write_predictions(tmp_path / "p.npz", written.true_patches[..., 0], compressed=compressed)
    predictions = read_predictions(pred_path, ds, batch_size=50)
    assert len(predictions) == ds.n_rows
    for _ in range(2):  # iterable more than once
        batches = list(predictions)
        assert [b.start for b in batches] == list(range(0, ds.n_rows, 50))
        stacked = np.concatenate([b.patches for b in batches])
        assert stacked.dtype == np.complex64 and stacked.shape == written.true_patches.shape
        np.testing.assert_array_equal(stacked, written.true_patches)


@pytest.mark.parametrize(
    "patches, pattern",
    [
        (np.zeros((10, 16, 16, 1), np.complex64), r"'patches': expected one of the layouts complex-last: complex \(338, 16, 16, 1\) or \(338, 16, 16\);.*found complex64 \(10, 16, 16, 1\)"),
        (np.zeros((338, 16, 16, 1), np.float32), r"'patches': expected one of the layouts .*ri-last: real \(float\) \(338, 16, 16, 1, 2\) or \(338, 16, 16, 2\);.*found float32 \(338, 16, 16, 1\)"),
    ],
)
def test_bad_predictions_are_one_line_errors(tmp_path: Path, patches: np.ndarray, pattern: str) -> None:
    ds = load_gridlines(write_grid_file(tmp_path / "t.npz").path)
    with pytest.raises(InputError, match=pattern):
        read_predictions(write_predictions(tmp_path / "p.npz", patches), ds)
