"""An NPZ writer that streams a member's ``.npy`` payload in chunks, so no member is held whole.

The file is an ordinary ``np.load``-able NPZ: a zip (ZIP64) of ``NAME.npy`` entries, each a
version-1.0 ``.npy`` header followed by the C-order payload. Entries are STORED (uncompressed)
by default, so a reader can memory-map a member at its offset in the file, or DEFLATED like
``np.savez_compressed``. Write into a temporary path (:func:`ptychostitch.atomic.atomic_path`).

:func:`presized_npz` and :func:`seal_npz` make a one-member stored NPZ whose payload is written
in place, by several processes at once (through ``np.memmap`` at the payload's offset), and then
given the CRC-32 of what was written.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from types import TracebackType
from typing import BinaryIO, Iterable

import numpy as np


class NpzStreamWriter:
    """Write NPZ members one after another; a context manager that closes the zip.

    Parameters
    ----------
    path : path-like
        File to create (overwritten).
    compress : bool
        Deflate the members (``np.savez_compressed``); otherwise store them (``np.savez``).
    """

    def __init__(self, path: str | os.PathLike[str], *, compress: bool = False) -> None:
        method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        self._zip = zipfile.ZipFile(path, mode="w", compression=method, allowZip64=True)

    def __enter__(self) -> "NpzStreamWriter":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._zip.close()

    def write_array(self, name: str, array: np.ndarray) -> None:
        """Write a whole array as member ``name`` (pickles refused)."""
        with self._zip.open(f"{name}.npy", mode="w", force_zip64=True) as fh:
            np.lib.format.write_array(fh, np.asanyarray(array), allow_pickle=False)

    def write_chunks(
        self, name: str, shape: tuple[int, ...], dtype: np.dtype, chunks: Iterable[np.ndarray]
    ) -> None:
        """Write member ``name`` of ``shape`` and ``dtype`` from consecutive C-order chunks.

        The chunks, concatenated along their first axis, must fill ``shape`` exactly.

        Raises
        ------
        ValueError
            If a chunk has the wrong dtype or trailing shape, or the chunks do not fill ``shape``.
        """
        with self.open_member(name, shape, dtype) as member:
            for chunk in chunks:
                member.write(chunk)

    def open_member(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> "NpzMember":
        """Start member ``name`` of ``shape`` and ``dtype``, to be fed chunk by chunk (:class:`NpzMember`).

        For a writer that is handed its chunks one at a time (a stream it passes on); no other
        member can be written until this one is closed.
        """
        dtype = np.dtype(dtype)
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
        fh = self._zip.open(f"{name}.npy", mode="w", force_zip64=True)
        np.lib.format.write_array_header_1_0(fh, header)
        return NpzMember(fh, name, tuple(shape), dtype)


CHUNK_BYTES = 64 << 20
"""Bytes per read or write when an NPZ member's payload is filled with zeros or checksummed."""

_LOCAL_HEADER = 30
"""Bytes of a zip local file header before its name and extra field; its CRC-32 is at offset 14."""

_CENTRAL_CRC = 16
"""Offset of the CRC-32 in a zip central directory file header."""


def presized_npz(path: str | os.PathLike[str], name: str, shape: tuple[int, ...], dtype: np.dtype) -> int:
    """Create the NPZ ``path`` with the one stored member ``name`` of ``shape`` and ``dtype``, zero-filled; return its payload's offset.

    The payload (the C-order array after the ``.npy`` header) lies contiguous in the file at the
    offset returned, to be written in place through ``np.memmap(path, dtype, "r+", offset,
    shape)``; then :func:`seal_npz` records its checksum. The zeros are written in chunks of
    :data:`CHUNK_BYTES`, so no payload is held whole.
    """
    dtype = np.dtype(dtype)
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    zeros = np.zeros((max(1, min(shape[0], CHUNK_BYTES // max(row_bytes, 1))), *shape[1:]), dtype)
    with NpzStreamWriter(path) as writer, writer.open_member(name, shape, dtype) as member:
        for start in range(0, shape[0], len(zeros)):
            member.write(zeros[: shape[0] - start])
    start, _ = _member_span(path)
    with open(path, "rb") as fh:
        fh.seek(start)
        np.lib.format.read_magic(fh)
        np.lib.format.read_array_header_1_0(fh)
        return fh.tell()


def seal_npz(path: str | os.PathLike[str]) -> None:
    """Record in the NPZ ``path`` (made by :func:`presized_npz`) the CRC-32 of its member as it is now.

    Reads the member in chunks of :data:`CHUNK_BYTES` and rewrites the checksum in its local and
    central headers, so ``np.load`` (which checks it) reads what was written in place.
    """
    start, size = _member_span(path)
    crc = 0
    with open(path, "r+b") as fh:
        fh.seek(start)
        for _ in range(0, size, CHUNK_BYTES):
            crc = zlib.crc32(fh.read(min(CHUNK_BYTES, size - (fh.tell() - start))), crc)
        with zipfile.ZipFile(path) as archive:
            (info,) = archive.infolist()
            central = archive.start_dir
        for at in (info.header_offset + 14, central + _CENTRAL_CRC):
            fh.seek(at)
            fh.write(struct.pack("<I", crc))


def _member_span(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Offset and size of the one stored member's data in the zip ``path``."""
    with zipfile.ZipFile(path) as archive:
        (info,) = archive.infolist()
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{os.fspath(path)!r}: member {info.filename} is compressed, expected stored")
    with open(path, "rb") as fh:
        fh.seek(info.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", fh.read(4))
    return info.header_offset + _LOCAL_HEADER + name_length + extra_length, info.compress_size


class NpzMember:
    """One NPZ member being written: :meth:`write` consecutive C-order chunks, then :meth:`close`.

    A context manager: leaving the block normally closes the member (checking that the chunks
    filled its shape); leaving it with an exception only closes the entry, so that exception is
    what the caller sees.
    """

    def __init__(self, fh: BinaryIO, name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self._fh, self.name, self.shape, self.dtype = fh, name, shape, dtype
        self.rows = 0

    def __enter__(self) -> "NpzMember":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self._fh.close()

    def write(self, chunk: np.ndarray) -> None:
        """Append ``chunk``, the next ``len(chunk)`` rows of the member.

        Raises
        ------
        ValueError
            If the chunk has the wrong dtype or trailing shape, or reaches past the member's rows.
        """
        if chunk.dtype != self.dtype or chunk.shape[1:] != self.shape[1:] or self.rows + chunk.shape[0] > self.shape[0]:
            raise ValueError(
                f"{self.name}: chunk {chunk.dtype}{chunk.shape} after {self.rows} rows does not fit {self.dtype}{self.shape}"
            )
        self._fh.write(np.ascontiguousarray(chunk).reshape(-1).view(np.uint8))
        self.rows += chunk.shape[0]

    def close(self) -> None:
        """Finish the entry.

        Raises
        ------
        ValueError
            If the chunks written do not fill the member's shape.
        """
        self._fh.close()
        if self.rows != self.shape[0]:
            raise ValueError(f"{self.name}: chunks held {self.rows} rows, expected {self.shape[0]}")
