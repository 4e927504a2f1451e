"""The reference model: output ranges and region, whitening, configuration and input checks."""

import math

import numpy as np
import pytest
import torch

from ptychostitch.errors import InputError
from ptychostitch.model.reference import ReferenceConfig, ReferenceModel, patterson_features
from ptychostitch.testing.model_data import tiny_split


def make_model(n: int = 16, gridsize: int = 1, seed: int = 0) -> ReferenceModel:
    torch.manual_seed(seed)
    return ReferenceModel(ReferenceConfig(N=n, gridsize=gridsize, components=16, refine_width=4))


@pytest.mark.parametrize("gridsize", [1, 2])
def test_output_is_complex_patch_with_amplitude_and_phase_in_range(gridsize: int) -> None:
    data = tiny_split(channels=gridsize**2, rows=24)
    model = make_model(gridsize=gridsize)
    model.calibrate(data["diffraction"])
    with torch.no_grad():
        model.decoder.bias.normal_(0.0, 3.0)  # make the outputs vary strongly from pixel to pixel
        out = model(torch.from_numpy(np.moveaxis(data["diffraction"], -1, 1).copy()))
    assert out.dtype == torch.complex64 and tuple(out.shape) == (24, gridsize**2, 16, 16)
    inside, outside = out[..., 4:12, 4:12], out.clone()
    outside[..., 4:12, 4:12] = 0
    assert bool((inside.abs() > 0).all()) and float(outside.abs().max()) == 0.0
    assert float(inside.angle().abs().max()) < math.pi
    assert float(inside.abs().std()) > 0.05 and float(inside.angle().std()) > 0.05


def test_untrained_model_predicts_a_flat_patch() -> None:
    data = tiny_split()
    model = make_model()
    model.calibrate(data["diffraction"])
    with torch.no_grad():
        out = model(torch.from_numpy(np.moveaxis(data["diffraction"], -1, 1).copy()))[..., 4:12, 4:12]
    assert float((out.abs() - 0.5).abs().max()) < 0.2


def test_calibration_whitens_the_training_features() -> None:
    data = tiny_split(rows=200)
    model = make_model()
    model.calibrate(data["diffraction"])
    features = patterson_features(torch.from_numpy(data["diffraction"][..., 0]), model.config).double()
    z = ((features - model.feature_mean.double()) @ model.whitening.double()).numpy()
    used = np.abs(z).sum(axis=0) > 0
    assert used.sum() >= 8
    covariance = np.cov(z[:, used], rowvar=False, bias=True)
    np.testing.assert_allclose(covariance, np.eye(used.sum()), atol=2e-3)
    before = model.whitening.clone()
    model.calibrate(tiny_split(rows=50, seed=9)["diffraction"])
    assert torch.equal(before, model.whitening), "a calibrated model must keep its whitening"


def test_patterson_features_are_the_autocorrelation() -> None:
    data = tiny_split(rows=2)
    config = ReferenceConfig(N=16, window=5)
    x = data["diffraction"][..., 0].astype(np.float64)
    # zero frequency of the fftshifted pattern moved back to index 0; A(r) at lag r; ortho normalisation
    autocorrelation = np.fft.ifft2(np.fft.ifftshift(x**2, axes=(-2, -1))) * 16
    got = patterson_features(torch.from_numpy(x).float(), config).numpy()
    lags = [(i, j) for i in range(-2, 1) for j in range(-2, 3)]
    expected = np.array([[autocorrelation[b, i % 16, j % 16] for i, j in lags] for b in range(2)])
    np.testing.assert_allclose(got[:, : len(lags)], expected.real, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[:, len(lags) :], expected.imag, rtol=1e-4, atol=1e-4)


def test_wrong_input_shape_is_one_clear_line() -> None:
    model = make_model()
    with pytest.raises(InputError, match=r"built for input \(B, 1, 16, 16\).*found \(2, 1, 32, 32\)"):
        model(torch.zeros(2, 1, 32, 32))


@pytest.mark.parametrize(
    "kwargs,match",
    [({"N": 15}, "even"), ({"N": 16, "window": 4}, "odd"), ({"N": 16, "window": 17}, "fit"), ({"N": 16, "components": 0}, "components")],
)
def test_bad_configuration_is_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        ReferenceConfig(**kwargs)


def test_default_window_scales_with_n() -> None:
    assert ReferenceConfig(N=64).window_side == 47 and ReferenceConfig(N=64).sample_step == 1
    assert ReferenceConfig(N=128).window_side == 47 and ReferenceConfig(N=128).sample_step == 2
    assert ReferenceConfig.from_dict(ReferenceConfig(N=32, components=8).to_dict()) == ReferenceConfig(N=32, components=8)
    with pytest.raises(InputError, match="unknown keys"):
        ReferenceConfig.from_dict({"N": 32, "depth": 3})
