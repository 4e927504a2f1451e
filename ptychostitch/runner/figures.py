"""The figures of a result folder (PNG, written atomically).

- :func:`write_comparison_plot`: stitched amplitude and phase beside the ground truth, with error
  maps. The panels show exactly what the metrics score: the scored window after the trim, the
  stitched amplitude scaled by the mean ratio, both phases after plane removal.
- :func:`write_frc_plot`: the FRC curves with their cut-offs (a never-crossed one says so).
- :func:`write_coverage_plot`: the coverage map with the scored window drawn on it.
- :func:`write_loss_plot`: training and validation loss per epoch.
- :func:`write_folders_comparison`: ``compare``'s figure, several folders beside one ground truth.

matplotlib is imported when the first figure is drawn, not with this module, so that a command
that stops on bad input never imports it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ptychostitch.atomic import atomic_path
from ptychostitch.metrics.coverage import Window
from ptychostitch.metrics.diagnostics import window_share
from ptychostitch.metrics.extras import ExtraMetrics
from ptychostitch.metrics.reconstruction import ReconstructionMetrics, prepare_pair

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(**options: Any) -> Figure:
    """A new matplotlib figure (no pyplot, no display), constrained layout."""
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **options)


def write_comparison_plot(
    path: str | os.PathLike[str], stitched: np.ndarray, ground_truth: np.ndarray, coverage: np.ndarray | None = None
) -> None:
    """Write a 2 x 3 PNG (rows: amplitude, phase; columns: ground truth, stitched, error), atomically.

    Parameters
    ----------
    path : path-like
        Output ``.png``.
    stitched, ground_truth : ndarray, shape (H, W), complex
        The stitched object and the ground truth, in one frame.
    coverage : ndarray, shape (H, W), optional
        Stitch coverage; the scored window is the largest fully covered rectangle.
    """
    pair = prepare_pair(stitched, ground_truth, coverage=coverage)
    fig = _figure(figsize=(12, 7.5))
    axes = fig.subplots(2, 3)
    rows = (
        ("amplitude", pair.target_amp, pair.pred_amp, pair.pred_amp - pair.target_amp, "viridis"),
        ("phase, rad", pair.target_phase, pair.pred_phase, pair.pred_phase - pair.target_phase, "twilight"),
    )
    for row, (name, truth, pred, error, cmap) in enumerate(rows):
        low, high = float(np.min(truth)), float(np.max(truth))
        for col, (title, image) in enumerate((("ground truth", truth), ("stitched", pred))):
            shown = axes[row, col].imshow(image, cmap=cmap, vmin=low, vmax=high)
            axes[row, col].set_title(f"{name}: {title}")
        limit = float(np.max(np.abs(error))) or 1.0
        err = axes[row, 2].imshow(error, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[row, 2].set_title(f"{name}: stitched - truth (MAE {np.mean(np.abs(error)):.3g})")
        fig.colorbar(shown, ax=axes[row, :2], shrink=0.8)
        fig.colorbar(err, ax=axes[row, 2], shrink=0.8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    y0, y1, x0, x1 = pair.window
    fig.suptitle(f"as scored: rows {y0}:{y1}, cols {x0}:{x1} of the {pair.frame_shape[0]}x{pair.frame_shape[1]} frame, trimmed; amplitude mean-ratio scaled, phases plane-removed")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def write_frc_plot(path: str | os.PathLike[str], metrics: ReconstructionMetrics, extras: ExtraMetrics | None = None) -> None:
    """Write the FRC curves of ``metrics`` (and of ``extras``) to a PNG file, atomically.

    Two panels, amplitude and phase: the PtychoPINN-compatible curve (``|.|`` numerator) with the
    0.5 and 1/7 thresholds and the ``frc50`` / ``frc1over7`` cut-offs marked, or labelled "not
    crossed" when the curve never falls below the threshold (no line is drawn then); with
    ``extras``, also the real-part curve and the 1-bit and 1/2-bit threshold curves. The x axis is
    the ring index (cycles per image side); the labelled dotted line marks Nyquist. Each legend
    sits below its panel, off the curves.

    Parameters
    ----------
    path : path-like
        Output file (``.png``); its folder is created if needed.
    metrics : ReconstructionMetrics
        Result of :func:`ptychostitch.metrics.eval_reconstruction`.
    extras : ExtraMetrics, optional
        Result of :func:`ptychostitch.metrics.extra_metrics`.
    """
    fig = frc_figure(metrics, extras)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def frc_figure(metrics: ReconstructionMetrics, extras: ExtraMetrics | None = None) -> Figure:
    """The figure :func:`write_frc_plot` writes."""
    fig = _figure(figsize=(10, 5.5))
    nyquist = min(metrics.evaluated_shape) // 2
    for part, (name, ax) in enumerate(zip(("amplitude", "phase"), fig.subplots(1, 2, sharey=True))):
        curve = metrics["frc"][part]
        if curve is not None:
            rings = np.arange(len(curve))
            ax.plot(rings, curve, color="C0", label="FRC (PtychoPINN, |.| numerator)")
            for threshold, key, color in ((0.5, "frc50", "C1"), (1 / 7, "frc1over7", "C2")):
                cut = metrics[key][part]
                if metrics.frc_crossed[key][part]:
                    ax.axhline(threshold, color=color, lw=0.8, ls="--")
                    ax.axvline(cut, color=color, lw=0.8, label=f"{key} = {cut:.2f}")
                else:
                    ax.axhline(threshold, color=color, lw=0.8, ls="--", label=f"{key}: not crossed (curve stays above {threshold:.3g})")
        if extras is not None:
            rings = np.arange(len(extras.frc_re[part]))
            ax.plot(rings, extras.frc_re[part], color="C3", lw=0.9, label="FRC, Re numerator (extra)")
            ax.plot(rings, extras.one_bit, color="C4", lw=0.8, ls=":", label="1-bit threshold")
            ax.plot(rings, extras.half_bit, color="C5", lw=0.8, ls=":", label="1/2-bit threshold")
        ax.axvline(nyquist, color="0.5", lw=0.8, ls=":", label=f"Nyquist (ring {nyquist})")
        ax.text(nyquist, 1.0, " Nyquist", color="0.4", fontsize="small", rotation=90, ha="right", va="top")
        ax.set_title(f"FRC, {name}")
        ax.set_xlabel("ring (cycles per image side)")
        ax.set_ylim(-0.1, 1.05)
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, frameon=False)
    fig.axes[0].set_ylabel("correlation")
    return fig


def write_coverage_plot(path: str | os.PathLike[str], coverage: np.ndarray, window: Window | None = None) -> None:
    """Write the coverage map (summed stitching weights; uncovered pixels grey) with the scored window outlined, atomically.

    Parameters
    ----------
    path : path-like
        Output ``.png``.
    coverage : ndarray, shape (H, W), real
        Summed stitching weights in the ground-truth frame; 0 means uncovered.
    window : (y0, y1, x0, x1), optional
        The scored window (before the trim), drawn as a red rectangle; None when nothing was scored.
    """
    cov = np.asarray(coverage, dtype=np.float64)
    height, width = cov.shape
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    fig = _figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    shown = ax.imshow(np.ma.masked_less_equal(cov, 0), cmap=colormaps["viridis"].with_extremes(bad="0.8"), interpolation="nearest")
    fig.colorbar(shown, ax=ax, shrink=0.8, label="summed weight")
    uncovered = int(np.count_nonzero(~(cov > 0)))
    title = f"coverage of the {height}x{width} frame; {uncovered} px uncovered (grey)"
    if window is not None:
        y0, y1, x0, x1 = window
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="red", lw=1.5))
        title += f"\nscored window (red): rows {y0}:{y1}, cols {x0}:{x1}, {100 * window_share(window, (height, width)):.1f}% of the frame"
    ax.set_title(title, fontsize="medium")
    ax.set_xlabel("column (px)")
    ax.set_ylabel("row (px)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def write_loss_plot(path: str | os.PathLike[str], epochs: list[int], train: list[float], validation: list[float | None]) -> None:
    """Write the training and (where recorded) validation loss per epoch to a PNG file, atomically."""
    fig = _figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(epochs, train, marker="o", ms=3, label="training")
    held = [(e, v) for e, v in zip(epochs, validation) if v is not None]
    if held:
        ax.plot(*zip(*held), marker="o", ms=3, label="validation (held-out band)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log" if min(train) > 0 else "linear")
    ax.legend()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def write_folders_comparison(
    path: str | os.PathLike[str], ground_truth: np.ndarray, labels: list[str], objects: list[np.ndarray], coverages: list[np.ndarray | None]
) -> None:
    """Write ``compare``'s PNG: the ground truth, then one row per folder, on shared colour scales, atomically.

    Columns: amplitude, amplitude error, phase, phase error. Every panel shows the window that
    every folder covers (the largest rectangle covered in all of them), prepared as the metrics
    prepare it (trimmed, amplitude mean-ratio scaled, phases plane-removed); amplitude and phase
    share the ground truth's colour range, and each error column one symmetric range over all folders.
    """
    shared = None
    known = [np.asarray(c) for c in coverages if c is not None]
    if known:
        shared = np.minimum.reduce([np.where(c > 0, 1.0, 0.0) for c in known])
    pairs = [prepare_pair(obj, ground_truth, coverage=shared) for obj in objects]
    errors = [(p.pred_amp - p.target_amp, p.pred_phase - p.target_phase) for p in pairs]
    amp_limit = max(float(np.max(np.abs(e[0]))) for e in errors) or 1.0
    phase_limit = max(float(np.max(np.abs(e[1]))) for e in errors) or 1.0
    truth = pairs[0]
    amp_range = (float(np.min(truth.target_amp)), float(np.max(truth.target_amp)))
    phase_range = (float(np.min(truth.target_phase)), float(np.max(truth.target_phase)))
    fig = _figure(figsize=(13, 3.2 * (len(pairs) + 1)))
    axes = fig.subplots(len(pairs) + 1, 4, squeeze=False)
    shown = [
        axes[0, 0].imshow(truth.target_amp, cmap="viridis", vmin=amp_range[0], vmax=amp_range[1]),
        None,
        axes[0, 2].imshow(truth.target_phase, cmap="twilight", vmin=phase_range[0], vmax=phase_range[1]),
        None,
    ]
    axes[0, 0].set_title("ground truth: amplitude")
    axes[0, 2].set_title("ground truth: phase, rad")
    for ax in (axes[0, 1], axes[0, 3]):
        ax.set_axis_off()
    for row, (label, pair, (amp_error, phase_error)) in enumerate(zip(labels, pairs, errors), start=1):
        panels = (
            (pair.pred_amp, "viridis", amp_range, f"{label}: amplitude"),
            (amp_error, "RdBu_r", (-amp_limit, amp_limit), f"amplitude error (MAE {np.mean(np.abs(amp_error)):.3g})"),
            (pair.pred_phase, "twilight", phase_range, f"{label}: phase, rad"),
            (phase_error, "RdBu_r", (-phase_limit, phase_limit), f"phase error (MAE {np.mean(np.abs(phase_error)):.3g})"),
        )
        for col, (image, cmap, (low, high), title) in enumerate(panels):
            shown[col] = axes[row, col].imshow(image, cmap=cmap, vmin=low, vmax=high)
            axes[row, col].set_title(title, fontsize="small")
    for col, image in enumerate(shown):
        fig.colorbar(image, ax=axes[:, col], shrink=0.6)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    y0, y1, x0, x1 = truth.window
    fig.suptitle(f"shown: rows {y0}:{y1}, cols {x0}:{x1} of the {truth.frame_shape[0]}x{truth.frame_shape[1]} frame (covered in every folder), trimmed;\n"
                 "amplitude mean-ratio scaled, phases plane-removed; the metrics use each folder's own window", fontsize="medium")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
