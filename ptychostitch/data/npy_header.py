"""The ``.npy``-in-zip layer of an NPZ: member headers, data offsets of stored members, whole reads.

An NPZ is a zip archive of ``.npy`` files. :func:`describe_member` reads one member's ``.npy``
header (shape, dtype, memory order) without touching its data and, for a member stored without
compression, finds the byte offset of its data inside the zip file, so that it can be
memory-mapped. Nothing here ever unpickles, and nothing is allocated for a member whose declared
size the file cannot hold: a stored member's data must lie inside the file, and a deflated
member cannot expand more than :data:`MAX_DEFLATE_RATIO` times its compressed bytes, which
must lie inside the file too.
"""

from __future__ import annotations

import contextlib
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from ptychostitch.errors import InputError, quoted

_LOCAL_HEADER = struct.Struct("<4s22xHH")
LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"
"""The first four bytes of a zip member's local header (and of any zip file)."""

MAX_DEFLATE_RATIO = 1032
"""The most a deflate stream expands (bytes out per byte in): its longest match, 258 bytes, costs
at least two bits. A member declaring more is forged or damaged."""


@dataclass(frozen=True)
class MemberInfo:
    """One array of an NPZ, described from its ``.npy`` header alone.

    Attributes
    ----------
    key : str
        Array name (the member name without ``.npy``).
    shape : tuple of int
        Array shape.
    dtype : numpy.dtype
        Element type, with the byte order stored in the file.
    fortran_order : bool
        True when the data is stored column-major.
    compressed : bool
        True for a deflated member (streamed), False for a stored one (memory-mapped).
    data_offset : int or None
        Byte offset of the array data in the NPZ file for a stored member; None when deflated.
    """

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    compressed: bool
    data_offset: int | None

    @property
    def nbytes(self) -> int:
        """Size of the array data in bytes."""
        return math.prod(self.shape) * self.dtype.itemsize



def describe_member(archive: zipfile.ZipFile, raw: BinaryIO, item: zipfile.ZipInfo, key: str, path: Path, size: int) -> MemberInfo:
    """Header facts for one member; for a stored member, also where its data starts in the file.

    Raises :class:`InputError` when the member's declared size is more than the file can hold.
    """
    where = f"{quoted(path)}: key {key!r}"
    if item.flag_bits & 0x1:
        raise InputError(f"{where}: encrypted zip members are not supported")
    if item.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise InputError(f"{where}: expected a stored or deflated member, found zip compression method {item.compress_type}")
    if item.header_offset + item.compress_size > size:
        raise InputError(
            f"{where}: declared {item.compress_size} stored bytes at offset {item.header_offset}, "
            f"allowed at most {max(size - item.header_offset, 0)} (the file has {size} bytes; truncated or forged?)"
        )
    try:
        with archive.open(item) as fh:
            shape, fortran, dtype = read_header(fh, path, key)
            header_len = fh.tell()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise InputError(f"{where}: damaged zip member ({exc})") from exc
    info = MemberInfo(key, shape, dtype, fortran, item.compress_type == zipfile.ZIP_DEFLATED, None)
    if info.compressed:
        expected = header_len + (0 if dtype.hasobject else info.nbytes)
        if not dtype.hasobject and item.file_size != expected:
            raise InputError(f"{where}: expected {expected} bytes for shape {shape} {dtype}, found {item.file_size}")
        allowed = MAX_DEFLATE_RATIO * item.compress_size + 1024
        if expected > allowed:
            raise InputError(
                f"{where}: declared shape {shape} {dtype} ({info.nbytes} bytes), allowed at most {allowed} bytes "
                f"by its {item.compress_size} compressed bytes (deflate expands at most {MAX_DEFLATE_RATIO}:1)"
            )
        return info
    offset = member_data_start(raw, item, where) + header_len
    if not dtype.hasobject:
        if item.file_size != header_len + info.nbytes or offset + info.nbytes > size:
            raise InputError(
                f"{where}: declared shape {shape} {dtype} ({info.nbytes} data bytes), "
                f"found {min(item.file_size - header_len, size - offset)} (truncated?)"
            )
    return MemberInfo(key, shape, dtype, fortran, False, offset)


def member_data_start(raw: BinaryIO, item: zipfile.ZipInfo, where: str) -> int:
    """Byte offset in the zip file where ``item``'s (stored or deflated) bytes begin, after its local header.

    ``where`` starts the :class:`InputError` raised when the local header is damaged.
    """
    raw.seek(item.header_offset)
    signature, name_len, extra_len = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    if signature != LOCAL_HEADER_SIGNATURE:
        raise InputError(f"{where}: damaged zip member (bad local header)")
    return item.header_offset + _LOCAL_HEADER.size + name_len + extra_len


def read_header(fh: BinaryIO, path: Path, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Parse a ``.npy`` header (versions 1.0 and 2.0) from ``fh``; leaves ``fh`` at the data."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fh)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(fh)
    except ValueError as exc:
        raise InputError(f"{quoted(path)}: key {key!r}: not a readable .npy array ({exc})") from exc
    raise InputError(f"{quoted(path)}: key {key!r}: expected .npy format version 1.0 or 2.0, found {version[0]}.{version[1]}")


def read_array(fh: BinaryIO, path: Path, key: str) -> np.ndarray:
    try:
        return np.lib.format.read_array(fh, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile, zlib.error, OSError) as exc:
        raise InputError(f"{quoted(path)}: key {key!r}: cannot read the array ({exc})") from exc


def refuse_objects(path: Path, info: MemberInfo) -> None:
    if info.dtype.hasobject:
        raise InputError(f"{quoted(path)}: key {info.key!r}: expected a numeric array, found dtype object (pickled data is never loaded)")


@contextlib.contextmanager
def reading(path: Path, key: str | None = None) -> Iterator[None]:
    """Turn an operating-system failure while reading ``path`` (EIO, a vanished file) into a one-line :class:`InputError`."""
    try:
        yield
    except OSError as exc:
        member = f"key {key!r}: " if key is not None else ""
        raise InputError(f"{quoted(path)}: {member}cannot be read ({exc.strerror or exc})") from exc
