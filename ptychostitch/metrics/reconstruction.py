"""``eval_reconstruction``: a stitched object scored against the ground truth exactly as PtychoPINN does.

Definitions (PtychoPINN ``ptycho/evaluation.py::eval_reconstruction``; written out in
``docs/metrics.md#stitched-metrics-the-compatible-definitions``), in order:

1. **Frame.** Both inputs are in one frame with one shape; nothing is ever resized or registered.
   If a ``coverage`` map is given and some pixel is uncovered, both are cut to the largest fully
   covered rectangle first (an addition: PtychoPINN has no coverage), and the window is reported.
2. **Trim.** ``offset // 2`` pixels are dropped on every side (``offset = 4``: 2 px).
3. **Amplitude.** ``a_t = |gt|`` as float32, ``a_p = |pred|``, and ``a_p' = a_p * mean(a_t) /
   mean(a_p)``: every amplitude metric uses ``a_p'``, so all are invariant to a global scale.
4. **Phase.** ``phi = angle(.)`` (no unwrapping), then per image either the least-squares plane
   ``a x + b y + c`` over all pixels is subtracted (``"plane"``, x = column, y = row) or the mean
   (``"mean"``). Differences are not wrapped.
5. **Metrics** as ``(amplitude, phase)``: MAE and MSE; PSNR with OpenCV's default peak 255
   (:func:`psnr`); SSIM with ``data_range = ptp(a_t)`` for amplitude and on
   ``(phi + pi) / 2 pi`` with ``data_range = 1`` for phase; PtychoPINN's MS-SSIM
   (:func:`ptychostitch.metrics.ssim.ms_ssim`, amplitude smoothed with ``ms_ssim_sigma``, the
   scaled phase unsmoothed); FRC curves of ``(a_t, a_p')`` and of the aligned phases in radians,
   optionally smoothed with ``frc_sigma``, with the interpolated 0.5 and 1/7 cut-offs in ring
   units (:mod:`ptychostitch.metrics.frc`).

The arithmetic follows PtychoPINN's precisions (float32 amplitudes for complex64 input, float64
plane-removed phases) so the numbers agree with it to rounding.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ptychostitch.errors import InputError
from ptychostitch.metrics.coverage import Window, largest_covered_rectangle
from ptychostitch.metrics.frc import cutoff_crossed, frc, frc_cutoff, square_crop
from ptychostitch.metrics.ssim import MIN_SIDE, ms_ssim, ssim

PhaseAlign = Literal["plane", "mean"]

OPENCV_PSNR_PEAK = 255.0
"""``cv2.PSNR``'s default peak value ``R``, which PtychoPINN leaves in place for every input."""

METRIC_KEYS: tuple[str, ...] = ("mae", "mse", "psnr", "ssim", "ms_ssim", "frc50", "frc1over7", "frc")
"""The keys of :func:`eval_reconstruction`'s result, in PtychoPINN's order."""


class ReconstructionMetrics(dict):
    """Result of :func:`eval_reconstruction`: a plain dict ``key -> (amplitude, phase)``.

    The keys are exactly PtychoPINN's (:data:`METRIC_KEYS`), with PtychoPINN's value types:
    ``mae``/``mse`` numpy floats; ``psnr``, ``frc50``, ``frc1over7`` Python floats (NaN when
    undefined); ``ssim``, ``ms_ssim`` floats; ``frc`` a float64 curve per part, or None for an
    all-zero target.

    Attributes
    ----------
    window : (int, int, int, int)
        ``(y0, y1, x0, x1)``, half-open, of the frame region that was scored before the trim;
        the whole frame unless a coverage map showed uncovered pixels.
    frame_shape : (int, int)
        ``(H, W)`` of the inputs.
    evaluated_shape : (int, int)
        Shape after the window and the trim, i.e. of the images every metric saw.
    offset : int
        The trim parameter (``offset // 2`` px per side).
    phase_align_method : {"plane", "mean"}
        How the phases were aligned.
    frc_crossed : dict
        ``{"frc50": (amplitude, phase), "frc1over7": (amplitude, phase)}``: whether the curve
        really falls below that threshold. False means the cut-off is not a resolution: it is
        ``len(curve)`` (never crossed, PtychoPINN's value) or NaN (no curve).
    """

    window: Window
    frame_shape: tuple[int, int]
    evaluated_shape: tuple[int, int]
    offset: int
    phase_align_method: str
    frc_crossed: dict[str, tuple[bool, bool]]


