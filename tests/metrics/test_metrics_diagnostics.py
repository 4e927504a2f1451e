"""The pure diagnostics: exactly-zero weight share, constant predictions, window share, FRC crossings."""

from __future__ import annotations

import numpy as np
import pytest

from ptychostitch.metrics import eval_reconstruction
from ptychostitch.metrics.diagnostics import PredictionStatsAccumulator, phase_wrap_share, window_share
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


def _stream(seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0, 2, size=(6, 6))
    weights[0] = 0.0
    patches = (rng.normal(size=(11, 6, 6, 2)) + 1j * rng.normal(size=(11, 6, 6, 2))).astype(np.complex64)
    patches[rng.uniform(size=patches.shape) < 0.3] = 0
    return weights, patches


def _accumulated(weights: np.ndarray, patches: np.ndarray) -> PredictionStatsAccumulator:
    acc = PredictionStatsAccumulator(weights)
    acc.update(patches)
    return acc


@pytest.mark.parametrize("cuts", [(0, 11), (0, 3, 11), (0, 0, 5, 11, 11), (0, 1, 2, 7, 11)])
def test_merging_consecutive_parts_in_order_equals_the_whole_stream_exactly(cuts: tuple[int, ...]) -> None:
    weights, patches = _stream()
    parts = [_accumulated(weights, patches[lo:hi]) for lo, hi in zip(cuts, cuts[1:])]
    for later in parts[1:]:
        parts[0].merge(later)
    assert parts[0].result() == _accumulated(weights, patches).result()  # every field equal, floats included


@pytest.mark.parametrize(
    "values, constant",
    [
        ((0.5, 0.5, 0.5), True),
        ((0.5, 0.25), False),  # each part constant, at two values: the whole is not
        ((None, 0.5, None, 0.5), True),  # parts that saw nothing (empty shards) change nothing
        ((0.0, 0.0), True),
        ((0.0, None, 1.0), False),
    ],
)
def test_merging_parts_that_are_each_constant(values: tuple[float | None, ...], constant: bool) -> None:
    parts = []
    for value in values:
        acc = PredictionStatsAccumulator(np.ones((4, 4)))
        if value is not None:
            acc.update(np.full((2, 4, 4, 1), value, np.complex64))
        parts.append(acc)
    whole = PredictionStatsAccumulator(np.ones((4, 4)))
    for value in values:
        if value is not None:
            whole.update(np.full((2, 4, 4, 1), value, np.complex64))
    for later in parts[1:]:
        parts[0].merge(later)
    merged = parts[0].result()
    assert merged == whole.result()
    assert merged.constant is constant and merged.all_zero is (constant and values[-1] == 0.0)


def test_a_part_that_is_not_constant_makes_the_merge_not_constant() -> None:
    first, second = PredictionStatsAccumulator(np.ones((4, 4))), PredictionStatsAccumulator(np.ones((4, 4)))
    first.update(np.full((1, 4, 4, 1), 0.5, np.complex64))
    varied = np.full((1, 4, 4, 1), 0.5, np.complex64)
    varied[0, 3, 3, 0] = 0.75
    second.update(varied)
    first.merge(second)
    assert not first.result().constant


def test_per_channel_weights_count_each_channel_with_its_own_weights() -> None:
    weights = np.zeros((4, 4, 2))
    weights[0:2, 0:2, 0] = 0.5
    weights[1:3, 1:3, 1] = 0.5
    patches = np.ones((3, 4, 4, 2), np.complex64)
    patches[:, 0, 0, 0] = 0  # used by channel 0 only
    patches[:, 0, 0, 1] = 0  # not used by channel 1
    patches[:, 2, 2, 1] = 0  # used by channel 1 only
    stats = _accumulated(weights, patches).result()
    assert stats.patches == 6 and stats.weight == 3 * 4.0 and stats.zero_weight == 3 * (0.5 + 0.5)


def test_phase_wrap_share_counts_neighbour_jumps_of_more_than_pi() -> None:
    yy, xx = np.mgrid[0:40, 0:50]
    smooth = 0.05 * xx  # 0 .. 2.45 rad: no wrap
    obj = np.exp(1j * smooth)
    assert phase_wrap_share(obj, (0, 40, 0, 50)) == 0.0
    shifted = obj * np.exp(1j * 2.0)  # 2 .. 4.45 rad: angle() jumps from about pi to -pi once per row
    assert phase_wrap_share(shifted, (0, 40, 0, 50)) == pytest.approx(40 / (39 * 50 + 40 * 49))
    assert phase_wrap_share(shifted[..., None], (0, 40, 0, 20)) == 0.0  # a window left of the crossing (columns 0..19: < 3.0 rad)
    assert phase_wrap_share(shifted, (5, 6, 7, 8)) == 0.0  # one pixel: no pair

