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
from typing import Iterable

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
        dtype = np.dtype(dtype)
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
        rows = 0
        with self._zip.open(f"{name}.npy", mode="w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            for chunk in chunks:
                if chunk.dtype != dtype or chunk.shape[1:] != tuple(shape[1:]):
                    raise ValueError(f"{name}: chunk {chunk.dtype}{chunk.shape} does not fit {dtype}{tuple(shape)}")
                fh.write(np.ascontiguousarray(chunk).reshape(-1).view(np.uint8))
                rows += chunk.shape[0]
        if rows != shape[0]:
            raise ValueError(f"{name}: chunks held {rows} rows, expected {shape[0]}")
