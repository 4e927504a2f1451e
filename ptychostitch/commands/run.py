"""``ptychostitch run``: train (or load) a model, predict the test patches, stitch, score, write artifacts."""

from __future__ import annotations

import argparse
from pathlib import Path

from ptychostitch.commands.options import add_stitch_arguments, non_negative_int, positive_int, print_summary, stitch_options
from ptychostitch.runner.defaults import EMBEDDED_DATASET
from ptychostitch.runner.run import RunConfig, run

NAME = "run"
HELP = (
    "Train or load a model on cached grid-lines data, predict the test patches, stitch them into the "
    "ground-truth frame and score them. Without --train-npz/--test-npz it simulates a small default dataset first."
)
DEFAULTS = RunConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--train-npz", type=Path, metavar="P", help="grid-lines train split (default: simulate the embedded dataset)")
    data.add_argument("--test-npz", type=Path, metavar="P", help="grid-lines test split (default: simulate the embedded dataset)")
    data.add_argument("--output-dir", type=Path, default=DEFAULTS.output_dir, metavar="DIR", help=f"artifacts folder (default: {DEFAULTS.output_dir})")
    data.add_argument("--overwrite", action="store_true", help="replace an earlier run in --output-dir instead of writing to DIR-2")
    model = parser.add_argument_group("model and training")
    model.add_argument("--model", default=DEFAULTS.model, metavar="NAME|module:factory", help="'reference', or a factory(N, gridsize) returning an nn.Module (see docs/model.md)")
    model.add_argument("--checkpoint", type=Path, metavar="PATH", help="load these weights; with --epochs 0 nothing is trained")
    model.add_argument("--epochs", type=non_negative_int, default=DEFAULTS.epochs, metavar="E", help=f"training epochs (default: {DEFAULTS.epochs})")
    model.add_argument("--batch-size", type=positive_int, default=DEFAULTS.batch_size, metavar="B", help=f"training batch size (default: {DEFAULTS.batch_size})")
    model.add_argument("--loss", choices=("mae", "poisson", "supervised"), default=DEFAULTS.loss, help="self-supervised amplitude MAE, Poisson NLL, or the supervised baseline on Y_I/Y_phi")
    model.add_argument("--learning-rate", type=float, default=DEFAULTS.learning_rate, metavar="LR", help=f"Adam step size (default: {DEFAULTS.learning_rate})")
    model.add_argument("--seed", type=int, default=DEFAULTS.seed, metavar="S", help=f"training seed (default: {DEFAULTS.seed})")
    infer = parser.add_argument_group("inference and stitching")
    infer.add_argument("--infer-batch-size", type=positive_int, default=DEFAULTS.infer_batch_size, metavar="B", help=f"rows per forward pass (default: {DEFAULTS.infer_batch_size})")
    infer.add_argument("--device", choices=("cpu", "cuda", "auto"), default=DEFAULTS.device, help="torch device for training, inference and stitching")
    add_stitch_arguments(parser, weighting=DEFAULTS.stitch.weighting, crop=DEFAULTS.stitch.crop)
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("--keep-tmp", dest="keep_tmp", action="store_true", default=True, help="keep tmp/torch_reassembly/reassembly_test.npz (default)")
    keep.add_argument("--clean-tmp", dest="keep_tmp", action="store_false", help="delete the temporary reassembly file at the end")
    parser.epilog = f"Embedded default dataset: {EMBEDDED_DATASET}"


def execute(args: argparse.Namespace) -> int:
    output_dir, document = run(
        RunConfig(
            output_dir=args.output_dir, train_npz=args.train_npz, test_npz=args.test_npz, model=args.model,
            checkpoint=args.checkpoint, epochs=args.epochs, batch_size=args.batch_size, loss=args.loss,
            learning_rate=args.learning_rate, infer_batch_size=args.infer_batch_size, device=args.device,
            seed=args.seed, stitcher=args.stitcher, stitch=stitch_options(args), keep_tmp=args.keep_tmp,
            overwrite=args.overwrite,
        )
    )
    print_summary(output_dir, document)
    return 0
