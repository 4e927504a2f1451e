"""Open an NPZ without pickle, handing out large members memory-mapped or streamed.

:func:`open_npz` reads every member's ``.npy`` header (:mod:`~ptychostitch.data.npy_header`)
without touching its data, then hands out arrays in one of two ways:

* a member **stored** without compression (``np.savez``) is returned as a read-only
  :class:`numpy.memmap` at the member's data offset inside the zip file: the operating system
  pages in only the rows that are read;
* a **deflated** member (``np.savez_compressed``, PtychoPINN's writer) is returned as a
  :class:`~ptychostitch.data.streamed.StreamedArray`, which decompresses rows on demand.

No member is ever unpickled. ``_metadata`` (a JSON string) is accepted as a 0-d unicode or
bytes array, or as PtychoPINN's pickled 0-d object array holding a ``str``, decoded by
:mod:`~ptychostitch.data.safe_unpickle`; either form is at most :data:`METADATA_MAX_BYTES`.
Anything else in ``_metadata`` is an :class:`InputError`, and so is a read that the operating
system fails (EIO): every error names the file and key.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ptychostitch.data.npy_header import LOCAL_HEADER_SIGNATURE, MemberInfo, describe_member, read_array, read_header, reading, refuse_objects
from ptychostitch.data.safe_unpickle import RefusedPickle, unpickle_string
from ptychostitch.data.streamed import PatchArray, StreamedArray
from ptychostitch.errors import InputError, quoted

log = logging.getLogger(__name__)

METADATA_KEY = "_metadata"
METADATA_MAX_BYTES = 16 * 2**20
"""Largest ``_metadata`` accepted, text or pickled (PtychoPINN's are a few kilobytes)."""


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
            raise InputError(f"{quoted(self.path)}: missing required key {key!r} (found keys: {', '.join(self.members) or 'none'})")
        return self.members[key]

    def array(self, key: str) -> PatchArray:
        """``key`` without loading it: a read-only memmap if stored, a :class:`StreamedArray` if deflated."""
        info = self.info(key)
        refuse_objects(self.path, info)
        if info.compressed:
            return StreamedArray(self.path, info)
        assert info.data_offset is not None
        if info.nbytes == 0:
            empty = np.empty(info.shape, dtype=info.dtype)
            empty.flags.writeable = False
            return empty
        with reading(self.path, key):
            return np.memmap(
                self.path, dtype=info.dtype, mode="r", offset=info.data_offset, shape=info.shape,
                order="F" if info.fortran_order else "C",
            )

    def read(self, key: str) -> np.ndarray:
        """``key`` read whole into memory (for small arrays such as the probe), read-only."""
        info = self.info(key)
        refuse_objects(self.path, info)
        with reading(self.path, key), zipfile.ZipFile(self.path) as archive, archive.open(key + ".npy") as fh:
            out = read_array(fh, self.path, key)
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
        where = f"{quoted(self.path)}: key {METADATA_KEY!r}"
        if info.shape != ():
            raise InputError(f"{where}: expected a 0-d array holding a JSON string, found shape {info.shape}")
        if info.dtype.kind in "US":
            if info.nbytes > METADATA_MAX_BYTES:
                raise InputError(f"{where}: declared {info.dtype} text of {info.nbytes} bytes, allowed at most {METADATA_MAX_BYTES}")
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
        except RecursionError as exc:
            raise InputError(f"{where}: expected JSON metadata, found values nested too deeply to read") from exc
        if not isinstance(parsed, dict):
            raise InputError(f"{where}: expected a JSON object, found a JSON {type(parsed).__name__}")
        return parsed

    def _pickled_string(self, where: str) -> str:
        with reading(self.path, METADATA_KEY), zipfile.ZipFile(self.path) as archive, archive.open(METADATA_KEY + ".npy") as fh:
            read_header(fh, self.path, METADATA_KEY)
            payload = fh.read(METADATA_MAX_BYTES + 1)
        if len(payload) > METADATA_MAX_BYTES:
            raise InputError(f"{where}: expected at most {METADATA_MAX_BYTES} bytes of pickled metadata, found more")
        try:
            return unpickle_string(payload)
        except RefusedPickle as exc:
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
        raise InputError(f"{quoted(path)}: file not found" if not path.exists() else f"{quoted(path)}: not a regular file")
    with reading(path):
        return _open(path)


def _open(path: Path) -> NpzArchive:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head == LOCAL_HEADER_SIGNATURE:
            found = f"a truncated or damaged one ({path.stat().st_size} bytes, no readable end-of-archive record)"
        else:
            found = f"a file that is not a zip archive (it starts with {head!r})"
        raise InputError(f"{quoted(path)}: expected an NPZ (zip) archive, found {found}") from exc
    size = path.stat().st_size
    members: dict[str, MemberInfo] = {}
    with archive, open(path, "rb") as raw:
        for item in archive.infolist():
            if not item.filename.endswith(".npy"):
                log.debug("%s: ignoring member %r (not .npy)", path, item.filename)
                continue
            key = item.filename[: -len(".npy")]
            members[key] = describe_member(archive, raw, item, key, path, size)
    return NpzArchive(path, members)

