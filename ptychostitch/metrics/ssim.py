"""SSIM with an explicit data range, and PtychoPINN's multi-scale SSIM variant.

SSIM is scikit-image's ``structural_similarity`` with its defaults (7 x 7 uniform window,
K1 = 0.01, K2 = 0.03, sample covariance, mean over the map with a 3-px border left out) and a
``data_range`` that is always given by the caller (scikit-image issues #6595, #6602).

PtychoPINN's MS-SSIM (``ptycho/evaluation.py::ms_ssim``; ``docs/metrics.md``, item 8) is
*not* the MS-SSIM of Wang, Simoncelli & Bovik (2003): at every scale it takes the full SSIM
(luminance, contrast and structure together), decimates with ``img[::2, ::2]`` without a low-pass
filter, stops as soon as a decimated side is below 7 pixels without renormalising the weights,
clamps a negative SSIM to 1e-4 and returns 0.0 on NaN. It is reproduced here as it is, because
published tables use it.

References
----------
.. [1] Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality assessment: from
   error visibility to structural similarity", IEEE Trans. Image Process. 13, 600-612 (2004).
   doi:10.1109/TIP.2003.819861
.. [2] Z. Wang, E. P. Simoncelli and A. C. Bovik, "Multiscale structural similarity for image
   quality assessment", Proc. 37th Asilomar Conf. Signals, Systems and Computers, 1398-1402
   (2003). doi:10.1109/ACSSC.2003.1292216
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

log = logging.getLogger(__name__)

MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Per-scale exponents, finest first (Wang, Simoncelli & Bovik 2003, Table 1)."""

MIN_SIDE = 7
"""Smallest image side SSIM accepts (its 7 x 7 window)."""


def ssim(image1: np.ndarray, image2: np.ndarray, data_range: float) -> float:
    """Mean SSIM of two 2-D images (scikit-image defaults, explicit data range).

    Parameters
    ----------
    image1, image2 : ndarray, shape (H, W), real, H and W >= 7
        The two images; the computation runs in their floating-point precision.
    data_range : float
        Dynamic range ``R`` of the values, in their units; ``C1 = (0.01 R)**2``,
        ``C2 = (0.03 R)**2``.

    Returns
    -------
    float
        Mean of the SSIM map over the interior (a 3-px border left out); 1 for identical
        images with ``R > 0``; NaN (logged) when ``R = 0`` and the images are constant.
    """
    value = _structural_similarity(image1, image2, data_range)
    if np.isnan(value):
        log.warning("SSIM is NaN (data range %s: constant images)", data_range)
    return float(value)


def _structural_similarity(image1: np.ndarray, image2: np.ndarray, data_range: float) -> float:
    """scikit-image's SSIM; 0/0 in its map gives NaN quietly (callers log it)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return structural_similarity(image1, image2, data_range=data_range)


def ms_ssim_shapes(shape: tuple[int, int], levels: int = 5) -> list[tuple[int, int]]:
    """Image shapes at which :func:`ms_ssim` evaluates SSIM, finest first.

    Decimation by ``[::2, ::2]`` gives ``ceil(n/2)`` per side; the list ends before the first
    shape with a side below 7 and has at most ``min(levels, 5)`` entries. For 60 x 60:
    60, 30, 15, 8 (four scales; their exponents sum to 0.8668).
    """
    h, w = shape
    shapes = [(h, w)]
    while len(shapes) < min(levels, len(MS_SSIM_WEIGHTS)):
        h, w = -(-h // 2), -(-w // 2)
        if min(h, w) < MIN_SIDE:
            break
        shapes.append((h, w))
    return shapes


def ms_ssim(image1: np.ndarray, image2: np.ndarray, *, levels: int = 5, sigma: float = 0.0) -> float:
    """PtychoPINN's multi-scale SSIM: ``prod_l SSIM_l ** w_l`` over the scales of :func:`ms_ssim_shapes`.

    Parameters
    ----------
    image1, image2 : ndarray, shape (H, W), real, H and W >= 7
        Target and prediction.
    levels : int
        Most scales to use (at most 5, the number of weights).
    sigma : float
        When > 0, both images are first smoothed with ``scipy.ndimage.gaussian_filter(., sigma)``
        (pixels).

    Returns
    -------
    float
        The product over scales; ``data_range = max(ptp(image1), ptp(image2))`` is fixed once,
        after smoothing and before decimation. A negative SSIM at any scale counts as 1e-4; a NaN
        makes the result 0.0. Scales that would be smaller than 7 px are dropped without
        renormalising the weights, so identical images give 1 and the result is not comparable
        across image sizes with a different number of scales.
    """
    if sigma > 0:
        image1 = gaussian_filter(image1, sigma)
        image2 = gaussian_filter(image2, sigma)
    data_range = max(image1.max() - image1.min(), image2.max() - image2.min())
    value = 1.0
    for level in range(len(ms_ssim_shapes(image1.shape, levels))):
        step = 2**level
        s = _structural_similarity(image1[::step, ::step], image2[::step, ::step], data_range)
        if np.isnan(s):
            log.warning("MS-SSIM: SSIM is NaN at scale %d; MS-SSIM is 0.0", level)
            return 0.0
        if s < 0:
            log.warning("MS-SSIM: SSIM %.4f < 0 at scale %d counts as 1e-4", s, level)
            s = 0.0001
        value *= s ** MS_SSIM_WEIGHTS[level]
    return float(value)
