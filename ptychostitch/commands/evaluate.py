"""``ptychostitch evaluate``: stitch and score patch predictions made elsewhere (:mod:`ptychostitch.runner.evaluate`)."""

from __future__ import annotations

import argparse

from ptychostitch.commands.flags import add_flags, config_from_args
from ptychostitch.commands.summary import print_summary
from ptychostitch.runner.defaults import EvaluateConfig

NAME = "evaluate"
HELP = "Stitch and score patch predictions made elsewhere (PRED.npz key 'patches', test-row order)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, EvaluateConfig)


def execute(args: argparse.Namespace) -> int:
    from ptychostitch.runner.evaluate import evaluate  # matplotlib (figures) is imported only when an evaluation starts

    folder, document = evaluate(config_from_args(EvaluateConfig, args))
    if document:  # under a distributed launch only rank 0 has a result to show
        print_summary(folder, document)
    return 0
