"""FRC against an independent per-ring-mask implementation, its identities, cut-offs and thresholds."""

import math

import numpy as np
import pytest

from ptychostitch.errors import InputError
from ptychostitch.metrics import frc, frc_cutoff
from ptychostitch.metrics.frc import HALF_BIT_SNR, ONE_BIT_SNR, ring_counts, ring_index, snr_threshold
from ptychostitch.metrics.reconstruction import frc_with_cutoffs


def naive_frc(a: np.ndarray, b: np.ndarray, real_part: bool = False) -> np.ndarray:
    """The textbook definition, one ring mask at a time over the full fftshifted plane."""
    n = a.shape[0]
    f1 = np.fft.fftshift(np.fft.fft2(a.astype(np.float64)))
    f2 = np.fft.fftshift(np.fft.fft2(b.astype(np.float64)))
    centre = n // 2
    dist = np.hypot(*np.meshgrid(np.arange(n) - centre, np.arange(n) - centre, indexing="ij"))
    out = []
    r = 0
    while True:
        ring = (dist >= r - 0.5) & (dist < r + 0.5)
        if not ring.any():
            break
        cross = np.mean(f1[ring] * np.conj(f2[ring]))
        top = cross.real if real_part else abs(cross)
        out.append(top / math.sqrt(np.mean(np.abs(f1[ring]) ** 2) * np.mean(np.abs(f2[ring]) ** 2)))
        r += 1
    return np.array(out)


def pair(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.random((n, n))
    return a, a + 0.7 * rng.standard_normal((n, n)) * np.linspace(0, 1, n)[None, :]


@pytest.mark.parametrize("n", [60, 64, 33, 47, 128])
def test_frc_matches_naive_ring_masks(n: int) -> None:
    a, b = pair(n, seed=n)
    np.testing.assert_allclose(frc(a, b), naive_frc(a, b), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(frc(a, b, numerator="re"), naive_frc(a, b, real_part=True), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n,rings", [(60, 43), (64, 46), (128, 92)])
def test_identical_images_give_ones_and_cutoffs_equal_curve_length(n: int, rings: int) -> None:
    assert rings == round(math.sqrt(2) * n / 2) + 1
    a, _ = pair(n)
    curve, frc50, frc1over7 = frc_with_cutoffs(a.astype(np.float32), a.astype(np.float32))
    assert curve.shape == (rings,)
    np.testing.assert_allclose(curve, 1.0, rtol=0, atol=1e-12)
    assert frc50 == frc1over7 == rings


def test_ring_index_is_rounded_distance_from_the_fftshift_dc_bin() -> None:
    idx = ring_index(6, 6)
    assert idx[3, 3] == 0 and idx[3, 4] == 1 and idx[4, 4] == 1 and idx[0, 0] == 4  # sqrt(18) = 4.24
    np.testing.assert_array_equal(ring_counts(6, 6), np.bincount(idx.ravel()))
    assert ring_counts(64, 64).sum() == 64 * 64


def test_independent_noise_has_low_correlation() -> None:
    rng = np.random.default_rng(3)
    curve = frc(rng.standard_normal((128, 128)), rng.standard_normal((128, 128)))
    # each ring holds n/2 independent complex products, so |FRC| is of order sqrt(2/n)
    scale = np.sqrt(2 / ring_counts(128, 128))
    assert np.mean(curve[5:60] / scale[5:60]) < 1.5
    assert np.mean(curve[5:60]) < 0.15


def test_anticorrelated_rings_differ_only_in_sign_between_numerators() -> None:
    a, _ = pair(40)
    np.testing.assert_allclose(frc(a, -a, numerator="re")[1:], -1.0, atol=1e-12)
    np.testing.assert_allclose(frc(a, -a), 1.0, atol=1e-12)
    b = pair(40, seed=5)[1]
    np.testing.assert_allclose(np.abs(frc(a, b, numerator="re")), frc(a, b), atol=1e-12)


def test_non_square_images_are_centre_cropped_like_ptychopinn() -> None:
    a, b = pair(64)
    np.testing.assert_allclose(frc(a[:60], b[:60]), frc(a[:60, 2:62], b[:60, 2:62]), rtol=1e-12)
    np.testing.assert_allclose(frc(a[:, :61], b[:, :61]), frc(a[1:62, :61], b[1:62, :61]), rtol=1e-12)


def test_frc_rejects_mismatched_shapes() -> None:
    with pytest.raises(InputError, match=r"\(8, 8\) and \(8, 9\)"):
        frc(np.zeros((8, 8)), np.zeros((8, 9)))
    with pytest.raises(InputError, match="real images"):
        frc(np.zeros((8, 8), complex), np.zeros((8, 8)))


def test_cutoff_interpolates_between_rings() -> None:
    assert frc_cutoff(np.array([0.95, 0.72, 0.55, 0.45, 0.20]), 0.5) == pytest.approx(2.5, abs=1e-12)
    assert frc_cutoff(np.array([0.95, 0.72, 0.55, 0.45, 0.20]), 1 / 7) == 5.0  # never below 1/7
    assert frc_cutoff(np.array([0.95, 0.72, 0.55, 0.45, 0.10]), 1 / 7) == pytest.approx(3 + (1 / 7 - 0.45) / (0.10 - 0.45))
    assert frc_cutoff(np.array([0.95, 0.72, 0.66, 0.51]), 0.5) == 4.0
    assert frc_cutoff(np.array([0.3, 0.9, 0.1]), 0.5) == 0.0
    assert math.isnan(frc_cutoff(np.array([np.nan, np.nan]), 0.5))
    assert frc_cutoff(np.array([0.9, np.nan, 0.2]), 0.5) == 2.0
    assert frc_cutoff(np.array([np.nan, 0.9, 0.7, 0.3]), 0.5) == pytest.approx(2.5)


def test_cutoff_against_a_threshold_curve() -> None:
    curve = np.array([1.0, 0.9, 0.6, 0.3, 0.1])
    threshold = np.array([1.0, 0.7, 0.5, 0.4, 0.4])
    assert frc_cutoff(curve, threshold, first_ring=1) == pytest.approx(2.5)
    assert frc_cutoff(np.array([1.0, 0.2, 0.1]), threshold[:3], first_ring=1) == 1.0
    assert frc_cutoff(curve, 0.0, first_ring=1) == 5.0


@pytest.mark.parametrize("n", [8, 100, 1000])
def test_threshold_curves_match_van_heel_and_schatz_constants(n: int) -> None:
    root = math.sqrt(n)
    one_bit = (0.5 + 2.4142 / root) / (1.5 + 1.4142 / root)
    half_bit = (0.2071 + 1.9102 / root) / (1.2071 + 0.9102 / root)
    assert snr_threshold(np.array([n]), ONE_BIT_SNR)[0] == pytest.approx(one_bit, abs=1e-4)
    assert snr_threshold(np.array([n]), HALF_BIT_SNR)[0] == pytest.approx(half_bit, abs=1e-4)
    assert snr_threshold(np.array([1]), ONE_BIT_SNR)[0] == pytest.approx(1.0)
