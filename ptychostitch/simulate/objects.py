"""The synthetic "lines" objects of PtychoPINN's grid-lines datasets (``docs/simulate.md#1-objects``).

Each object is 400 random line segments on a ``2*size`` canvas, smoothed by the mix
``G1 + 2*G5 + 5*G10`` and centre-cropped to ``size x size``. The random numbers come from a
legacy ``np.random.RandomState`` (seed 1 for train, 2 for test), 1600 uniforms per object in
``r0, c0, r1, c1`` order, so the objects match PtychoPINN's (``ptycho/diffsim.py::mk_lines_img``)
exactly.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.draw import line

NLINES = 400
"""Line segments per object."""


def lines_object(rng: np.random.RandomState, size: int) -> np.ndarray:
    """One lines object, drawn from ``rng``.

    Parameters
    ----------
    rng : numpy.random.RandomState
        Legacy MT19937 stream; exactly ``4 * NLINES`` uniforms are drawn from it.
    size : int
        Object side in pixels.

    Returns
    -------
    ndarray, shape (size, size), float64
        The raw (unnormalised) amplitude.

    Notes
    -----
    PtychoPINN filters a 3-channel copy of the binary image with a scalar sigma, so the channel
    axis is filtered too; channels are identical, but the extra pass changes the result by about
    one ulp. The same 3-channel call is made here, so the values match PtychoPINN's bit for bit.
    """
    canvas = 2 * size
    ends = (canvas * rng.uniform(size=4 * NLINES)).astype(np.int64).reshape(NLINES, 4)
    binary = np.zeros((canvas, canvas), dtype=np.float64)
    for r0, c0, r1, c1 in ends:
        rr, cc = line(r0, c0, r1, c1)
        binary[rr, cc] = 1.0
    channels = np.repeat(binary[:, :, None], 3, axis=2)
    smooth = gaussian_filter(channels, 1) + 2 * gaussian_filter(channels, 5) + 5 * gaussian_filter(channels, 10)
    lo = size // 2
    return np.ascontiguousarray(smooth[lo : lo + size, lo : lo + size, 0])


def dummy_phase(amplitude: np.ndarray) -> np.ndarray:
    """PtychoPINN's synthetic phase ``pi * tanh((A - max(A)/2) / (3 * mean(A)))`` (``ptycho/diffsim.py::dummy_phi``).

    Parameters
    ----------
    amplitude : ndarray, shape (n, size, size), float64
        Every object of one split: max and mean are taken over the whole split.

    Returns
    -------
    ndarray, same shape, float32
        Phase in radians.
    """
    return (np.pi * np.tanh((amplitude - amplitude.max() / 2) / (3 * amplitude.mean()))).astype(np.float32)
