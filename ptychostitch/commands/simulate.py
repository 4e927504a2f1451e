"""``ptychostitch simulate``: write a PtychoPINN-compatible grid-lines train/test dataset."""

from __future__ import annotations

import argparse

from ptychostitch.simulate import SimulationConfig, simulate
from ptychostitch.simulate.config import IDEAL_DISK, SCALE_MODES

NAME = "simulate"
HELP = "Simulate a grid-lines dataset (DIR/datasets/N{N}/gs{gridsize}/train.npz and test.npz) in PtychoPINN's schema."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SimulationConfig()
    parser.add_argument(
        "--output-dir",
        required=True,
        metavar="DIR",
        help="dataset root; files go to DIR/datasets/N{N}/gs{gridsize}/",
    )
    parser.add_argument(
        "--N",
        type=int,
        default=defaults.N,
        help="patch (detector) side in pixels (default %(default)s)",
    )
    parser.add_argument(
        "--gridsize",
        type=int,
        default=defaults.gridsize,
        help="group side; gridsize**2 channels per row (default %(default)s)",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=defaults.size,
        help="object side in pixels (default %(default)s)",
    )
    parser.add_argument(
        "--offset",
        type=int,
        default=defaults.offset,
        help="spacing of the patches inside a group, px (default %(default)s)",
    )
    parser.add_argument(
        "--outer-offset-train",
        type=int,
        default=defaults.outer_offset_train,
        help="train outer offset; scan stride is half of it (default %(default)s)",
    )
    parser.add_argument(
        "--outer-offset-test",
        type=int,
        default=defaults.outer_offset_test,
        help="test outer offset; scan stride is half of it (default %(default)s)",
    )
    parser.add_argument(
        "--nimgs-train",
        type=int,
        default=defaults.nimgs_train,
        help="train objects (default %(default)s)",
    )
    parser.add_argument(
        "--nimgs-test",
        type=int,
        default=defaults.nimgs_test,
        help="test objects (default %(default)s)",
    )
    parser.add_argument(
        "--nphotons",
        type=float,
        default=defaults.nphotons,
        help="mean photons per train pattern (default %(default)g)",
    )
    parser.add_argument(
        "--probe",
        default=IDEAL_DISK,
        metavar="ideal_disk|PATH.npz",
        help="built-in ideal disk, or an NPZ with key probeGuess (default %(default)s)",
    )
    parser.add_argument(
        "--probe-scale-mode",
        choices=SCALE_MODES,
        default=defaults.probe_scale_mode,
        help="how the probe is brought to N x N (default %(default)s)",
    )
    parser.add_argument(
        "--probe-smoothing-sigma",
        type=float,
        default=defaults.probe_smoothing_sigma,
        help="Gaussian sigma (px) of the smooth step; 0 disables it (default %(default)s)",
    )
    parser.add_argument(
        "--probe-mask-diameter",
        type=float,
        default=None,
        metavar="D",
        help="hard disk mask of diameter D px after the pipeline",
    )
    parser.add_argument(
        "--probe-transform-pipeline",
        default=None,
        metavar="STEPS",
        help="explicit pipeline, e.g. 'smooth:0.5|pad:128|interp:256' (overrides mode and sigma)",
    )
    parser.add_argument(
        "--set-phi",
        action="store_true",
        help="give the objects PtychoPINN's synthetic phase",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the Poisson noise (default: fresh, recorded in _metadata)",
    )
    parser.add_argument(
        "--compress",
        action="store_true",
        help="deflate members like savez_compressed (default: uncompressed, memory-mappable)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")


def execute(args: argparse.Namespace) -> int:
    config = SimulationConfig(
        N=args.N,
        gridsize=args.gridsize,
        size=args.size,
        offset=args.offset,
        outer_offset_train=args.outer_offset_train,
        outer_offset_test=args.outer_offset_test,
        nimgs_train=args.nimgs_train,
        nimgs_test=args.nimgs_test,
        nphotons=args.nphotons,
        probe=args.probe,
        probe_scale_mode=args.probe_scale_mode,
        probe_smoothing_sigma=args.probe_smoothing_sigma,
        probe_mask_diameter=args.probe_mask_diameter,
        probe_transform_pipeline=args.probe_transform_pipeline,
        set_phi=args.set_phi,
        seed=args.seed,
        compress=args.compress,
    )
    paths = simulate(config, args.output_dir, overwrite=args.overwrite)
    print(paths.train)
    print(paths.test)
    return 0
