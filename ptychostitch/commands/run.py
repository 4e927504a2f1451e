"""``ptychostitch run``: train (or load) a model, predict the test patches, stitch, score, write artifacts."""

from __future__ import annotations

import argparse

from ptychostitch.commands.flags import add_flags, config_from_args
from ptychostitch.commands.summary import print_summary
from ptychostitch.runner.defaults import EMBEDDED_DATASET, RunConfig

NAME = "run"
HELP = (
    "Train or load a model on cached grid-lines data, predict the test patches, stitch them into the "
    "ground-truth frame and score them. Without --train-npz/--test-npz it simulates a small default dataset first."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, RunConfig)
    parser.epilog = f"Embedded default dataset: {EMBEDDED_DATASET}"


def execute(args: argparse.Namespace) -> int:
    from ptychostitch.runner.run import run  # torch is imported only when a run starts

    print_summary(*run(config_from_args(RunConfig, args)))
    return 0
