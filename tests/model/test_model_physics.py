"""The torch forward model against independent numpy formulas, PtychoPINN's numbers, and Parseval."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from scipy.signal.windows import gaussian
from scipy.special import gammaln, xlogy

from ptychostitch.model.physics import diffraction_amplitude, intensity_scale, mae_loss, poisson_loss, twin_image
from ptychostitch.simulate.probe import normalise


def ideal_disk(n: int) -> np.ndarray:
    """PtychoPINN's ideal-disk probe (``ptycho/probe.py::get_default_probe``) after smooth:0.5 (docs/simulate.md#2-probe)."""
    w = gaussian(n, std=n / (0.7 * np.pi**2), sym=True)
    w /= w.max()
    disk = (np.outer(w, w) > 0.5).astype(np.float64)
    amplitude = gaussian_filter(gaussian_filter(disk, 1) + 1e-9, 0.5)
    return amplitude.astype(np.complex64)


def random_object(n: int, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amplitude = 0.5 + gaussian_filter(rng.random((count, n, n)), (0, 2, 2))
    phase = 2.0 * (gaussian_filter(rng.random((count, n, n)), (0, 2, 2)) - 0.5)
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def normalised_probe(probe: np.ndarray) -> np.ndarray:
    return normalise(probe)[0]


def test_forward_model_matches_numpy_fft_and_parseval() -> None:
    n = 32
    probe = normalised_probe(ideal_disk(n))
    obj = random_object(n, 3, seed=1)
    expected = np.abs(np.fft.fftshift(np.fft.fft2(obj * probe), axes=(-2, -1))) / n
    got = diffraction_amplitude(torch.from_numpy(obj), torch.from_numpy(probe)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose((got**2).sum(axis=(-2, -1)), (np.abs(obj * probe) ** 2).sum(axis=(-2, -1)), rtol=1e-4)


def test_zero_frequency_sits_at_centre_pixel() -> None:
    n = 16
    probe = np.ones((n, n), np.complex64)
    obj = np.full((1, n, n), 0.5 + 0j, np.complex64)
    amp = diffraction_amplitude(torch.from_numpy(obj), torch.from_numpy(probe)).numpy()[0]
    assert np.unravel_index(np.argmax(amp), amp.shape) == (n // 2, n // 2)
    assert amp[n // 2, n // 2] == pytest.approx(0.5 * n * n / n)


def test_twin_gives_identical_diffraction_only_for_a_centrosymmetric_probe() -> None:
    n = 32
    obj = random_object(n, 2, seed=2)
    twin = twin_image(obj)
    symmetric = torch.from_numpy(normalised_probe(ideal_disk(n)))
    a = diffraction_amplitude(torch.from_numpy(obj), symmetric)
    b = diffraction_amplitude(torch.from_numpy(twin), symmetric)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    lopsided = symmetric.clone()
    lopsided[: n // 2] *= 1.5
    c = diffraction_amplitude(torch.from_numpy(obj), lopsided)
    d = diffraction_amplitude(torch.from_numpy(twin), lopsided)
    assert float((c - d).abs().max()) > 1e-2


def test_intensity_scale_reads_chunks_and_matches_formula() -> None:
    rng = np.random.default_rng(3)
    y_i = rng.random((10, 8, 8, 2)).astype(np.float32)
    direct = np.sqrt(1e6 / np.mean(np.sum(np.moveaxis(y_i, -1, 1).astype(np.float64) ** 2, axis=(-2, -1))))
    assert intensity_scale(y_i, 1e6, chunk=3) == pytest.approx(direct, rel=1e-12)


def test_losses_vanish_at_a_perfect_fit_and_poisson_is_the_deviance() -> None:
    rng = np.random.default_rng(4)
    scale = 7.0
    counts = rng.poisson(50.0, size=(4, 6, 6)).astype(np.float64)
    measured = torch.from_numpy(np.sqrt(counts) / scale)
    predicted = torch.from_numpy(rng.uniform(0.5, 1.5, size=counts.shape))
    assert float(mae_loss(measured, measured)) == 0.0
    assert float(poisson_loss(measured, measured, scale)) == pytest.approx(0.0, abs=1e-12)
    rate = (scale * predicted.numpy()) ** 2
    nll = rate - xlogy(counts, rate) + gammaln(counts + 1)
    nll_best = counts - xlogy(counts, counts) + gammaln(counts + 1)
    expected = np.mean(nll - nll_best) / scale**2
    assert float(poisson_loss(predicted, measured, scale)) == pytest.approx(expected, rel=1e-9)
    assert float(mae_loss(predicted, measured)) == pytest.approx(np.mean(np.abs(predicted.numpy() - measured.numpy())))
