"""The validation rows of a train split: one contiguous band of the scan, held out with a guard gap.

Neighbouring grid-lines patches overlap heavily, so random rows would leave validation patches
that training has (mostly) seen. Instead the rows whose patch footprints lie in one horizontal
band of the object frame are held out, and the rows whose footprints would overlap the band are
used for neither: every training footprint is then disjoint from every validation footprint.
The band holds about ``fraction`` of the scan lines and lies at the top or the bottom edge of
the scan (so only one guard gap is lost), which one drawn from the seed. With several objects
the same band is held out of each.

A train row's position comes from the train grid in the metadata and PtychoPINN's shuffle
(:func:`~ptychostitch.data.gridlines.train_row_positions`): ``coords_offsets`` is not shuffled
with the rows, so it does not say where a train row lies. A train split whose metadata records
no train grid gets no validation rows, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ptychostitch.data import GridLinesDataset
from ptychostitch.data.gridlines import train_row_positions
from ptychostitch.errors import InputError, quoted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowSplit:
    """Sorted row indices: ``train`` and ``validation``; the ``dropped`` guard rows are in neither."""

    train: np.ndarray
    validation: np.ndarray
    dropped: int


def footprints(positions: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom object-frame row (inclusive) covered by each row's ``n`` x ``n`` patches.

    Parameters
    ----------
    positions : ndarray, shape (B, C, 2)
        ``(y, x)`` of every channel of every row, in pixels.
    n : int
        Patch side ``N``.
    """
    y = positions[..., 0]
    half = (n - 1) / 2
    return np.floor(y.min(axis=1) - half), np.ceil(y.max(axis=1) + half)


def split_rows(split: GridLinesDataset, fraction: float, seed: int) -> RowSplit:
    """Hold out about ``fraction`` of the rows of the train ``split`` as one band (see the module notes)."""
    rows = np.arange(split.n_rows)
    if fraction <= 0:
        return RowSplit(rows, rows[:0], 0)
    positions = train_row_positions(split)
    if positions is None:
        log.warning(
            "%s: no validation rows: key '_metadata' records no train grid (outer_offset_train, nimgs_train) "
            "for the %d rows, so no row's position is known; training on every row (--val-fraction 0 silences this)",
            split.path, split.n_rows,
        )
        return RowSplit(rows, rows[:0], 0)
    top, bottom = footprints(positions, split.N)
    lines = np.unique(top)
    count = max(1, round(fraction * len(lines)))
    if count >= len(lines) - 1:
        raise InputError(f"{quoted(split.path)}: --val-fraction {fraction:g} leaves no scan lines to train on ({len(lines)} lines)")
    first = 0 if np.random.default_rng(seed).integers(2) == 0 else len(lines) - count  # an edge band: one guard gap, not two
    band = lines[first : first + count]
    validation = np.isin(top, band)
    v_top, v_bottom = top[validation].min(), bottom[validation].max()
    overlaps = ~validation & (bottom >= v_top) & (top <= v_bottom)
    train = ~validation & ~overlaps
    if not train.any():
        raise InputError(f"{quoted(split.path)}: --val-fraction {fraction:g}: no training row is clear of the held-out band")
    log.info("validation: %d rows (object rows %d..%d), %d training rows, %d guard rows dropped", validation.sum(), v_top, v_bottom,
             train.sum(), overlaps.sum())
    return RowSplit(rows[train], rows[validation], int(overlaps.sum()))


class Rows:
    """Chosen rows of a (memory-mapped) per-row array, sliceable like one: ``view[a:b]`` reads rows ``rows[a:b]``."""

    def __init__(self, array: Any, rows: np.ndarray) -> None:
        self.array, self.rows = array, np.asarray(rows, dtype=np.int64)
        self.shape = (len(self.rows), *tuple(array.shape)[1:])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: slice) -> np.ndarray:
        chosen = self.rows[index]
        if len(chosen) == 0:
            return np.zeros((0, *self.shape[1:]), dtype=self.array.dtype)
        breaks = np.flatnonzero(np.diff(chosen) != 1) + 1
        runs = np.split(chosen, breaks)
        return np.concatenate([np.asarray(self.array[run[0] : run[-1] + 1]) for run in runs])
