"""The closing summary that ``run``, ``evaluate`` and ``score`` print (stdout): headline numbers, the scored window, the artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ARTIFACTS = ("metrics.json", "stitched.npz", "coverage.png", "comparison.png", "frc.png")
"""The files the summary points to (the provenance record and a run's own files are listed in README.md)."""

NOT_CROSSED = "not crossed"
"""Printed instead of an FRC cut-off whose curve never falls below the threshold."""


def print_summary(output_dir: Path, document: dict[str, Any]) -> None:
    """Print the headline numbers of ``metrics.json``, the scored window and where the artifacts are (stdout).

    The scored window is printed with its share of the ground-truth frame; an FRC cut-off that
    is never crossed is printed as ``not crossed`` (``metrics.json`` keeps PtychoPINN's value,
    the ring count, and says ``false`` in ``stitched_evaluation.frc50_crossed``).
    """
    stitcher = document["stitcher"]
    note = " (fallback)" if stitcher["fallback"] else ""
    print(f"stitcher: {stitcher['name']}{note} - {stitcher['reason']}")
    evaluation = document.get("stitched_evaluation")
    if evaluation:
        y0, y1, x0, x1 = evaluation["window"]
        height, width = evaluation["frame_shape"]
        whole = "the whole frame" if evaluation["window_is_full_frame"] else "NOT the whole frame, see coverage.png"
        print(
            f"scored window: rows {y0}:{y1}, cols {x0}:{x1} of the {height}x{width} frame "
            f"({100 * evaluation['window_share_of_frame']:.1f}% of it; {whole})"
        )
    stitched = document.get("stitched")
    uncrossed = False
    if stitched:
        for key in ("ssim", "ms_ssim", "mae", "psnr", "frc50"):
            crossed = evaluation.get(f"{key}_crossed", (True, True)) if evaluation else (True, True)
            shown = []
            for value, real in zip(stitched[key], crossed):
                uncrossed |= not real
                shown.append(f"{NOT_CROSSED:>11}" if not real else f"{float('nan') if value is None else value:11.4f}")
            print(f"stitched {key:<8} amplitude {shown[0]}   phase {shown[1]}")
    if uncrossed:
        print(f"  ({NOT_CROSSED}: the FRC stays above the threshold out to the last ring, so it gives no resolution)")
    patch = document.get("patch")
    if patch:
        print("patch    " + "   ".join(f"{k} {v:.4g}" for k, v in patch.items() if v is not None))
    print(f"artifacts: {output_dir}/ ({', '.join(ARTIFACTS)})")
