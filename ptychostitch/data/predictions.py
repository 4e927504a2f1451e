"""Patch predictions (``PRED.npz``): read in any of the layouts models write, checked against a test split, streamed in batches; and written as a stream.

``patches`` may be stored in one of :data:`LAYOUTS` (``docs/data.md#prediction-layouts``):
complex channel-last (ptychostitch's own and TensorFlow's), complex channel-first, or real/imag
pairs as PtychoPINN's torch generators produce them. Whatever the layout, the file is read
lazily, one batch at a time, and each batch is converted to the stream's complex64
``(b, N, N, C)``. :class:`PredictionsWriter` writes a patch stream to ``PRED.npz`` (channel-last
complex64, stored) as it flows past, one batch at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Iterable, Iterator, Literal, get_args

import numpy as np

from ptychostitch.data.gridlines import GridLinesDataset, expect
from ptychostitch.data.npz import open_npz
from ptychostitch.data.npz_writer import NpzStreamWriter
from ptychostitch.data.streamed import PatchArray, iter_row_batches
from ptychostitch.errors import InputError, quoted
from ptychostitch.patch_stream import PatchBatch

DEFAULT_BATCH_SIZE = 256
"""Rows per :class:`PatchBatch` when streaming predictions."""

PATCHES_KEY = "patches"
"""The key of the predicted patches in ``PRED.npz``."""

Layout = Literal["complex-last", "complex-first", "ri-last", "ri-first", "ri-channels"]
"""How ``patches`` is stored; see :data:`LAYOUTS`."""

LayoutChoice = Literal["auto", "complex-last", "complex-first", "ri-last", "ri-first", "ri-channels"]
"""A layout, or ``auto``: the one layout whose shapes and dtype fit the file (:func:`fitting_layouts`)."""

LAYOUTS: tuple[Layout, ...] = get_args(Layout)
"""Every layout, in the order they are listed to users."""

def layout_shapes(layout: Layout, n_rows: int, n: int, channels: int) -> list[tuple[int, ...]]:
    """The shapes ``patches`` may have in ``layout`` for ``n_rows`` patches of side ``n`` with ``channels`` channels."""
    single = channels == 1
    shapes = {
        "complex-last": [(n_rows, n, n, channels)] + ([(n_rows, n, n)] if single else []),
        "complex-first": [(n_rows, channels, n, n)],
        "ri-last": [(n_rows, n, n, channels, 2)] + ([(n_rows, n, n, 2)] if single else []),
        "ri-first": [(n_rows, channels, n, n, 2)],
        "ri-channels": [(n_rows, 2 * channels, n, n)],
    }
    return shapes[layout]


def _is_complex(layout: Layout) -> bool:
    return layout.startswith("complex")


def fitting_layouts(shape: tuple[int, ...], dtype: np.dtype, n_rows: int, n: int, channels: int) -> list[Layout]:
    """The layouts that a ``patches`` array of ``shape`` and ``dtype`` fits (complex layouts need a complex dtype, real/imag ones a float dtype)."""
    kind = np.dtype(dtype).kind
    return [
        layout for layout in LAYOUTS
        if shape in layout_shapes(layout, n_rows, n, channels) and kind == ("c" if _is_complex(layout) else "f")
    ]


def _expected(layout: Layout, n_rows: int, n: int, channels: int) -> str:
    """``layout``'s dtype and shapes for this dataset, in words."""
    shapes = " or ".join(str(shape) for shape in layout_shapes(layout, n_rows, n, channels))
    return f"{'complex' if _is_complex(layout) else 'real (float)'} {shapes}"


def to_channel_last(rows: np.ndarray, layout: Layout, channels: int) -> np.ndarray:
    """Rows of ``patches`` stored in ``layout`` as C-ordered complex64 ``(b, N, N, C)``.

    Complex64 channel-last rows are returned as they are (a view of a memory map stays a view);
    every other layout is converted into a new array.
    """
    rows = np.asarray(rows)
    if layout == "complex-last":
        return np.asarray(rows if rows.ndim == 4 else rows[..., np.newaxis], dtype=np.complex64)
    if layout == "complex-first":
        return np.ascontiguousarray(np.moveaxis(rows, 1, -1), dtype=np.complex64)
    if layout == "ri-last":
        real, imag = rows[..., 0], rows[..., 1]
        if real.ndim == 3:
            real, imag = real[..., np.newaxis], imag[..., np.newaxis]
    elif layout == "ri-first":
        real, imag = np.moveaxis(rows[..., 0], 1, -1), np.moveaxis(rows[..., 1], 1, -1)
    else:
        real, imag = np.moveaxis(rows[:, :channels], 1, -1), np.moveaxis(rows[:, channels:], 1, -1)
    out = np.empty(real.shape, dtype=np.complex64)
    out.real, out.imag = real, imag
    return out


