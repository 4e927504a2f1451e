"""Patch predictions made elsewhere (``PRED.npz``), checked against a test split and streamed in batches."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ptychostitch.data.gridlines import GridLinesDataset, expect
from ptychostitch.data.npz import open_npz
from ptychostitch.data.streamed import PatchArray, iter_row_batches
from ptychostitch.patch_stream import PatchBatch

DEFAULT_BATCH_SIZE = 256
"""Rows per :class:`PatchBatch` when streaming predictions."""


@dataclass(frozen=True, eq=False)
class Predictions:
    """Predicted patches of a ``PRED.npz``, checked against a dataset, read lazily.

    Iterating yields :class:`PatchBatch` es of ``batch_size`` rows in test-row order; the
    object can be iterated again (for example once to stitch, once for patch metrics).

    Attributes
    ----------
    path : Path
        The predictions file.
    patches : PatchArray, shape (n, N, N) or (n, N, N, C), complex
        The ``patches`` array as stored, never loaded whole.
    batch_size : int
        Rows per batch when iterating.
    """

    path: Path
    patches: PatchArray
    batch_size: int = DEFAULT_BATCH_SIZE

    def __len__(self) -> int:
        return int(self.patches.shape[0])

    def __iter__(self) -> Iterator[PatchBatch]:
        return self.batches()

    def batches(self, batch_size: int | None = None, rows: range | None = None) -> Iterator[PatchBatch]:
        """Yield consecutive batches as complex64 arrays of shape ``(b, N, N, C)``, of every row or only of ``rows``.

        Raises
        ------
        InputError
            A batch holds NaN or infinity (naming the file, key and rows).
        """
        lo, hi = (0, len(self)) if rows is None else (rows.start, rows.stop)
        for start, rows in iter_row_batches(self.patches, batch_size or self.batch_size, lo, hi):
            rows = np.asarray(rows, dtype=np.complex64)
            expect(
                bool(np.isfinite(rows).all()), self.path, "patches", "finite values",
                f"NaN or infinity in rows {start}..{start + len(rows) - 1}",
            )
            yield PatchBatch(start, rows if rows.ndim == 4 else rows[..., np.newaxis])


def read_predictions(
    path: str | os.PathLike[str], dataset: GridLinesDataset, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> Predictions:
    """Open ``PRED.npz`` and check its ``patches`` against ``dataset``.

    ``patches`` must be complex with shape ``(n, N, N)`` (one channel) or ``(n, N, N, C)``, one
    row per dataset row in test-row order. Stored (``np.savez``) files are memory-mapped,
    compressed ones streamed.

    Raises
    ------
    InputError
        One line naming the file, key, expected and found shape or dtype.
    """
    archive = open_npz(path)
    info = archive.info("patches")
    n, c = dataset.N, dataset.channels
    accepted = [(dataset.n_rows, n, n, c)] + ([(dataset.n_rows, n, n)] if c == 1 else [])
    expect(
        info.shape in accepted, archive.path, "patches",
        " or ".join(f"shape {s}" for s in accepted) + f" (one row per row of {dataset.path.name})", str(info.shape),
    )
    expect(info.dtype.kind == "c", archive.path, "patches", "a complex array", f"dtype {info.dtype}")
    return Predictions(archive.path, archive.array("patches"), batch_size)
