"""Fourier ring correlation (FRC): ring binning, the curve, its cut-offs and threshold curves.

The compatible definition is PtychoPINN's (``ptycho/FRC/fourier_ring_corr.py::FSC`` with
``ptycho/FRC/spin_average.py::spinavej``, cut-offs as ``ptycho/evaluation.py::frc50``;
``docs/metrics.md#stitched-metrics-the-compatible-definitions``):

* ``F_k = fftshift(fft2(image_k))``, unnormalised;
* ring ``r`` holds the pixels whose rounded distance from the DC bin ``(n//2, n//2)`` is ``r``;
  the rings run from 0 (DC) to the corner, ``round(sqrt(2) * n/2) + 1`` of them for even ``n``,
  so the curve extends past Nyquist (43 rings for 60 x 60, 46 for 64 x 64);
* ``FRC(r) = |<F_1 conj F_2>_r| / sqrt(<|F_1|^2>_r <|F_2|^2>_r)``, ``<.>_r`` the mean over ring
  ``r``.

PtychoPINN averages each ring with its own boolean mask (one pass over the image per ring); here
all rings are summed in one ``np.bincount`` pass over the half plane of ``rfft2`` (see
:func:`frc`). The curves agree with PtychoPINN's to rounding (absolute differences of order
1e-12 on a 330 x 330 pair; benchmarks/metrics_speed.py).

Beyond PtychoPINN (never used for the compatible numbers): the numerator ``Re<F_1 conj F_2>_r``
and the 1-bit / 1/2-bit threshold curves of van Heel & Schatz (2005).

References
----------
.. [1] M. van Heel and M. Schatz, "Fourier shell correlation threshold criteria",
   J. Struct. Biol. 151, 250-262 (2005). doi:10.1016/j.jsb.2005.05.009
.. [2] P. B. Rosenthal and R. Henderson, "Optimal determination of particle orientation, absolute
   hand, and contrast loss in single-particle electron cryomicroscopy", J. Mol. Biol. 333,
   721-745 (2003). doi:10.1016/j.jmb.2003.07.013 (the 1/7 threshold)
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import numpy as np
import scipy.fft

from ptychostitch.errors import InputError

HALF_BIT_SNR = (math.sqrt(2.0) - 1.0) / 2.0
"""Signal-to-noise ratio behind the 1/2-bit threshold curve (0.2071...), van Heel & Schatz (2005)."""

ONE_BIT_SNR = 0.5
"""Signal-to-noise ratio behind the 1-bit threshold curve, van Heel & Schatz (2005)."""


def ring_index(n_rows: int, n_cols: int) -> np.ndarray:
    """Ring number of every pixel of an fftshifted ``(n_rows, n_cols)`` spectrum.

    Parameters
    ----------
    n_rows, n_cols : int
        Spectrum shape in pixels.

    Returns
    -------
    ndarray, shape (n_rows, n_cols), intp
        ``round(sqrt(dy**2 + dx**2))`` with ``dy = row - n_rows//2`` and ``dx = col - n_cols//2``
        (rounding half to even; a distance is never exactly half-integral), so ring 0 is the DC
        bin of ``fftshift(fft2(.))``. Units: cycles per image side.
    """
    dy = np.arange(n_rows, dtype=np.float64) - n_rows // 2
    dx = np.arange(n_cols, dtype=np.float64) - n_cols // 2
    return np.rint(np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2)).astype(np.intp)


def ring_counts(n_rows: int, n_cols: int) -> np.ndarray:
    """Pixels in each ring of an ``(n_rows, n_cols)`` spectrum, shape ``(n_rings,)``, float64."""
    return np.bincount(ring_index(n_rows, n_cols).ravel()).astype(np.float64)


@functools.lru_cache(maxsize=16)
def _half_plane_rings(n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Ring index and Hermitian weight of every ``rfft2`` bin, flattened; and the ring count.

    Bin ``(ky, kx)`` of ``rfft2`` (``ky`` signed as in ``fftfreq``, ``0 <= kx <= n_cols//2``) is
    in ring ``round(sqrt(ky**2 + kx**2))``, the ring of the same frequency in :func:`ring_index`.
    Its weight counts the full-plane bins it stands for: 2 when the mirrored bin ``-k`` lies in
    the missing half (``0 < kx < n_cols/2``), else 1. Bins of weight 1 (columns ``kx = 0`` and
    ``kx = n_cols/2``) hold their own mirror images, so only they keep an imaginary part in a
    full-plane ring sum.
    """
    ky = np.fft.fftfreq(n_rows, d=1.0 / n_rows)
    kx = np.arange(n_cols // 2 + 1, dtype=np.float64)
    index = np.rint(np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)).astype(np.intp).ravel()
    weight_x = np.where((kx > 0) & (2 * kx < n_cols), 2.0, 1.0)
    weight = np.broadcast_to(weight_x, (n_rows, kx.size)).ravel().copy()
    index.flags.writeable = False
    weight.flags.writeable = False
    return index, weight, int(index.max()) + 1


