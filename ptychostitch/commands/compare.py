"""``ptychostitch compare``: result folders side by side against their shared ground truth (:mod:`ptychostitch.runner.compare`)."""

from __future__ import annotations

import argparse

from ptychostitch.commands.flags import add_flags, config_from_args
from ptychostitch.runner.defaults import CompareConfig

NAME = "compare"
HELP = "Compare result folders of run, evaluate and score scored against one ground truth: comparison.csv, comparison.md, comparison.png."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, CompareConfig)


def execute(args: argparse.Namespace) -> int:
    from ptychostitch.runner.compare import compare  # matplotlib (figures) is imported only when a comparison starts

    folder = compare(config_from_args(CompareConfig, args))
    for name in ("comparison.csv", "comparison.md", "comparison.png"):
        print(folder / name)
    return 0
