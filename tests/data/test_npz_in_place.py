"""``presized_npz`` and ``seal_npz``: a stored NPZ member written in place by separate writers reads back with ``np.load``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.data import npz_writer
from ptychostitch.data.npz_writer import presized_npz, seal_npz


def test_rows_written_in_place_by_two_writers_read_back_after_sealing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(npz_writer, "CHUNK_BYTES", 1000)  # several chunks for the zeros and the checksum
    path, shape = tmp_path / "p.npz", (37, 5, 5, 2)
    rng = np.random.default_rng(0)
    expected = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    offset = presized_npz(path, "patches", shape, np.dtype(np.complex64))
    with np.load(path) as fresh:
        np.testing.assert_array_equal(fresh["patches"], np.zeros(shape, np.complex64))
    for rows in (slice(20, 37), slice(0, 20)):  # two writers, each its own block, in any order
        mapped = np.memmap(path, dtype=np.complex64, mode="r+", offset=offset, shape=shape)
        mapped[rows] = expected[rows]
        mapped.flush()
        del mapped
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() == "patches.npy"  # the recorded checksum is the zeros'
    seal_npz(path)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None and archive.infolist()[0].compress_type == zipfile.ZIP_STORED
    with np.load(path) as file:
        assert list(file.keys()) == ["patches"]
        np.testing.assert_array_equal(file["patches"], expected)


def test_a_compressed_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    np.savez_compressed(path, patches=np.ones((4, 3), np.complex64))
    with pytest.raises(ValueError, match="compressed, expected stored"):
        seal_npz(path)
