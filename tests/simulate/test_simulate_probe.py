"""Probe sources, transform pipeline modes, normalisation (docs/simulate.md#2-probe) and probe-file errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptychostitch.errors import InputError
from ptychostitch.simulate import SimulationConfig
from ptychostitch.simulate.probe import build_probe, disk_mask, ideal_disk, load_probe
from ptychostitch.simulate.probe_transforms import parse_pipeline, pipeline_text, smooth_complex


def central_disk_mean(p: np.ndarray) -> float:
    """mean over all N*N px of |p| on the disk r < N//4, r from k - N//2 + 0.5, by a loop."""
    n = p.shape[0]
    total = 0.0
    for y in range(n):
        for x in range(n):
            if ((y - n // 2 + 0.5) ** 2 + (x - n // 2 + 0.5) ** 2) ** 0.5 < n // 4:
                total += abs(p[y, x])
    return total / n**2


def random_probe(side: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = np.arange(side) - (side - 1) / 2
    amp = np.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / (0.2 * side**2)) + 0.05 * rng.random((side, side))
    return (amp * np.exp(1j * 0.3 * rng.standard_normal((side, side)))).astype(np.complex64)


def write_probe(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("n,above,normaliser,peak", [(64, 376, 0.36719, 2.723), (128, 1500, 0.36621, 2.731)])
def test_ideal_disk_reference_values(n: int, above: int, normaliser: float, peak: float) -> None:
    disk = ideal_disk(n)
    assert disk.dtype == np.complex64 and not disk.imag.any()
    assert int((disk.real > 0.5).sum()) == above
    probe = build_probe(SimulationConfig(N=n))
    assert probe.pipeline == f"smooth:0.5|pad:{n}"
    assert probe.normaliser == pytest.approx(normaliser, abs=5e-6)
    assert float(np.abs(probe.simulated).max()) == pytest.approx(peak, abs=5e-4)


@pytest.mark.parametrize("source", ["ideal", "custom"])
def test_normalisation_sets_quarter_mean_on_central_disk(tmp_path: Path, source: str) -> None:
    probe_arg = "ideal_disk" if source == "ideal" else str(write_probe(tmp_path / "p.npz", probeGuess=random_probe(24)))
    probe = build_probe(SimulationConfig(N=24, size=60, probe=probe_arg, probe_smoothing_sigma=0.0))
    assert central_disk_mean(probe.simulated) == pytest.approx(0.25, rel=1e-6)
    assert probe.normaliser == pytest.approx(4 * central_disk_mean(probe.guess), rel=1e-6)
    np.testing.assert_allclose(probe.simulated, probe.guess / probe.normaliser, rtol=1e-6)  # not masked


def test_pad_preserve_keeps_samples(tmp_path: Path) -> None:
    source = random_probe(16)
    path = write_probe(tmp_path / "p.npz", probeGuess=source)
    probe = build_probe(SimulationConfig(N=24, size=60, probe=str(path), probe_smoothing_sigma=0.0))
    assert probe.pipeline == "pad:24"
    np.testing.assert_array_equal(probe.guess[4:20, 4:20], source)
    assert not probe.guess[:4].any() and not probe.guess[:, 20:].any()
    smoothed = build_probe(SimulationConfig(N=24, size=60, probe=str(path)))
    assert smoothed.pipeline == "smooth:0.5|pad:24"
    assert [s.metadata() for s in smoothed.steps] == [
        {"op": "smooth_complex", "sigma": 0.5}, {"op": "pad_complex", "target_N": 24}]


def test_smoothing_acts_on_amplitude_and_unwrapped_phase() -> None:
    k = np.arange(32)
    ramp = 1.3 * k[None, :] + 0.2 * k[:, None]  # wraps many times
    probe = np.exp(1j * ramp).astype(np.complex64)
    out = smooth_complex(probe, 2.0)
    np.testing.assert_allclose(np.abs(out), 1.0, atol=1e-5)  # real/imag smoothing would shrink it
    inner = (slice(10, 22), slice(10, 22))
    np.testing.assert_allclose(np.angle(out[inner] * np.conj(probe[inner])), 0.0, atol=1e-4)


def test_pad_extrapolate_replaces_phase_with_fitted_quadratic(tmp_path: Path) -> None:
    side, n, a, b = 16, 28, 0.05, 0.4
    k = np.arange(side) - (side - 1) / 2
    r2 = k[:, None] ** 2 + k[None, :] ** 2
    amp = 1.0 + 0.01 * r2
    path = write_probe(tmp_path / "p.npz", probeGuess=(amp * np.exp(1j * (a * r2 + b))).astype(np.complex64))
    probe = build_probe(SimulationConfig(N=n, size=60, probe=str(path), probe_scale_mode="pad_extrapolate",
                                         probe_smoothing_sigma=0.0))
    assert probe.pipeline == f"pad_extrapolate:{n}"
    kn = np.arange(n) - (n - 1) / 2
    want_phase = a * (kn[:, None] ** 2 + kn[None, :] ** 2) + b
    np.testing.assert_allclose(np.angle(probe.guess * np.exp(-1j * want_phase)), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.abs(probe.guess[6:22, 6:22]), amp, rtol=1e-6)
    np.testing.assert_allclose(np.abs(probe.guess[0, 0]), amp[0, 0], rtol=1e-6)  # edge padding
    np.testing.assert_allclose(np.abs(probe.guess[:6, 10]), amp[0, 4], rtol=1e-6)


def test_interpolate_and_explicit_pipeline(tmp_path: Path) -> None:
    path = write_probe(tmp_path / "p.npz", probeGuess=np.full((8, 8), 2 - 1j, dtype=np.complex64))
    probe = build_probe(SimulationConfig(N=32, size=80, probe=str(path), probe_scale_mode="interpolate"))
    assert probe.pipeline == "interp:32|smooth:0.5"
    np.testing.assert_allclose(probe.guess, 2 - 1j, rtol=1e-5)
    explicit = build_probe(SimulationConfig(N=32, size=80, probe=str(path), probe_transform_pipeline="smooth:0.5|pad:16|interp:32"))
    assert explicit.pipeline == "smooth:0.5|pad:16|interp:32" and explicit.guess.shape == (32, 32)
    with pytest.raises(InputError, match="expected N=32"):
        build_probe(SimulationConfig(N=32, size=80, probe=str(path), probe_transform_pipeline="pad:16"))
    with pytest.raises(InputError, match="unknown step 'blur:2'"):
        parse_pipeline("smooth:0.5|blur:2")
    with pytest.raises(InputError, match="smaller"):
        build_probe(SimulationConfig(N=32, size=80, probe=str(path), probe_transform_pipeline="pad:4|interp:32"))
    assert pipeline_text(parse_pipeline("smooth:1|pad_extrapolate:64")) == "smooth:1.0|pad_extrapolate:64"


def test_mask_diameter_zeroes_outside_disk() -> None:
    probe = build_probe(SimulationConfig(N=32, size=80, probe_mask_diameter=10))
    k = np.arange(32) - 15.5
    outside = k[:, None] ** 2 + k[None, :] ** 2 > 25
    assert not probe.guess[outside].any() and probe.guess[~outside].all()
    np.testing.assert_array_equal(disk_mask(32, 10) == 0, outside)


def test_probe_file_errors_name_file_key_and_shape(tmp_path: Path) -> None:
    wrong_key = write_probe(tmp_path / "a.npz", probe=np.ones((8, 8)))
    with pytest.raises(InputError, match=r"a\.npz': missing required key 'probeGuess' \(found keys: probe\)"):
        load_probe(wrong_key)
    oblong = write_probe(tmp_path / "b.npz", probeGuess=np.ones((8, 6)))
    with pytest.raises(InputError, match=r"b\.npz': key 'probeGuess' must be a square 2-D array, found shape \(8, 6\)"):
        load_probe(oblong)
    pickled = tmp_path / "c.npz"
    np.savez(pickled, probeGuess=np.array([[{"x": 1}]], dtype=object))
    with pytest.raises(InputError, match=r"c\.npz': key 'probeGuess' must be numeric, found dtype object"):
        load_probe(pickled)
    with pytest.raises(InputError, match="missing.npz"):
        load_probe(tmp_path / "missing.npz")
    with pytest.raises(InputError) as info:
        load_probe(oblong)
    assert "\n" not in str(info.value)
