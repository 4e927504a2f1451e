"""Read NPZ files without pickle, mapping or streaming large members instead of loading them.

An NPZ is a zip archive of ``.npy`` files. :func:`open_npz` reads every member's ``.npy`` header
(shape, dtype, memory order) without touching its data, then hands out arrays in one of two
ways:

* a member **stored** without compression (``np.savez``) is returned as a read-only
  :class:`numpy.memmap` at the member's data offset inside the zip file: the operating system
  pages in only the rows that are read;
* a **deflated** member (``np.savez_compressed``, PtychoPINN's writer) cannot be mapped. It is
  returned as a :class:`StreamedArray`, which decompresses rows on demand. Reading rows in
  increasing order (as :func:`iter_row_batches` does) costs one decompression pass and one
  batch of memory; going back to an earlier row restarts decompression from the beginning of
  the member.

No member is ever unpickled. ``_metadata`` (a JSON string) is accepted as a 0-d unicode or
bytes array, or as PtychoPINN's pickled 0-d object array holding a ``str``. That pickle is
decoded by :class:`_MetadataUnpickler`, which resolves only the four names such a pickle
contains, and resolves them to inert recorders rather than to numpy: no callable of the
file's choosing ever runs. Anything else in ``_metadata`` is an :class:`InputError`.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import pickle
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Union

import numpy as np

from ptychostitch.errors import InputError

log = logging.getLogger(__name__)

METADATA_KEY = "_metadata"
_METADATA_MAX_BYTES = 16 * 2**20
_CHUNK_BYTES = 2**20
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"


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


class StreamedArray:
    """A read-only array whose rows are decompressed from a deflated NPZ member on demand.

    Supports ``len``, ``shape``, ``dtype``, ``ndim``, indexing whose first item is an integer
    or a slice (``a[5]``, ``a[10:20]``, ``a[10:20, ..., 0]``), :meth:`read_rows` and
    ``np.asarray(a)`` (which reads the whole member: do that only for small arrays).

    Consecutive increasing reads continue one open decompression stream; a read that starts
    before the current stream position re-opens the member and decompresses from its start.
    """

    def __init__(self, path: Path, info: MemberInfo) -> None:
        self.path = path
        self.info = info
        self._archive: zipfile.ZipFile | None = None
        self._stream: BinaryIO | None = None
        self._next_row = 0
        self._whole: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.info.shape

    @property
    def dtype(self) -> np.dtype:
        return self.info.dtype

    @property
    def ndim(self) -> int:
        return len(self.info.shape)

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
        if self.info.fortran_order:
            if self._whole is None:
                log.warning("%s: key %r is compressed in Fortran order, so it is read whole", self.path, self.info.key)
                self._whole = self._read_all()
            return self._whole[start:stop]
        out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        if start == stop:
            return out
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
                f"{self.path}: key {self.info.key!r}: the compressed data ends early or is damaged "
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

    def _reopen(self) -> None:
        self.close()
        self._archive = zipfile.ZipFile(self.path)
        self._stream = self._archive.open(self.info.key + ".npy")
        _read_header(self._stream, self.path, self.info.key)

    def _read_all(self) -> np.ndarray:
        """The whole member, decoded by numpy (0-d and Fortran-ordered members)."""
        with zipfile.ZipFile(self.path) as archive, archive.open(self.info.key + ".npy") as fh:
            return _read_array(fh, self.path, self.info.key)


PatchArray = Union[np.ndarray, StreamedArray]
"""A large array read without loading it: memory-mapped (stored) or streamed (deflated)."""


class NpzArchive:
    """An open NPZ file: member headers, mapped/streamed arrays, small arrays and metadata.

    Open one with :func:`open_npz`. Every method raises :class:`InputError` with one line naming
    the file and key on damaged or unexpected content.
    """

    def __init__(self, path: Path, members: dict[str, MemberInfo]) -> None:
        self.path = path
        self.members = members

    def __contains__(self, key: object) -> bool:
        return key in self.members

    def keys(self) -> list[str]:
        """Array names in archive order."""
        return list(self.members)

    def info(self, key: str) -> MemberInfo:
        """Header facts of ``key``; :class:`InputError` if the file has no such array."""
        if key not in self.members:
            raise InputError(f"{self.path}: missing required key {key!r} (found keys: {', '.join(self.members) or 'none'})")
        return self.members[key]

    def array(self, key: str) -> PatchArray:
        """``key`` without loading it: a read-only memmap if stored, a :class:`StreamedArray` if deflated."""
        info = self.info(key)
        _refuse_objects(self.path, info)
        if info.compressed:
            return StreamedArray(self.path, info)
        assert info.data_offset is not None
        if info.nbytes == 0:
            empty = np.empty(info.shape, dtype=info.dtype)
            empty.flags.writeable = False
            return empty
        return np.memmap(
            self.path, dtype=info.dtype, mode="r", offset=info.data_offset, shape=info.shape,
            order="F" if info.fortran_order else "C",
        )

    def read(self, key: str) -> np.ndarray:
        """``key`` read whole into memory (for small arrays such as the probe), read-only."""
        info = self.info(key)
        _refuse_objects(self.path, info)
        with zipfile.ZipFile(self.path) as archive, archive.open(key + ".npy") as fh:
            out = _read_array(fh, self.path, key)
        out.flags.writeable = False
        return out

    def metadata(self) -> dict[str, Any]:
        """The ``_metadata`` JSON object as a dict; ``{}`` when the file has none.

        Accepted encodings: a 0-d unicode or bytes array holding JSON, or PtychoPINN's pickled
        0-d object array holding a JSON ``str`` (decoded without running any pickled code).
        Anything else, or text that is not a JSON object, is an :class:`InputError`.
        """
        if METADATA_KEY not in self.members:
            return {}
        info = self.members[METADATA_KEY]
        where = f"{self.path}: key {METADATA_KEY!r}"
        if info.shape != ():
            raise InputError(f"{where}: expected a 0-d array holding a JSON string, found shape {info.shape}")
        if info.dtype.kind in "US":
            value = self.read(METADATA_KEY).item()
            try:
                text = value.decode("utf-8") if isinstance(value, bytes) else value
            except UnicodeDecodeError as exc:
                raise InputError(f"{where}: expected UTF-8 JSON text, found bytes that are not UTF-8 ({exc.reason})") from exc
        elif info.dtype.kind == "O":
            text = self._pickled_string(where)
        else:
            raise InputError(f"{where}: expected a JSON string, found a 0-d array of dtype {info.dtype}")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: expected JSON text, found text that does not parse ({exc.msg} at character {exc.pos})") from exc
        if not isinstance(parsed, dict):
            raise InputError(f"{where}: expected a JSON object, found a JSON {type(parsed).__name__}")
        return parsed

    def _pickled_string(self, where: str) -> str:
        with zipfile.ZipFile(self.path) as archive, archive.open(METADATA_KEY + ".npy") as fh:
            _read_header(fh, self.path, METADATA_KEY)
            payload = fh.read(_METADATA_MAX_BYTES + 1)
        if len(payload) > _METADATA_MAX_BYTES:
            raise InputError(f"{where}: expected at most {_METADATA_MAX_BYTES} bytes of pickled metadata, found more")
        try:
            return _MetadataUnpickler(io.BytesIO(payload)).load_string()
        except _RefusedPickle as exc:
            raise InputError(f"{where}: expected a pickled plain string, found {exc} (refused; nothing was executed)") from exc
        except Exception as exc:  # noqa: BLE001 - any malformed pickle is bad input
            raise InputError(f"{where}: expected a pickled plain string, found an unreadable pickle ({exc!r})") from exc


def open_npz(path: str | os.PathLike[str]) -> NpzArchive:
    """Open ``path`` and read the header of every ``.npy`` member (not their data).

    Raises
    ------
    InputError
        The file is missing, is not a zip archive, is truncated or damaged, or a member is not
        a readable ``.npy`` array (one line naming the file and the problem).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found" if not path.exists() else f"{path}: not a regular file")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head == _LOCAL_HEADER_SIGNATURE:
            found = f"a truncated or damaged one ({path.stat().st_size} bytes, no readable end-of-archive record)"
        else:
            found = f"a file that is not a zip archive (it starts with {head!r})"
        raise InputError(f"{path}: expected an NPZ (zip) archive, found {found}") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    size = path.stat().st_size
    members: dict[str, MemberInfo] = {}
    with archive, open(path, "rb") as raw:
        for item in archive.infolist():
            if not item.filename.endswith(".npy"):
                log.debug("%s: ignoring member %r (not .npy)", path, item.filename)
                continue
            key = item.filename[: -len(".npy")]
            members[key] = _describe(archive, raw, item, key, path, size)
    return NpzArchive(path, members)


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


