"""One split's objects and everything derived from them row by row: patches, labels, coordinates.

A split holds its ``n`` objects (``n * size**2`` float64, small) and its ``norm_Y_I``; any set
of rows, in any order, can then be cut, normalised and labelled on demand, so the big per-row
members are produced chunk by chunk and never held whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from ptychostitch.geometry import GridLayout
from ptychostitch.simulate.objects import dummy_phase, lines_object
from ptychostitch.simulate.patches import extract, row_maxima

Progress = Callable[..., Iterable[Any]]
"""``progress(iterable, total, description, unit)``: wraps a loop in a progress report (or not)."""


@dataclass(frozen=True)
class Split:
    """The objects of one split and their patch normaliser.

    Attributes
    ----------
    layout : GridLayout
        The split's scan grid.
    amplitude : ndarray, shape (nimgs, size, size), float64
        Raw object amplitudes ``A``.
    phase : ndarray, shape (nimgs, size, size), float32, or None
        Object phase in radians (``set_phi``), None when the objects are real.
    norm_Y_I : float
        Mean over all rows of the row's maximum raw amplitude (``docs/simulate.md#3-patches-and-norm_y_i``).
    """

    layout: GridLayout
    amplitude: np.ndarray
    phase: np.ndarray | None
    norm_Y_I: float

    def amplitude_patches(self, rows: np.ndarray) -> np.ndarray:
        """Normalised amplitude patches ``Y_hat = A_patch / norm_Y_I``, ``(r, C, N, N)`` float64."""
        return extract(self.amplitude, self.layout, rows) / self.norm_Y_I

    def phase_patches(self, rows: np.ndarray) -> np.ndarray:
        """Phase patches ``Phi``, ``(r, C, N, N)`` float32 (zeros without ``set_phi``)."""
        if self.phase is None:
            n = self.layout.N
            return np.zeros((len(rows), self.layout.channels, n, n), dtype=np.float32)
        return extract(self.phase, self.layout, rows)

    def object_patches(self, rows: np.ndarray) -> np.ndarray:
        """Normalised object patches ``Y_hat * exp(i*Phi)``, ``(r, C, N, N)``.

        float64 without ``set_phi``, complex128 with it; times ``norm_Y_I`` they are the
        ``YY_full`` pixels they were cut from.
        """
        amplitude = self.amplitude_patches(rows)
        if self.phase is None:
            return amplitude
        return amplitude * np.exp(1j * self.phase_patches(rows).astype(np.float64))

    def full(self) -> np.ndarray:
        """``YY_full = A * exp(i*phi)``, ``(nimgs, size, size, 1)`` complex64."""
        full = self.amplitude if self.phase is None else self.amplitude * np.exp(1j * self.phase.astype(np.float64))
        return full.astype(np.complex64)[..., None]

    def ground_truth(self) -> np.ndarray:
        """``YY_ground_truth``: object 0 cropped to the ground-truth frame, ``(H, H, 1)`` complex64."""
        o, side = self.layout.gt_origin, self.layout.gt_side
        return np.ascontiguousarray(self.full()[0, o : o + side, o : o + side])

    def coords_offsets(self) -> np.ndarray:
        """Object-frame centres in PtychoPINN's row order, layout ``(B, 1, 2, C)`` float32, ``(y, x)``.

        Position-major, as PtychoPINN's writer repeats each position once per object
        (``ptycho/workflows/grid_lines_workflow.py::simulate_grid_data``): row ``p*nimgs + o`` holds
        position ``p`` (of object ``o``), so the rows do not follow the object-major data rows
        (nor, in the train split, their shuffle) unless ``nimgs`` is 1.
        """
        positions = np.repeat(self.layout.object_positions(), self.layout.nimgs, axis=0)
        return np.moveaxis(positions, -1, 1)[:, None].astype(np.float32)

    def coords_nominal(self, rows: np.ndarray) -> np.ndarray:
        """Group centre minus patch centre, PtychoPINN layout ``(r, 1, 2, C)`` float32, ``(x, y)``.

        The group (window) centre is the mean of its channels' centres.
        """
        positions = self.layout.object_positions()
        relative = positions.mean(axis=1, keepdims=True) - positions
        selected = relative[np.asarray(rows) % self.layout.rows_per_object][..., ::-1]
        return np.moveaxis(selected, -1, 1)[:, None].astype(np.float32)


def make_split(
    layout: GridLayout, *, object_seed: int, set_phi: bool, progress: Progress, label: str
) -> Split:
    """Draw a split's objects, add the phase if asked, and compute ``norm_Y_I``.

    Parameters
    ----------
    layout : GridLayout
        The split's scan grid (object count and size).
    object_seed : int
        Seed of the legacy ``RandomState`` the objects are drawn from, one after another.
    set_phi : bool
        Add PtychoPINN's synthetic phase, with statistics over the whole split.
    progress : callable
        ``progress(iterable, total, description, unit)`` wraps the loop over objects.
    label : str
        Split name for the progress report.
    """
    rng = np.random.RandomState(object_seed)
    amplitude = np.empty((layout.nimgs, layout.size, layout.size), dtype=np.float64)
    maxima = np.empty((layout.nimgs, layout.rows_per_object), dtype=np.float64)
    for img in progress(range(layout.nimgs), layout.nimgs, f"{label} objects", "object"):
        amplitude[img] = lines_object(rng, layout.size)
        maxima[img] = row_maxima(amplitude[img], layout)
    phase = dummy_phase(amplitude) if set_phi else None
    return Split(layout=layout, amplitude=amplitude, phase=phase, norm_Y_I=float(maxima.mean()))
