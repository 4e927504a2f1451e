"""Regular-grid patch extraction in PtychoPINN's row and channel order (``docs/geometry.md#grid-lines-scans``).

Rows are object-major, then window row, then window column; channel ``ch = i*gridsize + j``
is the inner patch at ``(offset*i, offset*j)`` in its window. The window geometry comes from
:class:`~ptychostitch.geometry.GridLayout`; patches are cut at the top-left corner
:func:`~ptychostitch.geometry.top_left` gives for each position, so a patch's geometric centre
lands on its position. Patches are returned channel-first ``(rows, C, N, N)`` for the FFT;
:func:`channels_last` gives PtychoPINN's ``(rows, N, N, C)``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ptychostitch.geometry import GridLayout, top_left


def corners(layout: GridLayout) -> np.ndarray:
    """Integer top-left ``(y, x)`` of every channel of one object's rows.

    Returns
    -------
    ndarray, shape (m**2, gridsize**2, 2), int64
        Object-frame pixel indices.
    """
    return np.rint(top_left(layout.object_positions(), layout.N)).astype(np.int64)


def extract(stack: np.ndarray, layout: GridLayout, rows: np.ndarray) -> np.ndarray:
    """Cut the patches of the given rows.

    Parameters
    ----------
    stack : ndarray, shape (nimgs, size, size)
        Every object of the split (amplitude or phase).
    layout : GridLayout
        The split's scan grid.
    rows : ndarray of int, shape (r,)
        Row indices in the object-major order, any order and any subset.

    Returns
    -------
    ndarray, shape (r, gridsize**2, N, N), dtype of ``stack``
        A copy.
    """
    windows = sliding_window_view(stack, (layout.N, layout.N), axis=(1, 2))
    image, window = np.divmod(np.asarray(rows, dtype=np.int64), layout.rows_per_object)
    at = corners(layout)[window]
    return windows[image[:, None], at[..., 0], at[..., 1]]


def row_maxima(obj: np.ndarray, layout: GridLayout) -> np.ndarray:
    """Maximum of each row's patches over pixels and channels, for one object.

    Parameters
    ----------
    obj : ndarray, shape (size, size)
        One object's amplitude.

    Returns
    -------
    ndarray, shape (m**2,), dtype of ``obj``
        Exactly ``extract(...).max(axis=(1, 2, 3))``, from a separable running maximum.
    """
    n = layout.N
    down = sliding_window_view(obj, n, axis=0).max(axis=-1)
    running = sliding_window_view(down, n, axis=1).max(axis=-1)
    at = corners(layout)
    return running[at[..., 0], at[..., 1]].max(axis=1)


def channels_last(patches: np.ndarray) -> np.ndarray:
    """``(r, C, N, N)`` to a C-contiguous ``(r, N, N, C)``."""
    return np.ascontiguousarray(np.moveaxis(patches, 1, -1))
