"""A deflated NPZ member decompressed once, whole, into an uncompressed array that rows are read from.

Rows of a deflated member (``np.savez_compressed``, PtychoPINN's writer) can only be decompressed
in order, so reading them in a shuffled order (as training does) would decompress from the start
of the member again for every batch: quadratic in the row count.
:func:`inflate` instead decompresses the member once, streaming (bounded memory: at most
:data:`CHUNK_BYTES` of compressed input and of output at a time), into

* memory, when the member holds at most :data:`IN_MEMORY_BYTES` decompressed bytes, or
* an unnamed temporary file in :func:`cache_dir` (``TMPDIR``), memory-mapped read-only: it has
  no name, so the operating system removes it when the array is released or the process ends,
  however it ends.

The decompressed size is checked as it grows: a member that decompresses to more or fewer bytes
than its zip header declares (which :func:`~ptychostitch.data.npy_header.describe_member` has
already checked against its ``.npy`` header and its compressed size), or whose CRC-32 differs, is
an :class:`InputError`, and no more than the declared size plus one chunk is ever decompressed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

from ptychostitch.data.npy_header import MemberInfo, member_data_start, reading
from ptychostitch.errors import InputError, quoted
from ptychostitch.progress import Progress

log = logging.getLogger(__name__)

IN_MEMORY_BYTES = 64 * 2**20
"""Members of at most this many decompressed bytes are inflated into memory; larger ones into a temporary file."""

CHUNK_BYTES = 4 * 2**20
"""Compressed bytes read, and decompressed bytes produced, per step."""

PROGRESS_BYTES = 256 * 2**20
"""Members larger than this show their progress while they are decompressed (:class:`~ptychostitch.progress.Progress`)."""


class CacheUnavailable(RuntimeError):
    """The temporary file could not be written (no space, no permission); the message says where and why."""


def cache_dir() -> Path:
    """Folder of the temporary files: Python's ``tempfile.gettempdir()``, that is ``TMPDIR`` when set, else ``/tmp``."""
    return Path(tempfile.gettempdir())


def inflate(path: Path, info: MemberInfo, *, memory: bool | None = None) -> np.ndarray:
    """Decompress the deflated member ``info`` of ``path`` once, whole, into a read-only array.

    Parameters
    ----------
    path : Path
        The NPZ file.
    info : MemberInfo
        The member, as :func:`~ptychostitch.data.npy_header.describe_member` described it
        (deflated, not of dtype object).
    memory : bool, optional
        True: into memory; False: into a memory-mapped temporary file; None (default): into
        memory when ``info.nbytes <= IN_MEMORY_BYTES``.

    Returns
    -------
    ndarray or numpy.memmap, shape ``info.shape``, dtype ``info.dtype``, read-only

    Raises
    ------
    InputError
        The member decompresses to another size than its headers declare, is damaged, or the
        file cannot be read (one line naming the file and key).
    CacheUnavailable
        The temporary file cannot be written (for example, no space left in :func:`cache_dir`).
    """
    where = f"{quoted(path)}: key {info.key!r}"
    if info.nbytes == 0:
        empty = np.empty(info.shape, dtype=info.dtype)
        empty.flags.writeable = False
        return empty
    in_memory = info.nbytes <= IN_MEMORY_BYTES if memory is None else memory
    began = time.perf_counter()
    with reading(path, info.key):
        with zipfile.ZipFile(path) as archive:
            item = archive.getinfo(info.key + ".npy")
        with open(path, "rb") as raw:
            raw.seek(member_data_start(raw, item, where))
            if in_memory:
                out = np.empty(info.nbytes, dtype=np.uint8)
                _decompress(raw, item, info, where, _into_memory(out))
                array = out.view(info.dtype).reshape(info.shape, order="F" if info.fortran_order else "C")
                array.flags.writeable = False
            else:
                array = _into_temporary_file(raw, item, info, where)
    seconds = time.perf_counter() - began
    log.info(
        "%s: decompressed once for random row access (%.1f MB in %.1f s, %s)", where, info.nbytes / 1e6, seconds,
        "in memory" if in_memory else f"an unnamed temporary file in {cache_dir()}",
    )
    return array


def _into_memory(out: np.ndarray) -> Callable[[bytes], None]:
    position = 0

    def write(piece: bytes) -> None:
        nonlocal position
        out[position : position + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
        position += len(piece)

    return write


def _into_temporary_file(raw: BinaryIO, item: zipfile.ZipInfo, info: MemberInfo, where: str) -> np.memmap:
    folder = cache_dir()
    try:
        free = shutil.disk_usage(folder).free
        if free < info.nbytes:
            raise CacheUnavailable(f"{folder} has {free / 1e6:.0f} MB free, {info.nbytes / 1e6:.0f} MB needed")
        cache = tempfile.TemporaryFile(dir=folder, prefix="ptychostitch-inflated-")
    except OSError as exc:
        raise CacheUnavailable(f"cannot create a temporary file in {folder} ({exc.strerror or exc})") from exc
    with cache:

        def write(piece: bytes) -> None:
            try:
                cache.write(piece)
            except OSError as exc:
                raise CacheUnavailable(f"cannot write a temporary file in {folder} ({exc.strerror or exc})") from exc

        _decompress(raw, item, info, where, write)
        try:
            cache.flush()
            return np.memmap(cache, dtype=info.dtype, mode="r", shape=info.shape, order="F" if info.fortran_order else "C")
        except OSError as exc:
            raise CacheUnavailable(f"cannot map a temporary file in {folder} ({exc.strerror or exc})") from exc


def _decompress(raw: BinaryIO, item: zipfile.ZipInfo, info: MemberInfo, where: str, write: Callable[[bytes], None]) -> None:
    """Inflate ``item``'s deflated bytes from ``raw`` (positioned at them), handing its data, past the ``.npy`` header, to ``write``."""
    declared = item.file_size
    skip = declared - info.nbytes  # the .npy header: describe_member checked declared == header + nbytes
    expected = f"expected {declared} bytes once decompressed (a .npy header and shape {info.shape} {info.dtype})"
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    left, produced, crc = item.compress_size, 0, 0
    with Progress(log, f"decompress {info.key}", declared, "B", summary=False, show=declared > PROGRESS_BYTES) as bar:
        try:
            while not inflater.eof:
                data = inflater.unconsumed_tail
                if not data and left:
                    data = raw.read(min(CHUNK_BYTES, left))
                    if not data:
                        raise InputError(f"{where}: {expected}, found the file ends inside its compressed data (truncated?)")
                    left -= len(data)
                piece = inflater.decompress(data, CHUNK_BYTES)
                if not piece and not data:
                    raise InputError(f"{where}: {expected}, found {produced} (the compressed data ends early)")
                if produced + len(piece) > declared:
                    raise InputError(f"{where}: {expected}, found more (forged or damaged sizes)")
                crc = zlib.crc32(piece, crc)
                if produced + len(piece) > skip:
                    write(piece[max(skip - produced, 0) :])
                produced += len(piece)
                bar.update(len(piece))
        except zlib.error as exc:
            raise InputError(f"{where}: {expected}, found damaged compressed data ({exc})") from exc
    if produced != declared:
        raise InputError(f"{where}: {expected}, found {produced}")
    if crc != item.CRC:
        raise InputError(f"{where}: expected CRC-32 {item.CRC:#010x} of the decompressed data, found {crc:#010x} (damaged)")