@dataclass(frozen=True)
class PreparedPair:
    """Target and prediction after window, trim, amplitude normalisation and phase alignment.

    Attributes
    ----------
    target_amp : ndarray, shape (h, w), float32
        ``|gt|``.
    pred_amp : ndarray, shape (h, w)
        ``|pred| * amp_scale`` (float32 for complex64 input).
    amp_scale : float
        ``mean(|gt|) / mean(|pred|)``.
    target_phase, pred_phase : ndarray, shape (h, w)
        Aligned phases in radians (float64 after plane removal).
    target, pred : ndarray, shape (h, w), complex
        The complex images after window and trim, unchanged otherwise.
    window : Window
        Scored frame region before the trim.
    frame_shape : (int, int)
        Shape of the inputs.
    """

    target_amp: np.ndarray
    pred_amp: np.ndarray
    amp_scale: float
    target_phase: np.ndarray
    pred_phase: np.ndarray
    target: np.ndarray
    pred: np.ndarray
    window: Window
    frame_shape: tuple[int, int]


def _as_image(array: np.ndarray, name: str) -> np.ndarray:
    """Accept PtychoPINN's shapes, ``(H, W)``, ``(H, W, 1)`` or ``(1, H, W, 1)``; return ``(H, W)``."""
    a = np.asarray(array)
    if not np.issubdtype(a.dtype, np.number):
        raise InputError(f"{name}: expected a numeric (complex) array, found dtype {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    elif a.ndim == 4 and a.shape[0] == 1 and a.shape[3] == 1:
        a = a[0, :, :, 0]
    if a.ndim != 2:
        raise InputError(f"{name}: expected shape (H, W), (H, W, 1) or (1, H, W, 1), found {a.shape}")
    return a


def trim(image: np.ndarray, offset: int) -> np.ndarray:
    """Drop ``offset // 2`` pixels from every side of the first two axes (PtychoPINN ``trim``).

    ``offset = 0`` keeps the whole image (PtychoPINN would return an empty array).
    """
    k = offset // 2
    return image[k : image.shape[0] - k, k : image.shape[1] - k]


@functools.lru_cache(maxsize=8)
def _plane_fit(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pseudo-inverse of the design matrix ``[x, y, 1]`` of an ``h x w`` image, and its grids."""
    y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    solve = np.linalg.pinv(np.column_stack([x.ravel(), y.ravel(), np.ones(x.size)]))
    for arr in (x, y, solve):
        arr.flags.writeable = False
    return solve, x, y


def remove_plane(phase: np.ndarray) -> np.ndarray:
    """Subtract the unweighted least-squares plane ``a x + b y + c`` from a phase image.

    Parameters
    ----------
    phase : ndarray, shape (h, w), real
        Phase in radians; ``x`` is the column index and ``y`` the row index, in pixels.

    Returns
    -------
    ndarray, shape (h, w), float64
        ``phase - (a x + b y + c)`` (PtychoPINN ``fit_and_remove_plane``). The coefficients come
        from the design matrix's pseudo-inverse, cached per shape; they equal PtychoPINN's
        ``numpy.linalg.lstsq`` solution to rounding.
    """
    solve, x, y = _plane_fit(*phase.shape)
    a, b, c = solve @ phase.ravel().astype(np.float64)
    return phase - (a * x + b * y + c)


def psnr(target: np.ndarray, pred: np.ndarray, data_range: float = OPENCV_PSNR_PEAK) -> float:
    """Peak signal-to-noise ratio as PtychoPINN gets it from ``cv2.PSNR``, without OpenCV.

    OpenCV (``modules/core/src/norm.cpp``, ``cv::PSNR(src1, src2, R=255)``) computes
    ``20 log10(R / (sqrt(NORM_L2SQR(src1 - src2) / n) + DBL_EPSILON))``, with ``n`` the number
    of elements and ``DBL_EPSILON = 2.22e-16``; its float kernels form each difference in
    double. PtychoPINN passes both images as float32 and keeps the default ``R = 255`` whatever
    the data range, so identical images give ``20 log10(255 / DBL_EPSILON) = 361.2`` dB.

    Parameters
    ----------
    target, pred : ndarray, same shape, real
        Images in any units; cast to float32 first, as PtychoPINN does.
    data_range : float
        Peak value ``R``, in the images' units (OpenCV's default 255).

    Returns
    -------
    float
        PSNR in dB.
    """
    t = np.asarray(target, dtype=np.float32).astype(np.float64)
    p = np.asarray(pred, dtype=np.float32).astype(np.float64)
    rms = math.sqrt(float(np.sum((t - p) ** 2)) / t.size)
    return 20.0 * math.log10(data_range / (rms + sys.float_info.epsilon))


def prepare_pair(
    stitched: np.ndarray,
    ground_truth: np.ndarray,
    *,
    coverage: np.ndarray | None = None,
    offset: int = 4,
    phase_align_method: PhaseAlign = "plane",
) -> PreparedPair:
    """Validate the inputs and apply steps 1-4 of the module docstring.

    Raises
    ------
    InputError
        Shapes that differ, a coverage map of another shape or with nothing covered, an odd or
        negative ``offset``, an unknown ``phase_align_method``, non-finite values in the scored
        window, a scored image smaller than 7 x 7, or a prediction whose amplitude is 0
        everywhere.
    """
    pred = _as_image(stitched, "stitched object")
    gt = _as_image(ground_truth, "ground truth")
    if pred.shape != gt.shape:
        raise InputError(
            f"stitched object shape {pred.shape} differs from ground truth shape {gt.shape}: both must be in "
            "the ground-truth frame (ptychostitch never resizes)"
        )
    if not isinstance(offset, (int, np.integer)) or offset < 0 or offset % 2:
        raise InputError(f"offset must be an even integer >= 0 (offset // 2 px are trimmed per side), got {offset!r}")
    if phase_align_method not in ("plane", "mean"):
        raise InputError(f"phase_align_method must be 'plane' or 'mean', got {phase_align_method!r}")
    frame_shape = (int(gt.shape[0]), int(gt.shape[1]))
    window: Window = (0, frame_shape[0], 0, frame_shape[1])
    if coverage is not None:
        cov = np.asarray(coverage)
        cov = cov[:, :, 0] if cov.ndim == 3 and cov.shape[2] == 1 else cov
        if cov.shape != frame_shape:
            raise InputError(f"coverage shape {cov.shape} differs from the frame shape {frame_shape}")
        window = largest_covered_rectangle(cov)
    y0, y1, x0, x1 = window
    for name, image in (("stitched object", pred), ("ground truth", gt)):
        bad = int(np.count_nonzero(~np.isfinite(image[y0:y1, x0:x1])))
        if bad:
            raise InputError(f"{name}: {bad} non-finite (NaN or inf) values in the scored window {window}")
    pred = trim(pred[y0:y1, x0:x1], offset)
    gt = trim(gt[y0:y1, x0:x1], offset)
    if min(gt.shape) < MIN_SIDE:
        raise InputError(
            f"scored image is {gt.shape[0]}x{gt.shape[1]} after window {window} and trim offset {offset}; "
            f"SSIM needs at least {MIN_SIDE}x{MIN_SIDE}"
        )
    target_amp = np.abs(gt).astype(np.float32)
    pred_amp = np.abs(pred)
    pred_mean = np.mean(pred_amp)
    if not pred_mean > 0:
        raise InputError(f"stitched object: amplitude is 0 everywhere in the scored window {window}")
    scale = np.mean(target_amp) / pred_mean
    target_phase = np.angle(gt)
    pred_phase = np.angle(pred)
    if phase_align_method == "plane":
        target_phase, pred_phase = remove_plane(target_phase), remove_plane(pred_phase)
    else:
        target_phase, pred_phase = target_phase - np.mean(target_phase), pred_phase - np.mean(pred_phase)
    return PreparedPair(
        target_amp=target_amp,
        pred_amp=pred_amp * scale,
        amp_scale=float(scale),
        target_phase=target_phase,
        pred_phase=pred_phase,
        target=gt,
        pred=pred,
        window=window,
        frame_shape=frame_shape,
    )


def frc_with_cutoffs(target: np.ndarray, pred: np.ndarray, frc_sigma: float = 0.0) -> tuple[np.ndarray | None, float, float]:
    """PtychoPINN's ``frc50``: the FRC curve and its 0.5 and 1/7 cut-offs (ring units).

    Non-square images are centre-cropped to a square first. An all-zero target gives
    ``(None, nan, nan)``. With ``frc_sigma > 0`` the curve is smoothed with a 1-D Gaussian of
    that width (rings) before the cut-offs are read.
    """
    target, pred = square_crop(target, pred)
    if np.max(target) == np.min(target) == 0:
        return None, math.nan, math.nan
    curve = frc(target, pred)
    if frc_sigma > 0:
        curve = gaussian_filter1d(curve, frc_sigma)
    return curve, frc_cutoff(curve, 0.5), frc_cutoff(curve, 1.0 / 7.0)


def eval_reconstruction(
    stitched: np.ndarray,
    ground_truth: np.ndarray,
    *,
    phase_align_method: PhaseAlign = "plane",
    frc_sigma: float = 0.0,
    ms_ssim_sigma: float = 1.0,
    offset: int = 4,
    coverage: np.ndarray | None = None,
) -> ReconstructionMetrics:
    """Score a stitched object against the ground truth with PtychoPINN's definitions.

    Parameters
    ----------
    stitched : ndarray, shape (H, W), (H, W, 1) or (1, H, W, 1), complex
        The stitched object in the ground-truth frame, in ground-truth amplitude units.
    ground_truth : ndarray, same frame and shape, complex
        ``YY_ground_truth``.
    phase_align_method : {"plane", "mean"}
        Per-image phase alignment (PtychoPINN's default ``"plane"``).
    frc_sigma : float
        Gaussian smoothing of the FRC curves before the cut-offs, in rings (default 0: none).
    ms_ssim_sigma : float
        Gaussian smoothing of both amplitudes before MS-SSIM, in pixels (default 1.0).
    offset : int
        Even; ``offset // 2`` px are trimmed from every side (default 4, PtychoPINN's).
    coverage : ndarray, shape (H, W), optional
        Stitching weights (0 = uncovered). When some pixel is uncovered, only the largest fully
        covered rectangle is scored; the result's ``window`` says which.

    Returns
    -------
    ReconstructionMetrics
        ``{"mae", "mse", "psnr", "ssim", "ms_ssim", "frc50", "frc1over7", "frc"}``, each
        ``(amplitude, phase)``; see the module docstring for every definition. Units: MAE/MSE in
        ground-truth amplitude units (squared) and radians (squared); PSNR in dB; FRC cut-offs in
        rings (cycles per image side).

    Raises
    ------
    InputError
        See :func:`prepare_pair`.
    """
    pair = prepare_pair(stitched, ground_truth, coverage=coverage, offset=offset, phase_align_method=phase_align_method)
    a_t, a_p = pair.target_amp, pair.pred_amp
    p_t, p_p = pair.target_phase, pair.pred_phase
    s_t, s_p = (p_t + np.pi) / (2 * np.pi), (p_p + np.pi) / (2 * np.pi)
    frc_amp, frc50_amp, frc7_amp = frc_with_cutoffs(a_t, a_p, frc_sigma)
    frc_phase, frc50_phase, frc7_phase = frc_with_cutoffs(p_t, p_p, frc_sigma)
    result = ReconstructionMetrics(
        mae=(np.mean(np.abs(a_t - a_p)), np.mean(np.abs(p_t - p_p))),
        mse=(np.mean((a_t - a_p) ** 2), np.mean((p_t - p_p) ** 2)),
        psnr=(psnr(a_t, a_p), psnr(p_t, p_p)),
        ssim=(ssim(a_t, a_p, data_range=float(np.max(a_t) - np.min(a_t))), ssim(s_t, s_p, data_range=1.0)),
        ms_ssim=(ms_ssim(a_t, a_p, sigma=ms_ssim_sigma), ms_ssim(s_t, s_p)),
        frc50=(frc50_amp, frc50_phase),
        frc1over7=(frc7_amp, frc7_phase),
        frc=(frc_amp, frc_phase),
    )
    result.window = pair.window
    result.frame_shape = pair.frame_shape
    result.evaluated_shape = (int(a_t.shape[0]), int(a_t.shape[1]))
    result.offset = int(offset)
    result.phase_align_method = phase_align_method
    result.frc_crossed = {
        key: (cutoff_crossed(frc_amp, result[key][0]), cutoff_crossed(frc_phase, result[key][1])) for key in ("frc50", "frc1over7")
    }
    return result
