"""Extras: exact global phase, real-part FRC and thresholds, subpixel registration."""

import numpy as np
import pytest
from scipy.ndimage import fourier_shift, gaussian_filter

from ptychostitch.metrics import eval_reconstruction, extra_metrics
from ptychostitch.metrics.frc import HALF_BIT_SNR, ONE_BIT_SNR, ring_counts, snr_threshold


def periodic_object(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amp = 0.6 + gaussian_filter(rng.random((n, n)), 2, mode="wrap") * 2
    phase = 8 * (gaussian_filter(rng.random((n, n)), 2, mode="wrap") - 0.5)
    return (amp * np.exp(1j * phase)).astype(np.complex64)


def test_global_phase_is_recovered_exactly() -> None:
    gt = periodic_object(48, 1)
    pred = (gt * np.exp(-0.7j)).astype(np.complex64)
    x = extra_metrics(pred, gt)
    assert x.global_phase == pytest.approx(0.7, abs=1e-6)
    assert x.phase_mae_global < 1e-6 and x.complex_nrmse_global < 1e-6
    rng = np.random.default_rng(2)
    noisy = (pred + 0.05 * rng.standard_normal(pred.shape)).astype(np.complex64)
    y = extra_metrics(noisy, gt)
    t, p = gt[2:-2, 2:-2].astype(np.complex128), noisy[2:-2, 2:-2].astype(np.complex128)
    gammas = np.linspace(y.global_phase - 0.01, y.global_phase + 0.01, 21)
    errors = [np.sum(np.abs(t - np.exp(1j * g) * p) ** 2) for g in gammas]
    assert int(np.argmin(errors)) == 10  # the least-squares optimum over a fine scan
    assert y.complex_nrmse_global == pytest.approx(np.sqrt(errors[10] / np.sum(np.abs(t) ** 2)), rel=1e-9)


def test_real_part_frc_sees_anticorrelated_phase() -> None:
    gt = periodic_object(48, 3)
    pred = (np.abs(gt) * np.exp(-1j * np.angle(gt))).astype(np.complex64)  # conjugate phase
    m = eval_reconstruction(pred, gt)
    x = extra_metrics(pred, gt)
    np.testing.assert_allclose(x.frc_re[1][1:], -m["frc"][1][1:], rtol=1e-9, atol=1e-12)
    assert x.frc_re50[1] == 1.0 and m["frc50"][1] == len(m["frc"][1])


def test_threshold_curves_and_their_crossings() -> None:
    gt = periodic_object(64, 4)
    rng = np.random.default_rng(5)
    pred = (gt + 0.3 * (rng.standard_normal(gt.shape) + 1j * rng.standard_normal(gt.shape))).astype(np.complex64)
    x = extra_metrics(pred, gt)
    counts = ring_counts(60, 60)
    np.testing.assert_array_equal(x.ring_pixels, counts)
    np.testing.assert_allclose(x.one_bit, snr_threshold(counts, ONE_BIT_SNR))
    np.testing.assert_allclose(x.half_bit, snr_threshold(counts, HALF_BIT_SNR))
    assert np.all(x.half_bit[1:] < x.one_bit[1:])
    for part in (0, 1):
        one, half = x.frc_re_one_bit[part], x.frc_re_half_bit[part]
        assert 1 <= one <= half <= len(x.frc_re[part])  # the 1/2-bit curve is lower: crossed later
        i = int(np.ceil(one))
        assert x.frc_re[part][i] < x.one_bit[i] and np.all(x.frc_re[part][1 : int(one)] >= x.one_bit[1 : int(one)])


@pytest.mark.parametrize("shift", [(1.5, -2.25), (0.3, 0.7), (-4.4, 6.1)])
def test_registration_measures_a_known_subpixel_shift(shift: tuple[float, float]) -> None:
    big = periodic_object(128, 6)
    moved = np.fft.ifft2(fourier_shift(np.fft.fft2(big), shift))
    gt, pred = big[12:-12, 12:-12], moved[12:-12, 12:-12].astype(np.complex64)  # content moved by +shift
    x = extra_metrics(pred, gt, register=True, upsample_factor=20)
    assert x.shift == pytest.approx((-shift[0], -shift[1]), abs=0.1)
    assert extra_metrics(gt, gt, register=True).shift == pytest.approx((0.0, 0.0), abs=1e-9)
    assert extra_metrics(gt, gt).shift is None


def test_extras_leave_the_compatible_numbers_alone() -> None:
    gt = periodic_object(40, 7)
    pred = (gt * 1.1).astype(np.complex64)
    before = eval_reconstruction(pred, gt)
    extra_metrics(pred, gt, register=True)
    after = eval_reconstruction(pred, gt)
    for key in before:
        np.testing.assert_array_equal(np.asarray(before[key], dtype=object), np.asarray(after[key], dtype=object))
