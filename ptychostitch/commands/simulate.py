"""``ptychostitch simulate``: write a PtychoPINN-compatible grid-lines train/test dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from ptychostitch.commands.flags import add_flags, config_from_args
from ptychostitch.simulate import SimulationConfig

NAME = "simulate"
HELP = "Simulate a grid-lines dataset (DIR/datasets/N{N}/gs{gridsize}/train.npz and test.npz) in PtychoPINN's schema."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", required=True, type=Path, metavar="DIR", help="dataset root; files go to DIR/datasets/N{N}/gs{gridsize}/")
    add_flags(parser, SimulationConfig)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")


def execute(args: argparse.Namespace) -> int:
    from ptychostitch.simulate import simulate  # SciPy is imported only when a simulation starts

    paths = simulate(config_from_args(SimulationConfig, args), args.output_dir, overwrite=args.overwrite)
    print(paths.train)
    print(paths.test)
    return 0
