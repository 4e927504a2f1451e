"""The FRC curves figure (PNG): amplitude and phase, with cut-offs and, when given, the extras."""

from __future__ import annotations

import math
import os

import numpy as np

from ptychostitch.atomic import atomic_path
from ptychostitch.metrics.extras import ExtraMetrics
from ptychostitch.metrics.reconstruction import ReconstructionMetrics


def write_frc_plot(path: str | os.PathLike[str], metrics: ReconstructionMetrics, extras: ExtraMetrics | None = None) -> None:
    """Write the FRC curves of ``metrics`` (and of ``extras``) to a PNG file, atomically.

    Two panels, amplitude and phase: the PtychoPINN-compatible curve (``|.|`` numerator) with the
    0.5 and 1/7 thresholds and the ``frc50`` / ``frc1over7`` cut-offs marked; with ``extras``, also
    the real-part curve and the 1-bit and 1/2-bit threshold curves. The x axis is the ring index
    (cycles per image side); the dotted line marks Nyquist.

    Parameters
    ----------
    path : path-like
        Output file (``.png``); its folder is created if needed.
    metrics : ReconstructionMetrics
        Result of :func:`ptychostitch.metrics.eval_reconstruction`.
    extras : ExtraMetrics, optional
        Result of :func:`ptychostitch.metrics.extra_metrics`.
    """
    from matplotlib.figure import Figure  # imported here: matplotlib adds ~0.3 s to importing the metrics

    fig = Figure(figsize=(10, 4), layout="constrained")
    nyquist = min(metrics.evaluated_shape) // 2
    for part, (name, ax) in enumerate(zip(("amplitude", "phase"), fig.subplots(1, 2, sharey=True))):
        curve = metrics["frc"][part]
        if curve is not None:
            rings = np.arange(len(curve))
            ax.plot(rings, curve, color="C0", label="FRC (PtychoPINN, |.| numerator)")
            for threshold, key, color in ((0.5, "frc50", "C1"), (1 / 7, "frc1over7", "C2")):
                cut = metrics[key][part]
                ax.axhline(threshold, color=color, lw=0.8, ls="--")
                if math.isfinite(cut):
                    ax.axvline(cut, color=color, lw=0.8, label=f"{key} = {cut:.2f}")
        if extras is not None:
            rings = np.arange(len(extras.frc_re[part]))
            ax.plot(rings, extras.frc_re[part], color="C3", lw=0.9, label="FRC, Re numerator (extra)")
            ax.plot(rings, extras.one_bit, color="C4", lw=0.8, ls=":", label="1-bit threshold")
            ax.plot(rings, extras.half_bit, color="C5", lw=0.8, ls=":", label="1/2-bit threshold")
        ax.axvline(nyquist, color="0.5", lw=0.8, ls=":")
        ax.set_title(f"FRC, {name}")
        ax.set_xlabel("ring (cycles per image side)")
        ax.set_ylim(-0.1, 1.05)
        ax.legend(fontsize="small", loc="upper right")
    fig.axes[0].set_ylabel("correlation")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
