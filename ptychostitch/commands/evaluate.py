"""``ptychostitch evaluate``: stitch and score patch predictions made elsewhere.

Shares the pipeline of ``run`` from the patch stream onward (:mod:`ptychostitch.runner.scoring`,
:mod:`ptychostitch.runner.artifacts`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ptychostitch.commands.options import add_stitch_arguments, positive_int, print_summary, stitch_options
from ptychostitch.dataset import DEFAULT_BATCH_SIZE, load_gridlines, read_predictions
from ptychostitch.runner.artifacts import claim_output_dir, write_results
from ptychostitch.runner.scoring import stitch_and_score
from ptychostitch.stitchers import select

log = logging.getLogger(__name__)

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
    dataset = load_gridlines(args.test_npz)
    predictions = read_predictions(args.predictions, dataset, batch_size=args.batch_size)
    context = dataset.stitch_context(stitch_options(args))
    selection = select(context, args.stitcher)
    output_dir = claim_output_dir(args.output_dir, args.overwrite)
    scores = stitch_and_score(dataset, context, selection, predictions)
    document = write_results(output_dir, dataset.YY_ground_truth, selection, scores)
    print_summary(output_dir, document)
    return 0