def square_crop(target: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre-crop both images to ``m x m``, ``m = min(H, W)``, with the start ``((H-m)//2, (W-m)//2)``.

    PtychoPINN's ``frc50`` does this before the FRC; the start is computed from the target's
    shape and applied to both. Square inputs are returned unchanged.
    """
    h, w = target.shape
    if h == w:
        return target, pred
    m = min(h, w)
    y0, x0 = (h - m) // 2, (w - m) // 2
    return target[y0 : y0 + m, x0 : x0 + m], pred[y0 : y0 + m, x0 : x0 + m]


def frc(
    image1: np.ndarray,
    image2: np.ndarray,
    *,
    numerator: Literal["abs", "re"] = "abs",
) -> np.ndarray:
    """Fourier ring correlation curve of two real images.

    Parameters
    ----------
    image1, image2 : ndarray, shape (H, W), real
        The two images, same shape. Non-square images are first centre-cropped to
        ``min(H, W)`` squared (:func:`square_crop`, as PtychoPINN does).
    numerator : {"abs", "re"}
        ``"abs"`` (default, PtychoPINN-compatible): ``|<F1 conj F2>_r|``. ``"re"`` (extra):
        ``Re <F1 conj F2>_r``, the textbook FRC, negative for anti-correlated rings.

    Returns
    -------
    ndarray, shape (n_rings,), float64
        One value per ring of :func:`ring_index` (ring index = cycles per image side, DC = 0),
        including the corner rings beyond Nyquist. A ring where either image has no power is NaN.

    Notes
    -----
    For real images ``F(-k) = conj F(k)`` and every ring is symmetric under ``k -> -k``, so the
    imaginary part of each ring sum vanishes and ``|<F1 conj F2>_r| = |Re <F1 conj F2>_r|``: the
    two numerators differ only in sign, where a ring is anti-correlated. The sums are therefore
    taken over the half plane of ``rfft2`` with Hermitian weights, in one ``np.bincount`` pass per
    quantity (PtychoPINN's ``spinavej`` sums the full plane, one boolean mask per ring). For
    ``"abs"`` the self-mirrored bins (``kx = 0`` or ``n/2`` columns) also contribute their
    imaginary parts, as in the full-plane sum: there the imaginary part is pure rounding, but it
    dominates where the real part is ~0 too, notably the DC bin of a mean-free image (a
    plane-removed phase), whose ``|.|`` ratio is 1 by construction.
    The FFTs run in float64. (PtychoPINN hands float32 amplitudes to ``numpy.fft``, which computes
    in float64 under NumPy 1.x but in complex64 under NumPy >= 2.)
    """
    if numerator not in ("abs", "re"):
        raise InputError(f"FRC numerator must be 'abs' or 're', got {numerator!r}")
    a = np.asarray(image1)
    b = np.asarray(image2)
    if a.ndim != 2 or a.shape != b.shape:
        raise InputError(f"FRC needs two 2-D images of one shape, got {a.shape} and {b.shape}")
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        raise InputError("FRC takes real images (an amplitude or a phase), got a complex array")
    a, b = square_crop(a, b)
    index, weight, n_rings = _half_plane_rings(*a.shape)
    f1, f2 = scipy.fft.rfft2(np.stack([a, b]).astype(np.float64)).reshape(2, -1)

    def ring_sum(values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=weight * values, minlength=n_rings)

    cross = ring_sum(f1.real * f2.real + f1.imag * f2.imag)
    power1 = ring_sum(f1.real**2 + f1.imag**2)
    power2 = ring_sum(f2.real**2 + f2.imag**2)
    if numerator == "abs":
        own = weight == 1
        cross_im = np.bincount(index[own], weights=(f1.imag * f2.real - f1.real * f2.imag)[own], minlength=n_rings)
        top = np.hypot(cross, cross_im)
    else:
        top = cross
    with np.errstate(divide="ignore", invalid="ignore"):
        return top / np.sqrt(power1 * power2)


def cutoff_crossed(curve: np.ndarray | None, cut: float) -> bool:
    """Whether ``cut`` (a :func:`frc_cutoff` result for ``curve``) is a real crossing.

    :func:`frc_cutoff` returns ``len(curve)`` when the curve never falls below the threshold
    (PtychoPINN's value, kept in the compatible numbers) and NaN when the curve has no finite
    value; neither is a resolution. False for those and for a missing curve.
    """
    return curve is not None and math.isfinite(cut) and cut < len(curve)


def frc_cutoff(curve: np.ndarray, threshold: float | np.ndarray, *, first_ring: int = 0) -> float:
    """Ring position where ``curve`` first falls below ``threshold``, linearly interpolated.

    PtychoPINN's ``_first_below_threshold_interpolated`` for a constant threshold:

    1. ``i`` = the first index (from ``first_ring``) with a finite ``curve[i] < threshold``;
    2. none: return ``len(curve)`` (never crossed); no finite value at all: NaN;
       ``i == first_ring``: ``first_ring`` (0.0 by default);
    3. otherwise ``x = (i-1) + (t - c[i-1]) / (c[i] - c[i-1])``, clipped to ``[i-1, i]``; ``i``
       itself when ``c[i-1]`` is not finite or ``|c[i] - c[i-1]| <= 1e-12``.

    Parameters
    ----------
    curve : ndarray, shape (n_rings,)
        FRC values per ring.
    threshold : float or ndarray, shape (n_rings,)
        A constant (0.5 gives ``frc50``, 1/7 ``frc1over7``), or a threshold curve (extra; for
        example :func:`snr_threshold`), for which step 3 interpolates the zero of
        ``curve - threshold``.
    first_ring : int
        Rings below it are ignored, as if the curve started there (0, PtychoPINN's choice, for
        the compatible cut-offs; the extras use 1, because ring 0 is a single pixel where a
        threshold curve is 1 and the real-part FRC of mean-free images is rounding noise).

    Returns
    -------
    float
        Cut-off in ring units (cycles per image side, DC = 0), not normalised frequency.
    """
    c = np.asarray(curve, dtype=np.float64)
    t = np.broadcast_to(np.asarray(threshold, dtype=np.float64), c.shape)
    finite = np.isfinite(c[first_ring:])
    if not finite.any():
        return math.nan
    below = np.flatnonzero(finite & (c[first_ring:] < t[first_ring:]))
    if below.size == 0:
        return float(c.size)
    i = first_ring + int(below[0])
    if i == first_ring:
        return float(i)
    if not np.isfinite(c[i - 1]):
        return float(i)
    if np.ndim(threshold) == 0:
        rise, denominator = float(threshold) - c[i - 1], c[i] - c[i - 1]
    else:
        rise, denominator = t[i - 1] - c[i - 1], (c[i] - t[i]) - (c[i - 1] - t[i - 1])
    if abs(denominator) <= 1e-12:
        return float(i)
    return float(np.clip((i - 1) + rise / denominator, i - 1, i))


def snr_threshold(counts: np.ndarray, snr: float) -> np.ndarray:
    """Information threshold curve of van Heel & Schatz (2005), eq. 17.

    ``T(n) = (S + (2 sqrt(S) + 1) / sqrt(n)) / (S + 1 + 2 sqrt(S) / sqrt(n))`` with ``n`` the
    number of pixels in the ring. ``S = ONE_BIT_SNR`` gives the 1-bit curve
    ``(0.5 + 2.4142/sqrt(n)) / (1.5 + 1.4142/sqrt(n))``; ``S = HALF_BIT_SNR`` the 1/2-bit curve
    ``(0.2071 + 1.9102/sqrt(n)) / (1.2071 + 0.9102/sqrt(n))``. The 1/2-bit curve is meant for
    half-data-set comparisons; against a ground truth it is reported only as an extra.

    Parameters
    ----------
    counts : ndarray, shape (n_rings,)
        Pixels per ring (:func:`ring_counts`).
    snr : float
        Signal-to-noise ratio ``S`` the threshold stands for.

    Returns
    -------
    ndarray, shape (n_rings,), float64
    """
    root_n = np.sqrt(np.asarray(counts, dtype=np.float64))
    root_s = math.sqrt(snr)
    return (snr + (2.0 * root_s + 1.0) / root_n) / (snr + 1.0 + 2.0 * root_s / root_n)
