"""The validation rows of a train split: one contiguous band of the scan, held out with a guard gap.

Neighbouring grid-lines patches overlap heavily, so random rows would leave validation patches
that training has (mostly) seen. Instead the rows whose patch footprints lie in one horizontal
band of the object frame (``coords_offsets`` centres, ``(y, x)``) are held out, and the rows
whose footprints would overlap the band are used for neither: every training footprint is then
disjoint from every validation footprint. The band holds about ``fraction`` of the rows; where
it sits is drawn from the seed. With several objects the same band is held out of each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ptychostitch.data.npz import open_npz
from ptychostitch.errors import InputError, quoted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowSplit:
    """Sorted row indices: ``train`` and ``validation``; the ``dropped`` guard rows are in neither."""

    train: np.ndarray
    validation: np.ndarray
    dropped: int


def footprints(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom frame row (inclusive) covered by each train row's patches, from ``coords_offsets``."""
    archive = open_npz(path)
    if "coords_offsets" not in archive:
        raise InputError(f"{quoted(path)}: --val-fraction needs key 'coords_offsets' (patch centres) to hold out a region, found none")
    centres = np.asarray(archive.read("coords_offsets"), dtype=np.float64)  # (B, 1, 2, C), (y, x)
    n = int(archive.info("diffraction").shape[1])
    y = centres[:, 0, 0, :]
    half = (n - 1) / 2
    return np.floor(y.min(axis=1) - half), np.ceil(y.max(axis=1) + half)


def split_rows(path: Path, fraction: float, seed: int) -> RowSplit:
    """Hold out about ``fraction`` of the rows of ``path`` as one band (see the module notes)."""
    top, bottom = footprints(path)
    rows = np.arange(len(top))
    if fraction <= 0:
        return RowSplit(rows, rows[:0], 0)
    lines = np.unique(top)
    count = max(1, round(fraction * len(lines)))
    if count >= len(lines) - 1:
        raise InputError(f"{quoted(path)}: --val-fraction {fraction:g} leaves no scan lines to train on ({len(lines)} lines)")
    first = int(np.random.default_rng(seed).integers(len(lines) - count + 1))
    band = lines[first : first + count]
    validation = np.isin(top, band)
    v_top, v_bottom = top[validation].min(), bottom[validation].max()
    overlaps = ~validation & (bottom >= v_top) & (top <= v_bottom)
    train = ~validation & ~overlaps
    if not train.any():
        raise InputError(f"{quoted(path)}: --val-fraction {fraction:g}: no training row is clear of the held-out band")
    log.info("validation: %d rows (frame rows %d..%d), %d training rows, %d guard rows dropped", validation.sum(), v_top, v_bottom,
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
