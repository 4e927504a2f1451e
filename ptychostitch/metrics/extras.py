"""Metrics beyond PtychoPINN, reported under their own names; they never change the compatible numbers.

Computed on the same scored images as :func:`ptychostitch.metrics.eval_reconstruction` (same
window, trim, amplitude normalisation and phase alignment):

* **FRC with the real-part numerator**, ``Re<F1 conj F2>_r / sqrt(<|F1|^2>_r <|F2|^2>_r)``, and
  its cut-offs at 0.5, 1/7 and where it meets the 1-bit and 1/2-bit threshold curves of van Heel &
  Schatz (2005), which depend on the pixel count of each ring.
* **Exact global phase** of the complex fields: ``gamma = angle(sum gt conj(pred))`` minimises
  ``sum |gt - exp(i gamma) pred|^2`` (as in cdtools' ``calc_rms_error``); reported with the
  wrapped phase MAE and the complex normalised RMS error after that one rotation.
* **Subpixel registration** (optional): ``skimage.registration.phase_cross_correlation`` of the
  phasor images ``exp(i angle(.))`` of the scored windows, the upsampled DFT method of
  Guizar-Sicairos, Thurman & Fienup (2008) on the plain (not phase-normalised) cross-correlation.
  The raw phase is used (a plane fitted to a wrapped phase is not a ramp; the correlation
  magnitude is blind to a global phase); both phasors are made mean-free and tapered with a Tukey
  window (half of each axis), as in PSI's ``aligned_FSC`` recipe, so the edges of the window do not
  bias the estimate. The shift is only measured and reported, never applied.

References
----------
.. [1] M. van Heel and M. Schatz, J. Struct. Biol. 151, 250-262 (2005).
.. [2] P. B. Rosenthal and R. Henderson, J. Mol. Biol. 333, 721-745 (2003).
.. [3] M. Guizar-Sicairos, S. T. Thurman and J. R. Fienup, "Efficient subpixel image
   registration algorithms", Opt. Lett. 33, 156-158 (2008). doi:10.1364/OL.33.000156
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from skimage.registration import phase_cross_correlation

from ptychostitch.errors import InputError
from ptychostitch.metrics.coverage import Window
from ptychostitch.metrics.frc import HALF_BIT_SNR, ONE_BIT_SNR, frc, frc_cutoff, ring_counts, snr_threshold, square_crop
from ptychostitch.metrics.reconstruction import PhaseAlign, prepare_pair


@dataclass(frozen=True)
class ExtraMetrics:
    """Extras for one stitched object; every pair is ``(amplitude, phase)``.

    Attributes
    ----------
    frc_re : (ndarray, ndarray)
        FRC curves with the real-part numerator, float64, one value per ring.
    ring_pixels : ndarray
        Pixels in each ring (the ``n`` of the threshold curves).
    one_bit, half_bit : ndarray
        Van Heel & Schatz threshold curves for those rings.
    frc_re50, frc_re1over7, frc_re_one_bit, frc_re_half_bit : (float, float)
        Where ``frc_re`` first falls below 0.5, 1/7, the 1-bit and the 1/2-bit curve, in rings
        (interpolated; the curve length when never crossed). The search starts at ring 1: ring 0
        is one pixel, where the threshold curves are 1 and the real-part FRC of a mean-free image
        (a plane-removed phase) is rounding noise.
    global_phase : float
        ``gamma = angle(sum gt conj(pred))`` in radians over the scored window.
    phase_mae_global : float
        ``mean |wrap(angle(pred) + gamma - angle(gt))|`` in radians (no plane removed).
    complex_nrmse_global : float
        ``sqrt(sum |gt - exp(i gamma) pred|^2 / sum |gt|^2)`` (dimensionless, amplitudes as given).
    shift : (float, float) or None
        ``(dy, dx)`` in pixels that registers the stitched object onto the ground truth (the
        shift to apply to it, skimage's convention); None unless registration was asked for.
    shift_error : float or None
        ``phase_cross_correlation``'s normalised RMS error of that registration.
    window : Window
        ``(y0, y1, x0, x1)`` of the scored frame region before the trim.
    """

    frc_re: tuple[np.ndarray, np.ndarray]
    ring_pixels: np.ndarray
    one_bit: np.ndarray
    half_bit: np.ndarray
    frc_re50: tuple[float, float]
    frc_re1over7: tuple[float, float]
    frc_re_one_bit: tuple[float, float]
    frc_re_half_bit: tuple[float, float]
    global_phase: float
    phase_mae_global: float
    complex_nrmse_global: float
    shift: tuple[float, float] | None
    shift_error: float | None
    window: Window


def global_phase(target: np.ndarray, pred: np.ndarray) -> float:
    """``angle(sum target conj(pred))``: the phase factor ``exp(i gamma)`` that best maps ``pred`` onto ``target``.

    Parameters
    ----------
    target, pred : ndarray, same shape, complex

    Returns
    -------
    float
        ``gamma`` in radians, in ``(-pi, pi]``; ``sum |target - exp(i gamma) pred|^2`` is minimal.
    """
    return float(np.angle(np.vdot(pred, target)))


REGISTRATION_TAPER = 0.5
"""Tukey-window parameter of the taper applied before registration (the tapered fraction per axis)."""


def _registration_image(field: np.ndarray) -> np.ndarray:
    """Mean-free phasor ``exp(i angle(field))`` (0 where the field is 0), tapered with a Tukey window.

    The DFT correlation treats the window as periodic; the taper removes the jump at its edges, and
    removing the mean removes the window's own correlation peak at zero shift, which would pull
    the estimate towards 0.
    """
    from scipy.signal.windows import tukey  # scipy.signal is slow to import: only when registering

    amp = np.abs(field)
    phasor = np.divide(field, amp, out=np.zeros(field.shape, np.complex128), where=amp > 0)
    taper = np.outer(tukey(field.shape[0], REGISTRATION_TAPER), tukey(field.shape[1], REGISTRATION_TAPER))
    return (phasor - phasor.mean()) * taper


def extra_metrics(
    stitched: np.ndarray,
    ground_truth: np.ndarray,
    *,
    coverage: np.ndarray | None = None,
    offset: int = 4,
    phase_align_method: PhaseAlign = "plane",
    register: bool = False,
    upsample_factor: int = 20,
) -> ExtraMetrics:
    """Compute the extras on the images :func:`eval_reconstruction` scores (same arguments).

    Parameters
    ----------
    stitched, ground_truth, coverage, offset, phase_align_method
        As for :func:`ptychostitch.metrics.eval_reconstruction`.
    register : bool
        Also measure the subpixel shift between the phasor images.
    upsample_factor : int
        Registration precision is ``1 / upsample_factor`` pixels.

    Returns
    -------
    ExtraMetrics
    """
    if upsample_factor < 1:
        raise InputError(f"upsample_factor must be >= 1, got {upsample_factor}")
    pair = prepare_pair(stitched, ground_truth, coverage=coverage, offset=offset, phase_align_method=phase_align_method)
    amp_t, amp_p = square_crop(pair.target_amp, pair.pred_amp)
    phase_t, phase_p = square_crop(pair.target_phase, pair.pred_phase)
    curves = (frc(amp_t, amp_p, numerator="re"), frc(phase_t, phase_p, numerator="re"))
    pixels = ring_counts(*amp_t.shape)
    one_bit = snr_threshold(pixels, ONE_BIT_SNR)
    half_bit = snr_threshold(pixels, HALF_BIT_SNR)

    def cutoffs(threshold: float | np.ndarray) -> tuple[float, float]:
        return (frc_cutoff(curves[0], threshold, first_ring=1), frc_cutoff(curves[1], threshold, first_ring=1))

    gamma = global_phase(pair.target, pair.pred)
    rotated = pair.pred.astype(np.complex128) * np.exp(1j * gamma)
    target = pair.target.astype(np.complex128)
    wrapped = np.angle(rotated * np.conj(target))
    energy = float(np.sum(np.abs(target) ** 2))
    nrmse = math.sqrt(float(np.sum(np.abs(target - rotated) ** 2)) / energy) if energy > 0 else math.nan
    shift: tuple[float, float] | None = None
    shift_error: float | None = None
    if register:
        measured, error, _ = phase_cross_correlation(
            _registration_image(pair.target), _registration_image(pair.pred), upsample_factor=upsample_factor, normalization=None
        )
        shift, shift_error = (float(measured[0]), float(measured[1])), float(error)
    return ExtraMetrics(
        frc_re=curves,
        ring_pixels=pixels,
        one_bit=one_bit,
        half_bit=half_bit,
        frc_re50=cutoffs(0.5),
        frc_re1over7=cutoffs(1.0 / 7.0),
        frc_re_one_bit=cutoffs(one_bit),
        frc_re_half_bit=cutoffs(half_bit),
        global_phase=gamma,
        phase_mae_global=float(np.mean(np.abs(wrapped))),
        complex_nrmse_global=nrmse,
        shift=shift,
        shift_error=shift_error,
        window=pair.window,
    )
