"""The ``.npy``-in-zip layer of an NPZ: member headers, data offsets of stored members, whole reads.

An NPZ is a zip archive of ``.npy`` files. :func:`describe_member` reads one member's ``.npy``
header (shape, dtype, memory order) without touching its data and, for a member stored without
compression, finds the byte offset of its data inside the zip file, so that it can be
memory-mapped. Nothing here ever unpickles.
"""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ptychostitch.errors import InputError

_LOCAL_HEADER = struct.Struct("<4s22xHH")
LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"
"""The first four bytes of a zip member's local header (and of any zip file)."""


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
    """Header facts for one member; for a stored member, also where its data starts in the file."""
    if item.flag_bits & 0x1:
        raise InputError(f"{path}: key {key!r}: encrypted zip members are not supported")
    if item.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise InputError(f"{path}: key {key!r}: expected a stored or deflated member, found zip compression method {item.compress_type}")
    try:
        with archive.open(item) as fh:
            shape, fortran, dtype = read_header(fh, path, key)
            header_len = fh.tell()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise InputError(f"{path}: key {key!r}: damaged zip member ({exc})") from exc
    info = MemberInfo(key, shape, dtype, fortran, item.compress_type == zipfile.ZIP_DEFLATED, None)
    if info.compressed:
        expected = header_len + (0 if dtype.hasobject else info.nbytes)
        if not dtype.hasobject and item.file_size != expected:
            raise InputError(f"{path}: key {key!r}: expected {expected} bytes for shape {shape} {dtype}, found {item.file_size}")
        return info
    raw.seek(item.header_offset)
    signature, name_len, extra_len = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    if signature != LOCAL_HEADER_SIGNATURE:
        raise InputError(f"{path}: key {key!r}: damaged zip member (bad local header)")
    offset = item.header_offset + _LOCAL_HEADER.size + name_len + extra_len + header_len
    if not dtype.hasobject:
        if item.file_size != header_len + info.nbytes or offset + info.nbytes > size:
            raise InputError(
                f"{path}: key {key!r}: expected {info.nbytes} data bytes for shape {shape} {dtype}, "
                f"found {min(item.file_size - header_len, size - offset)} (truncated?)"
            )
    return MemberInfo(key, shape, dtype, fortran, False, offset)


def read_header(fh: BinaryIO, path: Path, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Parse a ``.npy`` header (versions 1.0 and 2.0) from ``fh``; leaves ``fh`` at the data."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fh)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(fh)
    except ValueError as exc:
        raise InputError(f"{path}: key {key!r}: not a readable .npy array ({exc})") from exc
    raise InputError(f"{path}: key {key!r}: expected .npy format version 1.0 or 2.0, found {version[0]}.{version[1]}")


def read_array(fh: BinaryIO, path: Path, key: str) -> np.ndarray:
    try:
        return np.lib.format.read_array(fh, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile, zlib.error, OSError) as exc:
        raise InputError(f"{path}: key {key!r}: cannot read the array ({exc})") from exc


def refuse_objects(path: Path, info: MemberInfo) -> None:
    if info.dtype.hasobject:
        raise InputError(f"{path}: key {info.key!r}: expected a numeric array, found dtype object (pickled data is never loaded)")
