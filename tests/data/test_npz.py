"""NPZ access without pickle: memory-mapped stored members, streamed deflated ones, safe metadata."""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.data.npz import open_npz
from ptychostitch.data.streamed import StreamedArray, iter_row_batches
from ptychostitch.errors import InputError

ROWS_SHAPE = (600, 16, 16, 2)


def random_rows(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(ROWS_SHAPE, dtype=np.float32)


def npz_with_member(path: Path, key: str, npy_bytes: bytes, **arrays: np.ndarray) -> Path:
    """An NPZ whose ``key`` member holds ``npy_bytes`` verbatim, beside ordinary arrays."""
    np.savez(path, **arrays)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(key + ".npy", npy_bytes)
    return path


def object_npy(pickle_bytes: bytes) -> bytes:
    """A ``.npy`` file for a 0-d object array whose data is ``pickle_bytes``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
    return buf.getvalue() + pickle_bytes


class RunsShell:
    """Unpickling this runs a shell command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


class OpensFile:
    """Unpickling this creates a file."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (self.target, "w")


def test_stored_member_is_a_read_only_memmap_of_the_file(tmp_path: Path) -> None:
    rows = random_rows()
    path = tmp_path / "stored.npz"
    np.savez(path, rows=rows, other=np.arange(3))
    archive = open_npz(path)
    mapped = archive.array("rows")
    assert isinstance(mapped, np.memmap)
    assert not mapped.flags.writeable
    np.testing.assert_array_equal(mapped, rows)
    # The array is the file itself: bytes changed on disk show through the mapping.
    info = archive.info("rows")
    row_bytes = rows[0].nbytes
    with open(path, "r+b") as fh:
        fh.seek(info.data_offset + 7 * row_bytes)
        fh.write(np.full(rows[0].shape, 42.0, np.float32).tobytes())
    assert np.all(mapped[7] == 42.0)
    np.testing.assert_array_equal(mapped[8], rows[8])


@pytest.mark.parametrize("compressed", [False, True])
def test_fortran_order_and_big_endian_members_read_correctly(
    tmp_path: Path, compressed: bool, caplog: pytest.LogCaptureFixture
) -> None:
    fortran = np.asfortranarray(np.arange(60.0).reshape(6, 10))
    big = np.arange(24, dtype=">i4").reshape(4, 6)
    path = tmp_path / "orders.npz"
    (np.savez_compressed if compressed else np.savez)(path, fortran=fortran, big=big)
    caplog.set_level(logging.INFO, logger="ptychostitch.data.inflated")
    archive = open_npz(path)
    assert archive.info("fortran").fortran_order
    np.testing.assert_array_equal(archive.array("fortran")[2:5], fortran[2:5])
    np.testing.assert_array_equal(np.asarray(archive.array("fortran")), fortran)
    np.testing.assert_array_equal(archive.array("big")[1:3], big[1:3])
    assert ("decompressed once" in caplog.text) == compressed


def test_headers_are_read_without_reading_data(tmp_path: Path) -> None:
    path = tmp_path / "h.npz"
    np.savez_compressed(path, rows=random_rows(), probe=np.ones((16, 16), np.complex64))
    archive = open_npz(path)
    assert archive.info("rows").shape == ROWS_SHAPE and archive.info("rows").dtype == np.float32
    assert archive.info("rows").compressed and archive.info("rows").data_offset is None
    assert archive.info("probe").dtype == np.complex64
    assert set(archive.keys()) == {"rows", "probe"}


@pytest.mark.parametrize("compressed", [False, True])
def test_reading_row_batches_never_holds_the_whole_member(tmp_path: Path, compressed: bool) -> None:
    rows = np.random.default_rng(1).random((2000, 16, 16, 2), dtype=np.float32)
    path = tmp_path / "big.npz"
    (np.savez_compressed if compressed else np.savez)(path, rows=rows)
    array = open_npz(path).array("rows")
    checksum = 0.0
    tracemalloc.start()
    try:
        for _, batch in iter_row_batches(array, 20):
            checksum += float(np.asarray(batch, dtype=np.float64).sum())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert checksum == pytest.approx(float(rows.astype(np.float64).sum()), rel=1e-9)
    assert peak < rows.nbytes / 8, f"peak {peak} bytes for a {rows.nbytes}-byte member"


def test_compressed_member_streams_the_same_values_as_np_load(tmp_path: Path) -> None:
    rows = random_rows(2)
    path = tmp_path / "c.npz"
    np.savez_compressed(path, rows=rows)
    lazy = open_npz(path).array("rows")
    assert isinstance(lazy, StreamedArray)
    assert lazy.shape == rows.shape and lazy.dtype == rows.dtype and len(lazy) == len(rows)
    with np.load(path, allow_pickle=False) as reference:
        expected = reference["rows"]
    np.testing.assert_array_equal(lazy[5], expected[5])
    np.testing.assert_array_equal(lazy[100:130, :, 3, 1], expected[100:130, :, 3, 1])
    np.testing.assert_array_equal(lazy[-1], expected[-1])
    np.testing.assert_array_equal(lazy[10:2], expected[10:2])
    assert not lazy.cached  # every read so far went forwards (an empty one reads nothing): one streaming pass
    np.testing.assert_array_equal(lazy[400:40:-37], expected[400:40:-37])  # backwards: decompressed once into the cache
    assert lazy.cached
    np.testing.assert_array_equal(lazy[3:600:50], expected[3:600:50])
    np.testing.assert_array_equal(lazy[1:4], expected[1:4])
    np.testing.assert_array_equal(np.asarray(lazy), expected)
    with pytest.raises(IndexError):
        lazy[600]


def test_damaged_compressed_data_is_a_one_line_input_error(tmp_path: Path) -> None:
    path = tmp_path / "damaged.npz"
    np.savez_compressed(path, rows=random_rows(3))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    lazy = open_npz(path).array("rows")
    with pytest.raises(InputError, match=r"key 'rows'.*damaged") as err:
        for _ in iter_row_batches(lazy, 50):
            pass
    assert "\n" not in str(err.value)


def test_object_members_are_refused_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(path, things=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(InputError, match=r"'things'.*dtype object"):
        open_npz(path).array("things")
    with pytest.raises(InputError, match="dtype object"):
        open_npz(path).read("things")


META = {"schema_version": "1.0.0", "additional_parameters": {"nimgs_test": 2, "outer_offset_test": 20}}


def test_metadata_plain_unicode_and_bytes_strings(tmp_path: Path) -> None:
    np.savez(tmp_path / "u.npz", _metadata=np.array(json.dumps(META)))
    np.savez(tmp_path / "b.npz", _metadata=np.array(json.dumps(META).encode()))
    np.savez(tmp_path / "none.npz", x=np.zeros(2))
    assert open_npz(tmp_path / "u.npz").metadata() == META
    assert open_npz(tmp_path / "b.npz").metadata() == META
    assert open_npz(tmp_path / "none.npz").metadata() == {}


@pytest.mark.parametrize("compressed", [False, True])
def test_metadata_pickled_by_numpy_as_ptychopinn_does(tmp_path: Path, compressed: bool) -> None:
    path = tmp_path / "p.npz"
    (np.savez_compressed if compressed else np.savez)(path, _metadata=np.array(json.dumps(META), dtype=object))
    assert open_npz(path).metadata() == META


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_metadata_pickled_with_any_protocol_and_numpy_1_module_names(tmp_path: Path, protocol: int) -> None:
    payload = pickle.dumps(np.array(json.dumps(META), dtype=object), protocol=protocol)
    if protocol <= 3:  # text GLOBAL opcodes: spell them as numpy 1.x (PtychoPINN's environment) did
        payload = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        assert b"numpy.core.multiarray" in payload
    path = npz_with_member(tmp_path / f"p{protocol}.npz", "_metadata", object_npy(payload))
    assert open_npz(path).metadata() == META


def test_pickle_that_runs_a_shell_command_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = npz_with_member(tmp_path / "evil.npz", "_metadata", object_npy(pickle.dumps(RunsShell(f"touch {marker}"))))
    with pytest.raises(InputError, match=r"_metadata.*system.*nothing was executed"):
        open_npz(path).metadata()
    assert not marker.exists()
    # The payload is live: numpy's own unpickling runs it.
    with np.load(path, allow_pickle=True) as unsafe:
        unsafe["_metadata"]
    assert marker.exists()


def test_pickle_hidden_inside_an_object_array_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "created-by-pickle"
    path = tmp_path / "evil2.npz"
    np.savez(path, _metadata=np.array(OpensFile(str(marker)), dtype=object))
    with pytest.raises(InputError, match=r"_metadata.*open"):
        open_npz(path).metadata()
    assert not marker.exists()
    with np.load(path, allow_pickle=True) as unsafe:
        unsafe["_metadata"].item().close()
    assert marker.exists()


@pytest.mark.parametrize(
    "value, found",
    [
        (np.array({"a": 1}, dtype=object), "holding dict"),
        (np.array(["a", "b"], dtype=object), "shape (2,)"),
        (np.array(b"{}", dtype=object), "holding bytes"),
    ],
)
def test_pickled_metadata_that_is_not_one_string_is_refused(tmp_path: Path, value: np.ndarray, found: str) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, _metadata=value)
    with pytest.raises(InputError, match="_metadata") as err:
        open_npz(path).metadata()
    assert found in str(err.value)


@pytest.mark.parametrize("text, found", [("not json", "does not parse"), ("[1, 2]", "JSON list")])
def test_metadata_that_is_not_a_json_object_is_refused(tmp_path: Path, text: str, found: str) -> None:
    path = tmp_path / "j.npz"
    np.savez(path, _metadata=np.array(text))
    with pytest.raises(InputError, match=found):
        open_npz(path).metadata()