class _RefusedPickle(Exception):
    """The metadata pickle asks for something other than a 0-d object array holding a str."""


class _Recorded:
    """An inert stand-in for a numpy object named in a pickle: it records, it never runs."""

    def __init__(self, kind: str, args: tuple[Any, ...]) -> None:
        self.kind = kind
        self.args = args
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _record_reconstruct(*args: Any) -> _Recorded:
    return _Recorded("ndarray", args)


def _record_dtype(*args: Any) -> _Recorded:
    return _Recorded("dtype", args)


def _latin1(text: Any, encoding: Any) -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it to spell bytes; only for latin-1 text."""
    if not isinstance(text, str) or encoding != "latin1":
        raise _RefusedPickle(f"_codecs.encode called with ({type(text).__name__}, {encoding!r})")
    return text.encode("latin-1")


_NDARRAY = _Recorded("ndarray class", ())


class _MetadataUnpickler(pickle.Unpickler):
    """Decode ``np.save``'s pickle of a 0-d object array holding a ``str``, running nothing.

    ``np.save`` writes such an array as ``_reconstruct(ndarray, (0,), b'b')`` followed by the
    state ``(1, (), dtype('O8'), False, [text])``. The only globals it names are
    ``numpy[._]core.multiarray._reconstruct``, ``numpy.ndarray`` and ``numpy.dtype`` (and
    ``_codecs.encode`` in protocol 2). They resolve to :class:`_Recorded` stand-ins, so the
    result is a record of what the pickle asked for; any other global is refused.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _record_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _record_reconstruct,
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _record_dtype,
        ("_codecs", "encode"): _latin1,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise _RefusedPickle(f"a pickle that calls {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _RefusedPickle("a pickle with persistent references")

    def load_string(self) -> str:
        """Unpickle and return the string, or raise :class:`_RefusedPickle` describing what was found."""
        top = self.load()
        if not (isinstance(top, _Recorded) and top.kind == "ndarray" and top.args[:1] == (_NDARRAY,)):
            raise _RefusedPickle(f"a pickled {type(top).__name__}, not a numpy array")
        state = top.state
        if not (isinstance(state, tuple) and len(state) == 5):
            raise _RefusedPickle("a numpy array pickle without the usual state")
        _, shape, dtype, _, data = state
        descr = dtype.args[0] if isinstance(dtype, _Recorded) and dtype.kind == "dtype" and dtype.args else None
        if shape != () or descr != "O8":
            raise _RefusedPickle(f"a pickled array of shape {shape} and dtype {descr!r}, not a 0-d object array")
        if not (isinstance(data, list) and len(data) == 1 and type(data[0]) is str):
            held = type(data[0]).__name__ if isinstance(data, list) and len(data) == 1 else "unexpected data"
            raise _RefusedPickle(f"a 0-d object array holding {held}, not a str")
        return data[0]


def _describe(archive: zipfile.ZipFile, raw: BinaryIO, item: zipfile.ZipInfo, key: str, path: Path, size: int) -> MemberInfo:
    """Header facts for one member; for a stored member, also where its data starts in the file."""
    if item.flag_bits & 0x1:
        raise InputError(f"{path}: key {key!r}: encrypted zip members are not supported")
    if item.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise InputError(f"{path}: key {key!r}: expected a stored or deflated member, found zip compression method {item.compress_type}")
    try:
        with archive.open(item) as fh:
            shape, fortran, dtype = _read_header(fh, path, key)
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
    if signature != _LOCAL_HEADER_SIGNATURE:
        raise InputError(f"{path}: key {key!r}: damaged zip member (bad local header)")
    offset = item.header_offset + _LOCAL_HEADER.size + name_len + extra_len + header_len
    if not dtype.hasobject:
        if item.file_size != header_len + info.nbytes or offset + info.nbytes > size:
            raise InputError(
                f"{path}: key {key!r}: expected {info.nbytes} data bytes for shape {shape} {dtype}, "
                f"found {min(item.file_size - header_len, size - offset)} (truncated?)"
            )
    return MemberInfo(key, shape, dtype, fortran, False, offset)


def _read_header(fh: BinaryIO, path: Path, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
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


def _read_array(fh: BinaryIO, path: Path, key: str) -> np.ndarray:
    try:
        return np.lib.format.read_array(fh, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile, zlib.error, OSError) as exc:
        raise InputError(f"{path}: key {key!r}: cannot read the array ({exc})") from exc


def _refuse_objects(path: Path, info: MemberInfo) -> None:
    if info.dtype.hasobject:
        raise InputError(f"{path}: key {info.key!r}: expected a numeric array, found dtype object (pickled data is never loaded)")
