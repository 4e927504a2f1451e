"""The pure diagnostics: exactly-zero weight share, constant predictions, window share, FRC crossings."""

from __future__ import annotations

import numpy as np
import pytest

from ptychostitch.metrics import eval_reconstruction
from ptychostitch.metrics.diagnostics import PredictionStatsAccumulator, window_share
from ptychostitch.metrics.frc import cutoff_crossed
from ptychostitch.metrics.report import metrics_sections


def test_zero_weight_share_is_the_weighted_share_of_exact_zeros_over_batches() -> None:
    rng = np.random.default_rng(0)
    weights = rng.uniform(0, 2, size=(6, 6))
    patches = (rng.normal(size=(9, 6, 6, 2)) + 1j * rng.normal(size=(9, 6, 6, 2))).astype(np.complex64)
    patches[rng.uniform(size=patches.shape) < 0.3] = 0
    acc = PredictionStatsAccumulator(weights)
    for lo, hi in ((0, 4), (4, 5), (5, 9)):
        acc.update(patches[lo:hi])
    stats = acc.result()
    expected = sum(weights[a, b] for k in range(9) for a in range(6) for b in range(6) for c in range(2) if patches[k, a, b, c] == 0)
    total = weights.sum() * 9 * 2
    assert stats.patches == 18
    assert stats.weight == pytest.approx(total) and stats.zero_weight == pytest.approx(expected)
    assert stats.zero_weight_share == pytest.approx(expected / total)
    assert not stats.constant and not stats.all_zero


@pytest.mark.parametrize("value, all_zero", [(0.0, True), (0.3 - 0.1j, False)])
def test_constant_and_all_zero_predictions(value: complex, all_zero: bool) -> None:
    acc = PredictionStatsAccumulator(np.ones((4, 4)))
    for _ in range(3):
        acc.update(np.full((2, 4, 4, 1), value, np.complex64))
    stats = acc.result()
    assert stats.constant and stats.all_zero is all_zero
    assert stats.zero_weight_share == (1.0 if all_zero else 0.0)
    acc.update(np.full((1, 4, 4, 1), value + 1, np.complex64))
    assert not acc.result().constant and not acc.result().all_zero


def test_no_patches_seen_is_neither_constant_nor_has_a_share() -> None:
    stats = PredictionStatsAccumulator(np.ones((4, 4))).result()
    assert stats.patches == 0 and stats.zero_weight_share is None and not stats.constant and not stats.all_zero


def test_window_share() -> None:
    assert window_share((0, 10, 0, 20), (10, 20)) == 1.0
    assert window_share((2, 7, 5, 9), (10, 20)) == pytest.approx(5 * 4 / 200)


def test_cutoff_crossed_tells_a_resolution_from_the_never_crossed_value() -> None:
    curve = np.array([1.0, 0.9, 0.4, 0.2])
    assert cutoff_crossed(curve, 1.5)
    assert not cutoff_crossed(curve, float(len(curve)))
    assert not cutoff_crossed(curve, float("nan"))
    assert not cutoff_crossed(None, 1.0)


def test_frc_crossed_in_eval_reconstruction_and_metrics_json() -> None:
    rng = np.random.default_rng(1)
    truth = (1 + rng.uniform(size=(40, 40))) * np.exp(1j * rng.uniform(-1, 1, size=(40, 40)))
    same = eval_reconstruction(truth.astype(np.complex64), truth.astype(np.complex64))
    assert same.frc_crossed == {"frc50": (False, False), "frc1over7": (False, False)}
    assert same["frc50"][0] == len(same["frc"][0])
    noisy = truth * np.exp(1j * rng.normal(scale=1.5, size=truth.shape)) * rng.uniform(0.2, 1.8, size=truth.shape)
    different = eval_reconstruction(noisy.astype(np.complex64), truth.astype(np.complex64))
    assert different.frc_crossed["frc50"] == (True, True)
    assert all(different["frc50"][part] < len(different["frc"][part]) for part in (0, 1))
    section = metrics_sections(different)["stitched_evaluation"]
    assert section["frc50_crossed"] == [True, True]
    assert metrics_sections(same)["stitched_evaluation"]["frc1over7_crossed"] == [False, False]


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_negative_zeros_count_as_zero_and_tiny_values_do_not(dtype: type) -> None:
    patches = np.ones((2, 4, 4, 1), dtype)
    patches[0, 0, 0, 0] = complex(-0.0, 0.0)
    patches[0, 1, 1, 0] = complex(0.0, -0.0)
    patches[1, 2, 2, 0] = complex(-0.0, -0.0)
    patches[1, 3, 3, 0] = complex(1e-45, 0.0)  # the smallest float32 subnormal
    patches[1, 3, 2, 0] = complex(0.0, -1e-45)
    weights = np.arange(16, dtype=np.float64).reshape(4, 4) + 1
    acc = PredictionStatsAccumulator(weights)
    acc.update(patches)
    assert acc.result().zero_weight == weights[0, 0] + weights[1, 1] + weights[2, 2]


def test_pixels_of_weight_zero_never_count() -> None:
    weights = np.zeros((6, 6))
    weights[2:4, 1:5] = 1.0
    patches = np.zeros((3, 6, 6, 1), np.complex64)
    patches[:, 2:4, 1:3] = 1.0
    acc = PredictionStatsAccumulator(weights)
    acc.update(patches)
    stats = acc.result()
    assert stats.weight == 3 * 8 and stats.zero_weight == 3 * 4 and stats.zero_weight_share == 0.5
