"""Shuffled row reads of deflated members: the same values as stored members, from one decompression into a cache."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.data import inflated, load_gridlines, open_npz
from ptychostitch.data.streamed import StreamedArray
from ptychostitch.errors import InputError
from ptychostitch.testing.files import write_grid_file, write_npz

PER_ROW_KEYS = ("diffraction", "Y_I", "Y_phi", "coords_nominal")


def shuffled_batches(n_rows: int, batch_size: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Contiguous row ranges covering every row once, their boundaries moved at random and their order shuffled (as training reads)."""
    offset = int(rng.integers(1, batch_size))
    edges = [0, *range(offset, n_rows, batch_size), n_rows]
    ranges = list(zip(edges[:-1], edges[1:]))
    return [ranges[i] for i in rng.permutation(len(ranges))]


@pytest.fixture
def cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``TMPDIR`` for this test: a folder of its own, so what the cache leaves in it can be listed."""
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.parametrize("gridsize", [1, 2])
@pytest.mark.parametrize("in_memory_bytes", [inflated.IN_MEMORY_BYTES, 0], ids=["in memory", "temporary file"])
def test_compressed_and_stored_files_give_identical_rows_under_shuffled_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_folder: Path, gridsize: int, in_memory_bytes: int
) -> None:
    monkeypatch.setattr(inflated, "IN_MEMORY_BYTES", in_memory_bytes)
    arrays = dict(write_grid_file(tmp_path / "source.npz", gridsize=gridsize).arrays)
    del arrays["YY_ground_truth"], arrays["norm_Y_I"]  # a train split
    stored = load_gridlines(write_npz(tmp_path / "stored.npz", arrays), split="train")
    packed = load_gridlines(write_npz(tmp_path / "packed.npz", arrays, compressed=True), split="train")
    assert all(isinstance(getattr(packed, key), StreamedArray) for key in PER_ROW_KEYS)
    assert packed.gridsize == gridsize and packed.n_rows == stored.n_rows > 200
    rng = np.random.default_rng(gridsize)
    for _epoch in range(2):
        for start, stop in shuffled_batches(packed.n_rows, 32, rng):
            for key in PER_ROW_KEYS:
                rows = getattr(packed, key)[start:stop]
                np.testing.assert_array_equal(rows, getattr(stored, key)[start:stop])
                np.testing.assert_array_equal(rows, arrays[key][start:stop])
    assert all(getattr(packed, key).cached for key in PER_ROW_KEYS)
    assert list(cache_folder.iterdir()) == []  # the temporary files have no name


def test_rows_read_in_order_are_streamed_without_a_cache(tmp_path: Path, cache_folder: Path) -> None:
    rows = np.random.default_rng(0).random((300, 8, 8, 1), dtype=np.float32)
    path = tmp_path / "c.npz"
    np.savez_compressed(path, rows=rows)
    lazy = open_npz(path).array("rows")
    for start in range(0, 300, 50):
        np.testing.assert_array_equal(lazy[start : start + 50], rows[start : start + 50])
    assert not lazy.cached


@pytest.mark.parametrize("memory", [True, False], ids=["in memory", "temporary file"])
@pytest.mark.parametrize("fortran", [False, True], ids=["C order", "Fortran order"])
def test_inflate_gives_what_np_load_gives(tmp_path: Path, cache_folder: Path, memory: bool, fortran: bool) -> None:
    values = np.random.default_rng(1).normal(size=(70, 9, 5)).astype(">f8")
    path = tmp_path / "c.npz"
    np.savez_compressed(path, values=np.asfortranarray(values) if fortran else values)
    archive = open_npz(path)
    whole = inflated.inflate(path, archive.info("values"), memory=memory)
    assert isinstance(whole, np.memmap) != memory and not whole.flags.writeable
    assert whole.dtype == values.dtype and whole.flags.f_contiguous == fortran
    np.testing.assert_array_equal(whole, values)


def test_without_room_for_the_temporary_file_rows_are_still_read_correctly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(inflated, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such folder"))
    rows = np.random.default_rng(2).random((120, 8, 8, 1), dtype=np.float32)
    path = tmp_path / "c.npz"
    np.savez_compressed(path, rows=rows)
    lazy = open_npz(path).array("rows")
    np.testing.assert_array_equal(lazy[60:90], rows[60:90])
    np.testing.assert_array_equal(lazy[10:20], rows[10:20])
    np.testing.assert_array_equal(lazy[0:5], rows[0:5])
    assert not lazy.cached
    assert "no such folder" in caplog.text and "set TMPDIR" in caplog.text


@pytest.mark.parametrize("memory", [True, False], ids=["in memory", "temporary file"])
def test_damaged_data_found_while_filling_the_cache_is_a_one_line_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_folder: Path, memory: bool
) -> None:
    monkeypatch.setattr(inflated, "IN_MEMORY_BYTES", inflated.IN_MEMORY_BYTES if memory else 0)
    rows = np.random.default_rng(3).random((600, 16, 16, 2), dtype=np.float32)
    path = tmp_path / "damaged.npz"
    np.savez_compressed(path, rows=rows)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    lazy = open_npz(path).array("rows")
    np.testing.assert_array_equal(lazy[10:20], rows[10:20])  # before the damage
    with pytest.raises(InputError) as err:
        lazy[0:5]  # backwards: the whole member is decompressed, through the damage
    message = str(err.value)
    assert message.startswith(f"{str(path)!r}: key 'rows': expected ") and "damaged" in message and "\n" not in message, message
    assert not lazy.cached and list(cache_folder.iterdir()) == []
