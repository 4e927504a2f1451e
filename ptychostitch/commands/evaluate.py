"""``ptychostitch evaluate``: stitch patch predictions made elsewhere; write ``stitched.npz`` and ``metrics.json``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from tqdm import tqdm

from ptychostitch.atomic import write_json, write_npz
from ptychostitch.dataset import DEFAULT_BATCH_SIZE, GridLinesDataset, Predictions, load_gridlines, read_predictions
from ptychostitch.stitchers import PatchBatch, Selection, StitchOptions, StitchResult, select

log = logging.getLogger(__name__)

NAME = "evaluate"
HELP = "Stitch and score patch predictions made elsewhere (PRED.npz key 'patches', test-row order)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--test-npz", required=True, type=Path, metavar="P", help="grid-lines test split (PtychoPINN schema)")
    parser.add_argument(
        "--predictions", required=True, type=Path, metavar="PRED.npz",
        help="key 'patches': complex, (n, N, N) or (n, N, N, C), one row per test row in order",
    )
    parser.add_argument("--output-dir", required=True, type=Path, metavar="DIR", help="where stitched.npz and metrics.json go")
    parser.add_argument("--stitcher", default="auto", metavar="auto|NAME", help="stitcher to use (default: auto; see `ptychostitch stitchers`)")
    parser.add_argument(
        "--stitch-weighting", choices=("uniform", "probe"), default="uniform",
        help="per-pixel patch weight: 1, or |probe|^2 (default: uniform)",
    )
    parser.add_argument("--crop", type=_positive, default=None, metavar="M", help="keep only the central MxM pixels of each patch")
    parser.add_argument(
        "--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE, metavar="B",
        help=f"rows of predictions read at a time (default: {DEFAULT_BATCH_SIZE})",
    )


def execute(args: argparse.Namespace) -> int:
    dataset = load_gridlines(args.test_npz)
    predictions = read_predictions(args.predictions, dataset, batch_size=args.batch_size)
    options = StitchOptions(weighting=args.stitch_weighting, crop=args.crop)
    selection, result = stitch_predictions(dataset, predictions, requested=args.stitcher, options=options)
    write_stitched(args.output_dir / "stitched.npz", result)
    write_json(args.output_dir / "metrics.json", metrics_document(selection))
    log.info("wrote %s and %s", args.output_dir / "stitched.npz", args.output_dir / "metrics.json")
    return 0


def stitch_predictions(
    dataset: GridLinesDataset,
    predictions: Predictions,
    *,
    requested: str = "auto",
    options: StitchOptions | None = None,
) -> tuple[Selection, StitchResult]:
    """Select a stitcher for ``dataset`` and stitch ``predictions`` into its ground-truth frame.

    A progress bar (rows stitched) is shown while logging is at INFO or more verbose.

    Raises
    ------
    InputError
        No stitcher can run, or the requested one cannot (with its reason).
    RuntimeError
        The stitcher returned arrays that do not have the ground-truth frame's shape.
    """
    context = dataset.stitch_context(options)
    selection = select(context, requested)
    quiet = not logging.getLogger("ptychostitch").isEnabledFor(logging.INFO)
    with tqdm(total=len(predictions), unit="row", desc=f"stitching ({selection.stitcher.name})", disable=quiet) as bar:
        result = selection.stitcher.stitch(context, _counted(predictions, bar))
    for label, array in (("object", result.object), ("coverage", result.coverage)):
        if np.shape(array) != context.frame_shape:
            raise RuntimeError(
                f"stitcher {selection.stitcher.name!r} returned {label} of shape {np.shape(array)}, "
                f"expected the ground-truth frame {context.frame_shape}"
            )
    return selection, result


def write_stitched(path: Path, result: StitchResult) -> None:
    """Write ``stitched.npz``: ``object`` (complex64), ``coverage`` (float32), ``stitcher`` (0-d string)."""
    write_npz(
        path,
        {
            "object": np.asarray(result.object, dtype=np.complex64),
            "coverage": np.asarray(result.coverage, dtype=np.float32),
            "stitcher": np.array(result.stitcher, dtype=np.str_),
        },
    )


def metrics_document(selection: Selection) -> dict[str, object]:
    """The content of ``metrics.json``.

    This is the one place that assembles it. It holds the ``stitcher`` section today; the
    ``stitched`` (``eval_reconstruction``) and ``patch`` sections belong here too, ahead of
    ``stitcher``, once :mod:`ptychostitch.metrics` provides them.
    """
    return {"stitcher": selection.as_json()}


def _counted(batches: Iterable[PatchBatch], bar: tqdm) -> Iterator[PatchBatch]:
    for batch in batches:
        yield batch
        bar.update(len(batch.patches))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {value}")
    return value
