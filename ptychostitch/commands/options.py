"""Command-line options and the closing summary shared by ``run`` and ``evaluate``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ptychostitch.stitchers import StitchOptions


def _int_at_least(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, found {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {what}, found {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0, "an integer >= 0")


def add_stitch_arguments(parser: argparse.ArgumentParser, *, weighting: str = "uniform", crop: int | None = None) -> None:
    """``--stitcher``, ``--stitch-weighting`` and ``--crop``."""
    parser.add_argument("--stitcher", default="auto", metavar="auto|NAME", help="stitcher to use (default: auto; see `ptychostitch stitchers`)")
    parser.add_argument(
        "--stitch-weighting", choices=("uniform", "probe"), default=weighting,
        help=f"per-pixel patch weight: 1, or |probe|^2 (default: {weighting})",
    )
    parser.add_argument(
        "--crop", type=positive_int, default=crop, metavar="M",
        help=f"keep only the central MxM pixels of each patch (default: {crop or 'whole patch'})",
    )


def stitch_options(args: argparse.Namespace, device: str = "cpu") -> StitchOptions:
    """The :class:`StitchOptions` the parsed arguments ask for."""
    return StitchOptions(weighting=args.stitch_weighting, crop=args.crop, device=device)


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
