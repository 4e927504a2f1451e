"""``ptychostitch evaluate``: stitch and score patch predictions made elsewhere (:mod:`ptychostitch.runner.evaluate`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ptychostitch.commands.options import add_stitch_arguments, positive_int, print_summary, stitch_options
from ptychostitch.data import DEFAULT_BATCH_SIZE
from ptychostitch.runner.evaluate import EvaluateConfig, evaluate

NAME = "evaluate"
HELP = "Stitch and score patch predictions made elsewhere (PRED.npz key 'patches', test-row order)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--test-npz", required=True, type=Path, metavar="P", help="grid-lines test split (PtychoPINN schema)")
    parser.add_argument(
        "--predictions", required=True, type=Path, metavar="PRED.npz",
        help="key 'patches': complex, (n, N, N) or (n, N, N, C), one row per test row in order",
    )
    parser.add_argument("--output-dir", required=True, type=Path, metavar="DIR", help="where stitched.npz, metrics.json and the PNGs go")
    add_stitch_arguments(parser)
    parser.add_argument(
        "--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, metavar="B",
        help=f"rows of predictions read at a time (default: {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier run in --output-dir instead of writing to DIR-2")


def execute(args: argparse.Namespace) -> int:
    output_dir, document = evaluate(
        EvaluateConfig(
            test_npz=args.test_npz, predictions=args.predictions, output_dir=args.output_dir, stitcher=args.stitcher,
            stitch=stitch_options(args), batch_size=args.batch_size, overwrite=args.overwrite,
        )
    )
    print_summary(output_dir, document)
    return 0
