"""Deflated NPZ members read row by row: :class:`StreamedArray`, and batch iteration over any row array.

A deflated member (``np.savez_compressed``, PtychoPINN's writer) cannot be memory-mapped.
:class:`StreamedArray` decompresses rows on demand. Reading rows in increasing order (as
:func:`iter_row_batches` and stitching do) costs one decompression pass and one batch of memory.
The first read that goes back to an earlier row (shuffled training batches) decompresses the
member once, whole, into an uncompressed cache (:mod:`~ptychostitch.data.inflated`), and every
later read is served from it: random access costs one decompression, never one per batch.
"""

from __future__ import annotations

import logging
import math
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Union

import numpy as np

from ptychostitch.data.inflated import CacheUnavailable, inflate
from ptychostitch.data.npy_header import MemberInfo, read_array, read_header, reading
from ptychostitch.errors import InputError, quoted

log = logging.getLogger(__name__)

_CHUNK_BYTES = 2**20


class StreamedArray:
    """A read-only array whose rows are decompressed from a deflated NPZ member on demand.

    Supports ``len``, ``shape``, ``dtype``, ``ndim``, indexing whose first item is an integer
    or a slice (``a[5]``, ``a[10:20]``, ``a[10:20, ..., 0]``), :meth:`read_rows` and
    ``np.asarray(a)`` (which reads the whole member: do that only for small arrays).

    Consecutive increasing reads continue one open decompression stream. The first read that
    starts before the current stream position (and the first read of a Fortran-ordered member,
    which cannot be streamed by rows) decompresses the member once into an uncompressed cache
    (:func:`~ptychostitch.data.inflated.inflate`: in memory if small, else a memory-mapped
    unnamed temporary file), which serves every later read. If the temporary file cannot be
    written, a warning says why and backward reads decompress from the start of the member again.
    """

    def __init__(self, path: Path, info: MemberInfo) -> None:
        self.path = path
        self.info = info
        self._archive: zipfile.ZipFile | None = None
        self._stream: BinaryIO | None = None
        self._next_row = 0
        self._cache: np.ndarray | None = None
        self._streaming_only = False

    @property
    def shape(self) -> tuple[int, ...]:
        return self.info.shape

    @property
    def dtype(self) -> np.dtype:
        return self.info.dtype

    @property
    def ndim(self) -> int:
        return len(self.info.shape)

    @property
    def cached(self) -> bool:
        """True once the member has been decompressed into its uncompressed cache."""
        return self._cache is not None

    def __len__(self) -> int:
        if not self.info.shape:
            raise TypeError("len() of a 0-d array")
        return self.info.shape[0]

    def __repr__(self) -> str:
        return f"StreamedArray({str(self.path)!r}, key={self.info.key!r}, shape={self.shape}, dtype={self.dtype})"

    def __getitem__(self, key: Any) -> np.ndarray:
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) and key else (key, ())
        if isinstance(first, (int, np.integer)):
            row = int(first) + (len(self) if first < 0 else 0)
            if not 0 <= row < len(self):
                raise IndexError(f"row {int(first)} is out of range for {len(self)} rows")
            block = self.read_rows(row, row + 1)[0]
            return block[rest] if rest else block
        if not isinstance(first, slice):
            raise TypeError(f"StreamedArray rows are selected by an integer or a slice, not {type(first).__name__}")
        rows = range(*first.indices(len(self)))
        if not rows:
            block = self.read_rows(0, 0)
        elif rows.step == 1:
            block = self.read_rows(rows.start, rows.stop)
        else:
            low, high = min(rows[0], rows[-1]), max(rows[0], rows[-1]) + 1
            block = self.read_rows(low, high)[np.asarray(rows) - low]
        return block[(slice(None), *rest)] if rest else block

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self.read_rows(0, len(self)) if self.ndim else self._read_all()
        return whole if dtype is None else whole.astype(dtype)

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop - 1`` as a new array of shape ``(stop - start, *shape[1:])``."""
        if not 0 <= start <= stop <= len(self):
            raise IndexError(f"rows {start}:{stop} are out of range for {len(self)} rows")
        if start == stop:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        backwards = self._stream is not None and start < self._next_row
        if self._cache is None and (self.info.fortran_order or (backwards and not self._streaming_only)):
            self._fill_cache()
        if self._cache is not None:
            return np.array(self._cache[start:stop])
        out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        row_bytes = math.prod(self.shape[1:]) * self.dtype.itemsize
        try:
            if self._stream is None or start < self._next_row:
                self._reopen()
            assert self._stream is not None
            skip = (start - self._next_row) * row_bytes
            while skip:
                got = len(self._stream.read(min(skip, _CHUNK_BYTES)))
                if not got:
                    raise EOFError
                skip -= got
            view = memoryview(out.reshape(-1).view(np.uint8))
            filled = 0
            while filled < len(view):
                chunk = self._stream.read(min(len(view) - filled, _CHUNK_BYTES))
                if not chunk:
                    raise EOFError
                view[filled : filled + len(chunk)] = chunk
                filled += len(chunk)
        except (EOFError, zipfile.BadZipFile, zlib.error, OSError, ValueError) as exc:
            self.close()
            raise InputError(
                f"{quoted(self.path)}: key {self.info.key!r}: the compressed data ends early or is damaged "
                f"({type(exc).__name__}) while reading rows {start}:{stop}"
            ) from exc
        self._next_row = stop
        return out

    def close(self) -> None:
        """Close the open decompression stream, if any."""
        if self._stream is not None:
            self._stream.close()
        if self._archive is not None:
            self._archive.close()
        self._stream = self._archive = None
        self._next_row = 0

    def _fill_cache(self) -> None:
        """Decompress the whole member once into :attr:`_cache`; without a temporary file, keep streaming (warned)."""
        self.close()
        try:
            self._cache = inflate(self.path, self.info)
        except CacheUnavailable as exc:
            if self.info.fortran_order:
                log.warning("%s: key %r: %s, so this Fortran-ordered member is decompressed into memory", quoted(self.path), self.info.key, exc)
                self._cache = inflate(self.path, self.info, memory=True)
                return
            log.warning(
                "%s: key %r: %s, so rows read out of order are decompressed again from the start of the member "
                "(slow: set TMPDIR to a folder with room for %.0f MB, or re-save the file with np.savez)",
                quoted(self.path), self.info.key, exc, self.info.nbytes / 1e6,
            )
            self._streaming_only = True

    def _reopen(self) -> None:
        self.close()
        self._archive = zipfile.ZipFile(self.path)
        self._stream = self._archive.open(self.info.key + ".npy")
        read_header(self._stream, self.path, self.info.key)

    def _read_all(self) -> np.ndarray:
        """The whole member, decoded by numpy (0-d members)."""
        with reading(self.path, self.info.key), zipfile.ZipFile(self.path) as archive, archive.open(self.info.key + ".npy") as fh:
            return read_array(fh, self.path, self.info.key)


PatchArray = Union[np.ndarray, StreamedArray]
"""A large array read without loading it: memory-mapped (stored) or streamed (deflated)."""

def iter_row_batches(
    array: np.ndarray | StreamedArray, batch_size: int, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_row, rows)`` for consecutive row batches of ``array``.

    Works for in-memory arrays, memmaps (each batch is a view; pages are read as it is used)
    and :class:`StreamedArray` (one decompression pass for the whole iteration).

    Parameters
    ----------
    array : ndarray, memmap or StreamedArray, shape (B, ...)
        Rows to read.
    batch_size : int
        Rows per batch (the last batch may be shorter).
    start, stop : int
        Row range to cover; ``stop`` defaults to ``len(array)``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    stop = len(array) if stop is None else stop
    for first in range(start, stop, batch_size):
        last = min(first + batch_size, stop)
        rows = array.read_rows(first, last) if isinstance(array, StreamedArray) else array[first:last]
        yield first, rows