@dataclass(frozen=True, eq=False)
class Predictions:
    """Predicted patches of a ``PRED.npz``, checked against a dataset, read lazily.

    Iterating yields :class:`PatchBatch` es of ``batch_size`` rows in test-row order; the
    object can be iterated again (for example once to stitch, once for patch metrics).

    Attributes
    ----------
    path : Path
        The predictions file.
    patches : PatchArray
        The ``patches`` array as stored (in ``layout``), never loaded whole.
    batch_size : int
        Rows per batch when iterating.
    layout : str
        One of :data:`LAYOUTS`: how ``patches`` is stored.
    channels : int
        ``C``, the channels per row.
    """

    path: Path
    patches: PatchArray
    batch_size: int = DEFAULT_BATCH_SIZE
    layout: Layout = "complex-last"
    channels: int = 1

    def __len__(self) -> int:
        return int(self.patches.shape[0])

    def __iter__(self) -> Iterator[PatchBatch]:
        return self.batches()

    def batches(self, batch_size: int | None = None, rows: range | None = None) -> Iterator[PatchBatch]:
        """Yield consecutive batches as complex64 arrays of shape ``(b, N, N, C)``, of every row or only of ``rows``.

        Each batch is read and converted from :attr:`layout` on its own.

        Raises
        ------
        InputError
            A batch holds NaN or infinity (naming the file, key and rows).
        """
        lo, hi = (0, len(self)) if rows is None else (rows.start, rows.stop)
        for start, rows in iter_row_batches(self.patches, batch_size or self.batch_size, lo, hi):
            rows = to_channel_last(rows, self.layout, self.channels)
            expect(
                bool(np.isfinite(rows).all()), self.path, PATCHES_KEY, "finite values",
                f"NaN or infinity in rows {start}..{start + len(rows) - 1}",
            )
            yield PatchBatch(start, rows)


def read_predictions(
    path: str | os.PathLike[str], dataset: GridLinesDataset, *, batch_size: int = DEFAULT_BATCH_SIZE, layout: LayoutChoice = "auto"
) -> Predictions:
    """Open ``PRED.npz`` and check its ``patches`` against ``dataset``.

    ``patches`` holds one row per dataset row in test-row order, stored in ``layout``; with
    ``auto`` the layout is the only one whose shapes and dtype the array fits, given ``N``
    (the side of ``dataset``'s diffraction) and ``C`` (its gridsize squared). Stored
    (``np.savez``) files are memory-mapped, compressed ones streamed.

    Raises
    ------
    InputError
        One line naming the file, key, expected and found shape or dtype; for ``auto``, a shape
        that fits no layout, or several (then listing them).
    """
    archive = open_npz(path)
    info = archive.info(PATCHES_KEY)
    rows, n, c = dataset.n_rows, dataset.N, dataset.channels
    where = f"{quoted(archive.path)}: key {PATCHES_KEY!r}"
    found = f"{info.dtype} {info.shape}"
    if layout == "auto":
        fits = fitting_layouts(info.shape, info.dtype, rows, n, c)
        if len(fits) > 1:
            raise InputError(
                f"{where}: {found} fits several layouts for N={n}, C={c}: {', '.join(fits)}; choose one with --layout"
            )
        expected = "one of the layouts " + "; ".join(f"{name}: {_expected(name, rows, n, c)}" for name in LAYOUTS) + (
            f" (N={n}, C={c}, one row per row of {dataset.path.name})"
        )
        expect(bool(fits), archive.path, PATCHES_KEY, expected, found)
        chosen = fits[0]
    else:
        chosen = layout
        expected = f"layout {chosen}: {_expected(chosen, rows, n, c)} (one row per row of {dataset.path.name})"
        expect(chosen in fitting_layouts(info.shape, info.dtype, rows, n, c), archive.path, PATCHES_KEY, expected, found)
    return Predictions(archive.path, archive.array(PATCHES_KEY), batch_size, chosen, c)


class PredictionsWriter:
    """Write a patch stream to ``PRED.npz`` while it flows on: key ``patches``, complex64 ``(n, N, N, C)``, stored.

    The file is what :func:`read_predictions` reads back in the ``complex-last`` layout. Each
    batch is written as it passes through :meth:`tee`, so no more than one batch is ever held.
    Use as a context manager; on leaving it normally the stream must have covered every row.
    Write into a temporary path (:func:`ptychostitch.atomic.atomic_path`).

    Parameters
    ----------
    path : path-like
        File to create.
    n_rows, n, channels : int
        The shape ``(n_rows, n, n, channels)`` of the whole stream.
    """

    def __init__(self, path: str | os.PathLike[str], n_rows: int, n: int, channels: int) -> None:
        self._npz = NpzStreamWriter(path)
        self._member = self._npz.open_member(PATCHES_KEY, (n_rows, n, n, channels), np.dtype(np.complex64))

    def __enter__(self) -> "PredictionsWriter":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._member.__exit__(kind, exc, tb)
        finally:
            self._npz.__exit__(kind, exc, tb)

    def tee(self, batches: Iterable[PatchBatch]) -> Iterator[PatchBatch]:
        """Yield ``batches`` unchanged, each written to the file before it is passed on.

        Raises
        ------
        ValueError
            A batch does not follow the previous one or does not fit the stream's shape.
        """
        for batch in batches:
            if batch.start != self._member.rows:
                raise ValueError(f"patch batch of rows {batch.start}..{batch.stop - 1} does not follow row {self._member.rows - 1}")
            self._member.write(np.asarray(batch.patches, dtype=np.complex64))
            yield batch
