"""``ptychostitch run``: train (or load) a model, predict the test patches, stitch, score, write artifacts."""

from __future__ import annotations

import argparse
import sys

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
    epochs = next(action for action in parser._actions if action.dest == "epochs")
    parse = epochs.type
    epochs.type = lambda text: _Given(parse(text))  # --resume keeps the recorded epochs unless --epochs is given
    parser.epilog = f"Embedded default dataset: {EMBEDDED_DATASET}"


def execute(args: argparse.Namespace) -> int:
    import shlex

    from ptychostitch.runner.resume import TrainingInterrupted
    from ptychostitch.runner.run import run  # torch is imported only when a run starts

    if args.resume is not None and not isinstance(args.epochs, _Given):
        args.epochs = None
    elif args.epochs is not None:
        args.epochs = int(args.epochs)  # a plain int from here on: the checkpoint stores it, and loads only plain types
    try:
        folder, document = run(config_from_args(RunConfig, args))
        if document:  # under a distributed launch only rank 0 has a result to show
            print_summary(folder, document)
    except TrainingInterrupted as stop:
        print(f"ptychostitch run: stopped after epoch {stop.epoch}; resume with: python -m ptychostitch run --resume {shlex.quote(str(stop.folder))}",
              file=sys.stderr)
        raise KeyboardInterrupt from None
    return 0


class _Given(int):
    """An ``--epochs`` value that was given on the command line (not the default)."""
