"""The comparison figure: stitched amplitude and phase beside the ground truth, with error maps.

The panels show exactly what the metrics score: the scored window after the trim, the stitched
amplitude scaled by the mean ratio, both phases after plane removal.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from ptychostitch.atomic import atomic_path
from ptychostitch.metrics.reconstruction import prepare_pair


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
    fig = Figure(figsize=(12, 7.5), layout="constrained")
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
