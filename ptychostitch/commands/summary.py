"""The closing summary that ``run`` and ``evaluate`` print (stdout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def print_summary(output_dir: Path, document: dict[str, Any]) -> None:
    """Print the headline numbers of ``metrics.json`` and where the artifacts are (stdout)."""
    stitcher = document["stitcher"]
    note = " (fallback)" if stitcher["fallback"] else ""
    print(f"stitcher: {stitcher['name']}{note} - {stitcher['reason']}")
    stitched = document.get("stitched")
    if stitched:
        for key in ("ssim", "ms_ssim", "mae", "psnr", "frc50"):
            amp, phase = (float("nan") if v is None else v for v in stitched[key])
            print(f"stitched {key:<8} amplitude {amp:10.4f}   phase {phase:10.4f}")
    patch = document.get("patch")
    if patch:
        print("patch    " + "   ".join(f"{k} {v:.4g}" for k, v in patch.items() if v is not None))
    print(f"artifacts: {output_dir}/ (metrics.json, stitched.npz, comparison.png, frc.png)")
