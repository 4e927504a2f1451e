"""The metric sections of ``metrics.json`` (docs/metrics.md lists every key).

``stitched`` and ``patch`` are the sections of the interface (PtychoPINN's layout: each stitched
value a list ``[amplitude, phase]``, FRC curves as two lists). What PtychoPINN does not have goes
under separate keys, so a reader of the compatible sections never meets them:
``stitched_evaluation`` (the scored window and settings), ``stitched_extras`` and
``patch_evaluation``. Every value is strict JSON: numpy numbers become Python numbers, and NaN or
infinities become ``null``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ptychostitch.metrics.diagnostics import ZERO_WEIGHT_WARN_SHARE, PredictionStats, window_share
from ptychostitch.metrics.extras import ExtraMetrics
from ptychostitch.metrics.patches import PatchMetricsResult
from ptychostitch.metrics.reconstruction import METRIC_KEYS, ReconstructionMetrics


def _number(value: Any) -> float | None:
    """A finite Python float, or None for NaN, infinities and None."""
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _curve(curve: np.ndarray | None) -> list[float | None] | None:
    return None if curve is None else [_number(v) for v in np.asarray(curve).ravel()]


def _pair(values: tuple[Any, Any]) -> list[float | None]:
    return [_number(values[0]), _number(values[1])]


def stitched_section(metrics: ReconstructionMetrics) -> dict[str, Any]:
    """``{"mae": [amp, phase], ..., "frc": [[amp curve], [phase curve]]}`` (a curve may be null)."""
    section: dict[str, Any] = {key: _pair(metrics[key]) for key in METRIC_KEYS if key != "frc"}
    section["frc"] = [_curve(metrics["frc"][0]), _curve(metrics["frc"][1])]
    return section


def stitched_evaluation_section(metrics: ReconstructionMetrics) -> dict[str, Any]:
    """Where and how the stitched metrics were computed."""
    y0, y1, x0, x1 = metrics.window
    height, width = metrics.frame_shape
    return {
        "window": [y0, y1, x0, x1],
        "window_is_full_frame": metrics.window == (0, height, 0, width),
        "window_share_of_frame": window_share(metrics.window, metrics.frame_shape),
        "frame_shape": [height, width],
        "evaluated_shape": list(metrics.evaluated_shape),
        "offset": metrics.offset,
        "trim_px_per_side": metrics.offset // 2,
        "phase_align_method": metrics.phase_align_method,
        "frc50_crossed": list(metrics.frc_crossed["frc50"]),
        "frc1over7_crossed": list(metrics.frc_crossed["frc1over7"]),
    }


def predictions_section(stats: PredictionStats) -> dict[str, Any]:
    """How the predicted patches of the scored object were weighted: the exactly-zero share and constancy."""
    return {
        "patches": stats.patches,
        "zero_weight_share": _number(stats.zero_weight_share),
        "zero_weight_warn_share": ZERO_WEIGHT_WARN_SHARE,
        "all_zero": stats.all_zero,
        "constant": stats.constant,
    }


def stitched_extras_section(extras: ExtraMetrics) -> dict[str, Any]:
    """The extras, each ``[amplitude, phase]`` except the curves shared by both parts."""
    return {
        "frc_re": [_curve(extras.frc_re[0]), _curve(extras.frc_re[1])],
        "frc_ring_pixels": [int(n) for n in extras.ring_pixels],
        "frc_threshold_one_bit": _curve(extras.one_bit),
        "frc_threshold_half_bit": _curve(extras.half_bit),
        "frc_re50": _pair(extras.frc_re50),
        "frc_re1over7": _pair(extras.frc_re1over7),
        "frc_re_one_bit": _pair(extras.frc_re_one_bit),
        "frc_re_half_bit": _pair(extras.frc_re_half_bit),
        "global_phase_rad": _number(extras.global_phase),
        "phase_mae_global_rad": _number(extras.phase_mae_global),
        "complex_nrmse_global": _number(extras.complex_nrmse_global),
        "registration_shift_yx": None if extras.shift is None else _pair(extras.shift),
        "registration_error": _number(extras.shift_error),
    }


def patch_section(result: PatchMetricsResult) -> dict[str, float | None]:
    """``{"mae_amp", "mse_amp", "mae_phase", "mse_phase"}``."""
    return {key: _number(value) for key, value in result.as_dict().items()}


def patch_evaluation_section(result: PatchMetricsResult) -> dict[str, Any]:
    """How many rows and pixels entered the patch metrics, and the illumination threshold."""
    return {
        "rows": result.rows,
        "amp_pixels": result.amp_pixels,
        "phase_pixels": result.phase_pixels,
        "illumination_threshold": result.illumination_threshold,
        "compared": (
            "amp: |pred|*|P_sim| vs Y_I at all pixels; "
            "phase: wrap(angle(pred) - Y_phi) where |P_sim| >= threshold*max|P_sim|"
        ),
    }


def metrics_sections(
    stitched: ReconstructionMetrics | None = None,
    patch: PatchMetricsResult | None = None,
    extras: ExtraMetrics | None = None,
    predictions: PredictionStats | None = None,
) -> dict[str, Any]:
    """Every metric section of ``metrics.json`` for the results given; the caller adds ``stitcher``.

    Returns
    -------
    dict
        ``stitched`` and ``stitched_evaluation`` (from ``stitched``), ``stitched_extras`` (from
        ``extras``), ``patch`` and ``patch_evaluation`` (from ``patch``), ``predictions`` (from
        ``predictions``); strict-JSON values.
    """
    sections: dict[str, Any] = {}
    if stitched is not None:
        sections["stitched"] = stitched_section(stitched)
        sections["stitched_evaluation"] = stitched_evaluation_section(stitched)
    if extras is not None:
        sections["stitched_extras"] = stitched_extras_section(extras)
    if patch is not None:
        sections["patch"] = patch_section(patch)
        sections["patch_evaluation"] = patch_evaluation_section(patch)
    if predictions is not None:
        sections["predictions"] = predictions_section(predictions)
    return sections
