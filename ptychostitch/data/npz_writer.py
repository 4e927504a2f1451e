"""An NPZ writer that streams a member's ``.npy`` payload in chunks, so no member is held whole.

The file is an ordinary ``np.load``-able NPZ: a zip (ZIP64) of ``NAME.npy`` entries, each a
version-1.0 ``.npy`` header followed by the C-order payload. Entries are STORED (uncompressed)
by default, so a reader can memory-map a member at its offset in the file, or DEFLATED like
``np.savez_compressed``. Write into a temporary path (:func:`ptychostitch.atomic.atomic_path`).
"""

from __future__ import annotations

import os
import zipfile
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
