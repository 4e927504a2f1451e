"""Patch metrics: like-with-like comparison against Y_I / Y_phi, streamed in any batch size."""

import numpy as np
import pytest

from ptychostitch.errors import InputError
from ptychostitch.metrics import PatchMetrics, patch_metrics

N = 16


def disk_probe() -> np.ndarray:
    yy, xx = np.mgrid[:N, :N] - (N - 1) / 2
    amp = np.where(np.hypot(yy, xx) < 5, 2.5, 0.001)
    return (amp * np.exp(0.3j * xx)).astype(np.complex64)  # the probe phase must not matter


def labelled_patches(rows: int, channels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalised object patches Y_hat exp(i Phi) and their labels Y_I = Y_hat |P|, Y_phi = Phi."""
    rng = np.random.default_rng(seed)
    y_hat = 0.2 + rng.random((rows, N, N, channels))
    phi = rng.uniform(-2.5, 2.5, (rows, N, N, channels))
    probe = disk_probe()
    obj = (y_hat * np.exp(1j * phi)).astype(np.complex64)
    y_i = (y_hat * np.abs(probe)[..., None]).astype(np.float32)
    return obj, y_i, phi.astype(np.float32), probe


def test_true_patches_score_zero() -> None:
    obj, y_i, y_phi, probe = labelled_patches(5, 1)
    r = patch_metrics(obj, y_i, y_phi, probe)
    assert r.mae_amp < 1e-6 and r.mse_amp < 1e-12 and r.mae_phase < 1e-6 and r.mse_phase < 1e-12
    assert r.rows == 5 and r.amp_pixels == 5 * N * N


def test_known_errors_are_measured_like_with_like() -> None:
    obj, y_i, y_phi, probe = labelled_patches(4, 4)
    amp_p = np.abs(probe).astype(np.float64)
    illuminated = amp_p >= 0.1 * amp_p.max()
    pred = (np.abs(obj) + 0.1) * np.exp(1j * (np.angle(obj) + 0.2))
    r = patch_metrics(pred.astype(np.complex64), y_i, y_phi, probe)
    assert r.mae_amp == pytest.approx(0.1 * amp_p.mean(), rel=1e-5)  # error 0.1 |P| at every pixel
    assert r.mse_amp == pytest.approx(0.01 * (amp_p**2).mean(), rel=1e-5)
    assert r.mae_phase == pytest.approx(0.2, rel=1e-5) and r.mse_phase == pytest.approx(0.04, rel=1e-5)
    assert r.phase_pixels == 4 * 4 * illuminated.sum()
    assert r.as_dict() == {"mae_amp": r.mae_amp, "mse_amp": r.mse_amp, "mae_phase": r.mae_phase, "mse_phase": r.mse_phase}


def test_phase_differences_are_wrapped() -> None:
    obj, y_i, _, probe = labelled_patches(2, 1)
    y_phi = np.full(y_i.shape, 3.1, np.float32)
    pred = np.abs(obj) * np.exp(-3.1j)  # 6.2 rad apart, 2 pi - 6.2 after wrapping
    r = patch_metrics(pred, y_i, y_phi, probe)
    assert r.mae_phase == pytest.approx(2 * np.pi - 6.2, rel=1e-5)


def test_phase_errors_outside_the_illumination_do_not_count() -> None:
    obj, y_i, y_phi, probe = labelled_patches(3, 1)
    dark = np.abs(probe) < 0.1 * np.abs(probe).max()
    pred = obj * np.exp(1j * np.where(dark, 1.0, 0.0))[None, :, :, None]
    r = patch_metrics(pred.astype(np.complex64), y_i, y_phi, probe)
    assert r.mae_phase < 1e-6
    loose = patch_metrics(pred.astype(np.complex64), y_i, y_phi, probe, illumination_threshold=0.0)
    assert loose.mae_phase == pytest.approx(dark.mean(), rel=1e-5)


def test_streaming_does_not_depend_on_the_batch_size() -> None:
    obj, y_i, y_phi, probe = labelled_patches(11, 4, seed=2)
    rng = np.random.default_rng(3)
    pred = (obj * (1 + 0.1 * rng.standard_normal(obj.shape)) * np.exp(0.3j * rng.standard_normal(obj.shape))).astype(np.complex64)
    whole = patch_metrics(pred, y_i, y_phi, probe, batch_size=11)
    for batch in (1, 4, 7):
        part = patch_metrics(pred, y_i, y_phi, probe, batch_size=batch)
        for key, value in whole.as_dict().items():
            assert part.as_dict()[key] == pytest.approx(value, rel=1e-12)
    acc = PatchMetrics(probe)
    acc.update(0, pred[:5], y_i[:5], y_phi[:5])
    with pytest.raises(InputError, match="starts at row 6, expected row 5"):
        acc.update(6, pred[6:], y_i[6:], y_phi[6:])
    acc.update(5, pred[5:], y_i[5:], y_phi[5:])
    streamed = acc.result()
    assert (streamed.rows, streamed.amp_pixels, streamed.phase_pixels) == (whole.rows, whole.amp_pixels, whole.phase_pixels)
    assert streamed.as_dict() == pytest.approx(whole.as_dict(), rel=1e-12)


def test_shards_merged_in_row_order_equal_one_pass() -> None:
    obj, y_i, y_phi, probe = labelled_patches(11, 4, seed=4)
    rng = np.random.default_rng(5)
    pred = (obj * (1 + 0.1 * rng.standard_normal(obj.shape)) * np.exp(0.3j * rng.standard_normal(obj.shape))).astype(np.complex64)
    whole = patch_metrics(pred, y_i, y_phi, probe)
    shards = []
    for lo, hi in ((0, 4), (4, 4), (4, 11)):  # an empty shard too (more ranks than batches)
        acc = PatchMetrics(probe, first_row=lo)
        if hi > lo:
            acc.update(lo, pred[lo:hi], y_i[lo:hi], y_phi[lo:hi])
        shards.append(acc)
    merged = shards[0]
    for later in shards[1:]:
        merged.merge(later)
    result = merged.result()
    assert (result.rows, result.amp_pixels, result.phase_pixels) == (whole.rows, whole.amp_pixels, whole.phase_pixels)
    assert result.as_dict() == pytest.approx(whole.as_dict(), rel=1e-12)
    first = PatchMetrics(probe)
    first.update(0, pred[:4], y_i[:4], y_phi[:4])
    with pytest.raises(InputError, match="expected one from row 4, found row 6"):
        first.merge(PatchMetrics(probe, first_row=6))


def test_bad_patch_input_is_an_error() -> None:
    obj, y_i, y_phi, probe = labelled_patches(2, 1)
    with pytest.raises(InputError, match="differ in shape"):
        patch_metrics(obj, y_i[..., :1, :], y_phi, probe)
    with pytest.raises(InputError, match="probe is 8x8"):
        patch_metrics(obj, y_i, y_phi, probe[:8, :8])
    bad = obj.copy()
    bad[1, 3, 3, 0] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        patch_metrics(bad, y_i, y_phi, probe)
    with pytest.raises(InputError, match="no patches"):
        PatchMetrics(probe).result()
    with pytest.raises(InputError, match="differ in length"):
        patch_metrics(obj, y_i[:1], y_phi, probe)
