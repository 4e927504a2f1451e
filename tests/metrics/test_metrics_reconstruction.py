"""eval_reconstruction pinned against independently derived values and PtychoPINN's definitions."""

import math
import sys

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter, gaussian_filter1d
from skimage.metrics import structural_similarity

from ptychostitch.errors import InputError
from ptychostitch.metrics import eval_reconstruction, largest_covered_rectangle
from ptychostitch.metrics.reconstruction import psnr, remove_plane
from ptychostitch.metrics.ssim import MS_SSIM_WEIGHTS, ms_ssim, ms_ssim_shapes

DBL_EPSILON = 2.220446049250313e-16


def smooth_object(n: int, seed: int, phase_scale: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amp = 0.5 + gaussian_filter(rng.random((n, n)), 2)
    phase = phase_scale * (gaussian_filter(rng.random((n, n)), 3) - 0.5) / 0.1
    return (amp * np.exp(1j * np.clip(phase, -3, 3))).astype(np.complex64)


def noisy(obj: np.ndarray, seed: int, level: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (obj + level * (rng.standard_normal(obj.shape) + 1j * rng.standard_normal(obj.shape))).astype(np.complex64)


def test_identical_objects() -> None:
    gt = smooth_object(64, 1)
    m = eval_reconstruction(gt, gt[..., None])
    assert list(m) == ["mae", "mse", "psnr", "ssim", "ms_ssim", "frc50", "frc1over7", "frc"]
    assert m["mae"] == (0, 0) and m["mse"] == (0, 0)
    peak = 20 * math.log10(255 / DBL_EPSILON)
    assert m["psnr"][0] == pytest.approx(peak) and m["psnr"][1] == pytest.approx(peak) and peak == pytest.approx(361.2, abs=0.05)
    assert m["ssim"] == pytest.approx((1.0, 1.0)) and m["ms_ssim"] == pytest.approx((1.0, 1.0))
    for curve in m["frc"]:
        assert curve.shape == (43,)
        np.testing.assert_allclose(curve, 1.0, atol=1e-12)
    assert m["frc50"] == (43.0, 43.0) and m["frc1over7"] == (43.0, 43.0)
    assert m.evaluated_shape == (60, 60) and m.window == (0, 64, 0, 64)
    gt68 = smooth_object(68, 2)
    assert eval_reconstruction(gt68, gt68)["frc50"] == (46.0, 46.0)


def reference_eval(pred: np.ndarray, gt: np.ndarray) -> dict:
    """PtychoPINN's eval_reconstruction written out from its definition in docs/metrics.md (offset 4, 'plane')."""
    gt, pred = gt[2:-2, 2:-2], pred[2:-2, 2:-2]
    a_t = np.abs(gt).astype(np.float32)
    a_p = np.abs(pred) * (np.mean(a_t) / np.mean(np.abs(pred)))

    def plane_removed(phi: np.ndarray) -> np.ndarray:
        yy, xx = np.mgrid[: phi.shape[0], : phi.shape[1]]
        design = np.column_stack([xx.ravel(), yy.ravel(), np.ones(xx.size)])
        coef = np.linalg.lstsq(design, phi.ravel().astype(np.float64), rcond=None)[0]
        return phi - (coef[0] * xx + coef[1] * yy + coef[2])

    p_t, p_p = plane_removed(np.angle(gt)), plane_removed(np.angle(pred))
    s_t, s_p = (p_t + np.pi) / (2 * np.pi), (p_p + np.pi) / (2 * np.pi)

    def opencv_psnr(t: np.ndarray, p: np.ndarray) -> float:
        d = t.astype(np.float32).astype(np.float64) - p.astype(np.float32).astype(np.float64)
        return 20 * math.log10(255 / (math.sqrt(np.mean(d**2)) + sys.float_info.epsilon))

    def ms(t: np.ndarray, p: np.ndarray, sigma: float) -> float:
        if sigma:
            t, p = gaussian_filter(t, sigma), gaussian_filter(p, sigma)
        dr = max(np.ptp(t), np.ptp(p))
        out = 1.0
        for level, w in enumerate(MS_SSIM_WEIGHTS):
            out *= max(structural_similarity(t, p, data_range=dr), 1e-4) ** w
            t, p = t[::2, ::2], p[::2, ::2]
            if min(t.shape) < 7:
                break
        return out

    return {
        "mae": (np.mean(np.abs(a_t - a_p)), np.mean(np.abs(p_t - p_p))),
        "mse": (np.mean((a_t - a_p) ** 2), np.mean((p_t - p_p) ** 2)),
        "psnr": (opencv_psnr(a_t, a_p), opencv_psnr(p_t, p_p)),
        "ssim": (
            structural_similarity(a_t, a_p, data_range=float(a_t.max() - a_t.min())),
            structural_similarity(s_t, s_p, data_range=1.0),
        ),
        "ms_ssim": (ms(a_t, a_p, 1.0), ms(s_t, s_p, 0.0)),
    }


def test_matches_ptychopinn_definitions_written_out() -> None:
    gt = smooth_object(80, 3)
    pred = noisy(1.3 * gt, 4)
    ours = eval_reconstruction(pred, gt)
    ref = reference_eval(pred, gt)
    for key, (amp, phase) in ref.items():
        assert ours[key][0] == pytest.approx(amp, rel=1e-6), key
        assert ours[key][1] == pytest.approx(phase, rel=1e-9), key
    assert isinstance(ours["mae"][0], np.float32) and isinstance(ours["psnr"][0], float)
    assert ours["frc"][0].dtype == np.float64


def test_psnr_formula_by_hand() -> None:
    t = np.array([[0.0, 1.0], [2.0, 3.0]])
    p = np.array([[0.0, 1.0], [2.0, 5.0]])  # MSE = 4/4 = 1
    assert psnr(t, p) == pytest.approx(20 * math.log10(255.0), rel=1e-15)
    assert psnr(t, p, data_range=1.0) == pytest.approx(0.0, abs=1e-12)
    assert psnr(t, t) == 20 * math.log10(255.0 / DBL_EPSILON)
    assert psnr(t, t + 0.5) == pytest.approx(20 * math.log10(255 / 0.5))


def test_plane_and_constant_added_to_phase_are_removed() -> None:
    gt = smooth_object(70, 5, phase_scale=0.5)
    yy, xx = np.mgrid[:70, :70]
    ramp = 0.4 + 0.004 * xx - 0.006 * yy
    assert np.abs(np.angle(gt)).max() + np.abs(ramp).max() < np.pi  # no wrapping
    pred = (gt * np.exp(1j * ramp)).astype(np.complex64)
    m = eval_reconstruction(pred, gt)
    assert m["mae"][1] < 1e-6 and m["ssim"][1] == pytest.approx(1.0, abs=1e-6)
    assert m["frc50"][1] == len(m["frc"][1])
    plain = eval_reconstruction(pred, gt, phase_align_method="mean")
    assert plain["mae"][1] > 0.02  # the mean removes the constant but not the ramp
    const = eval_reconstruction((gt * np.exp(0.4j)).astype(np.complex64), gt, phase_align_method="mean")
    assert const["mae"][1] < 1e-6


def test_remove_plane_leaves_zero_for_a_plane() -> None:
    yy, xx = np.mgrid[:20, :31]
    residual = remove_plane(0.1 * xx + 0.2 * yy + 0.5)
    assert residual.dtype == np.float64 and np.abs(residual).max() < 1e-12


def test_amplitude_metrics_invariant_to_a_global_scale() -> None:
    gt = smooth_object(64, 6)
    pred = noisy(gt, 7)
    base = eval_reconstruction(pred, gt)
    scaled = eval_reconstruction((4.25 * pred).astype(np.complex64), gt)
    for key in ("mae", "mse", "psnr", "ssim", "ms_ssim", "frc50", "frc1over7"):
        assert scaled[key][0] == pytest.approx(base[key][0], rel=1e-5), key
        assert scaled[key][1] == pytest.approx(base[key][1], rel=1e-6), key


def test_ms_ssim_on_60x60_uses_four_levels() -> None:
    assert ms_ssim_shapes((60, 60)) == [(60, 60), (30, 30), (15, 15), (8, 8)]
    assert sum(MS_SSIM_WEIGHTS[:4]) == pytest.approx(0.8668)
    rng = np.random.default_rng(8)
    a = gaussian_filter(rng.random((60, 60)), 1.5)
    b = a + 0.02 * rng.standard_normal(a.shape)
    dr = max(np.ptp(a), np.ptp(b))
    expected = 1.0
    for level, w in zip(range(4), MS_SSIM_WEIGHTS):
        step = 2**level
        expected *= structural_similarity(a[::step, ::step], b[::step, ::step], data_range=dr) ** w
    assert ms_ssim(a, b) == pytest.approx(expected, rel=1e-12)
    assert ms_ssim(a, a) == pytest.approx(1.0)
    five = ms_ssim_shapes((128, 128))
    assert five == [(128, 128), (64, 64), (32, 32), (16, 16), (8, 8)]


def test_ms_ssim_clamps_negative_ssim_and_returns_zero_on_nan() -> None:
    rng = np.random.default_rng(9)
    a = gaussian_filter(rng.random((40, 40)), 1)
    b = 2 * a.mean() - a  # same mean, anti-correlated: SSIM < 0 at the finest scales
    value = ms_ssim(a, b)
    dr = max(np.ptp(a), np.ptp(b))
    expected, clamped = 1.0, 0
    for level, w in zip(range(3), MS_SSIM_WEIGHTS):  # 40, 20, 10
        s = structural_similarity(a[:: 2**level, :: 2**level], b[:: 2**level, :: 2**level], data_range=dr)
        clamped += s < 0
        expected *= (1e-4 if s < 0 else s) ** w
    assert clamped >= 1
    assert value == pytest.approx(expected, rel=1e-12) and value < 0.9
    assert ms_ssim(np.ones((20, 20)), np.ones((20, 20))) == 0.0  # data range 0: SSIM is NaN


def test_frc_sigma_smooths_the_curve_before_the_cutoffs() -> None:
    gt = smooth_object(64, 10)
    pred = noisy(gt, 11, 0.2)
    raw = eval_reconstruction(pred, gt)
    smooth = eval_reconstruction(pred, gt, frc_sigma=2.0)
    np.testing.assert_allclose(smooth["frc"][0], gaussian_filter1d(raw["frc"][0], 2.0), rtol=1e-12)
    assert smooth["frc50"][0] != raw["frc50"][0]


def test_accepted_shapes_give_one_result() -> None:
    gt = smooth_object(32, 12)
    pred = noisy(gt, 13)
    ref = eval_reconstruction(pred, gt)
    for p, g in ((pred[..., None], gt[..., None]), (pred[None, ..., None], gt), (pred, gt[None, ..., None])):
        other = eval_reconstruction(p, g)
        assert other["mae"] == ref["mae"] and other["frc50"] == ref["frc50"]


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(InputError, match=r"\(64, 64\).*\(60, 60\)"):
        eval_reconstruction(np.ones((64, 64, 1), np.complex64), np.ones((60, 60, 1), np.complex64))
    with pytest.raises(InputError, match=r"\(2, 8, 8, 1\)"):
        eval_reconstruction(np.ones((2, 8, 8, 1), np.complex64), np.ones((8, 8, 1), np.complex64))


@pytest.mark.parametrize("bad", [np.nan, np.inf, complex(0, np.nan)])
def test_non_finite_input_is_an_error(bad: complex) -> None:
    gt = smooth_object(32, 14)
    pred = gt.copy()
    pred[10, 12] = bad
    with pytest.raises(InputError, match="stitched object: 1 non-finite"):
        eval_reconstruction(pred, gt)
    with pytest.raises(InputError, match="ground truth: 1 non-finite"):
        eval_reconstruction(gt, pred)


def test_other_bad_input_is_an_error() -> None:
    gt = smooth_object(32, 15)
    with pytest.raises(InputError, match="at least 7x7"):
        eval_reconstruction(gt[:10, :10], gt[:10, :10])
    with pytest.raises(InputError, match="even integer"):
        eval_reconstruction(gt, gt, offset=3)
    with pytest.raises(InputError, match="phase_align_method"):
        eval_reconstruction(gt, gt, phase_align_method="ramp")
    with pytest.raises(InputError, match="amplitude is 0"):
        eval_reconstruction(np.zeros_like(gt), gt)
    with pytest.raises(InputError, match="dtype"):
        eval_reconstruction(np.full((32, 32), "a"), gt)


def test_offset_zero_keeps_the_whole_frame() -> None:
    gt = smooth_object(40, 16)
    m = eval_reconstruction(noisy(gt, 17), gt, offset=0)
    assert m.evaluated_shape == (40, 40) and m.offset == 0
    assert eval_reconstruction(gt, gt, offset=8).evaluated_shape == (32, 32)


def brute_force_largest(covered: np.ndarray) -> int:
    h, w = covered.shape
    best = 0
    for y0 in range(h):
        for y1 in range(y0 + 1, h + 1):
            for x0 in range(w):
                for x1 in range(x0 + 1, w + 1):
                    if covered[y0:y1, x0:x1].all():
                        best = max(best, (y1 - y0) * (x1 - x0))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_largest_covered_rectangle_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    covered = rng.random((7, 9)) > 0.25
    covered[3, 4] = True
    y0, y1, x0, x1 = largest_covered_rectangle(covered.astype(np.float32))
    assert covered[y0:y1, x0:x1].all()
    assert (y1 - y0) * (x1 - x0) == brute_force_largest(covered)


def test_coverage_restricts_scoring_to_the_covered_window() -> None:
    gt = smooth_object(50, 18)
    pred = noisy(gt, 19)
    coverage = np.ones((50, 50), np.float32)
    coverage[:5] = 0
    coverage[:, 47:] = 0
    coverage[30, 0] = 0  # a hole: dropping column 0 (45x46) beats dropping rows (at most 25x47)
    pred[coverage == 0] = np.nan  # uncovered pixels never reach a metric
    m = eval_reconstruction(pred, gt, coverage=coverage)
    assert m.window == (5, 50, 1, 47) and m.evaluated_shape == (41, 42)
    direct = eval_reconstruction(pred[5:50, 1:47], gt[5:50, 1:47])
    for key in ("mae", "mse", "ssim", "ms_ssim", "frc50"):
        assert m[key] == direct[key]
    full = eval_reconstruction(gt, gt, coverage=np.ones((50, 50)))
    assert full.window == (0, 50, 0, 50)
    with pytest.raises(InputError, match="coverage is 0 everywhere"):
        eval_reconstruction(gt, gt, coverage=np.zeros((50, 50)))
    with pytest.raises(InputError, match="coverage shape"):
        eval_reconstruction(gt, gt, coverage=np.ones((40, 50)))
