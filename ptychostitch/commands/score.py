"""``ptychostitch score``: score an object stitched elsewhere (:mod:`ptychostitch.runner.score`)."""

from __future__ import annotations

import argparse

from ptychostitch.commands.flags import add_flags, config_from_args
from ptychostitch.commands.summary import print_summary
from ptychostitch.runner.defaults import ScoreConfig

NAME = "score"
HELP = "Score an object stitched elsewhere (OBJ.npz key 'object', complex, in the ground-truth frame) against the test split's ground truth."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, ScoreConfig)


def execute(args: argparse.Namespace) -> int:
    from ptychostitch.runner.score import score  # matplotlib (figures) is imported only when scoring starts

    print_summary(*score(config_from_args(ScoreConfig, args)))
    return 0
