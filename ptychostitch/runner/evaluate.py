"""``evaluate``: stitch and score patch predictions made elsewhere, with run's tail (patch stream onward)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptychostitch.data import DEFAULT_BATCH_SIZE, load_gridlines, read_predictions
from ptychostitch.runner.artifacts import write_results
from ptychostitch.runner.context import plan_stitch
from ptychostitch.runner.result_folder import claim
from ptychostitch.runner.scoring import stitch_and_score
from ptychostitch.stitchers import StitchOptions


@dataclass(frozen=True)
class EvaluateConfig:
    """Everything ``ptychostitch evaluate`` was asked to do.

    Attributes
    ----------
    test_npz : Path
        The grid-lines test split the predictions belong to.
    predictions : Path
        ``PRED.npz`` with key ``patches``, one row per test row in order.
    output_dir : Path
        Where the result files go (an earlier run there is not overwritten without ``overwrite``).
    stitcher : str
        ``"auto"`` or a stitcher name.
    stitch : StitchOptions
        How patches are combined.
    batch_size : int
        Rows of predictions read at a time.
    overwrite : bool
        Replace an earlier run in ``output_dir``.
    """

    test_npz: Path
    predictions: Path
    output_dir: Path
    stitcher: str = "auto"
    stitch: StitchOptions = field(default_factory=StitchOptions)
    batch_size: int = DEFAULT_BATCH_SIZE
    overwrite: bool = False


def evaluate(config: EvaluateConfig) -> tuple[Path, dict[str, Any]]:
    """Stitch and score ``config.predictions``; return the output folder used and the ``metrics.json`` content."""
    dataset = load_gridlines(config.test_npz)
    predictions = read_predictions(config.predictions, dataset, batch_size=config.batch_size)
    plan = plan_stitch(dataset, config.stitch, config.stitcher)
    with claim(config.output_dir, overwrite=config.overwrite) as folder:
        scores = stitch_and_score(dataset, plan.context, plan.selection, predictions)
        document = write_results(folder.staging, dataset.YY_ground_truth, plan.selection, scores)
        folder.commit(document, keep=(config.test_npz, config.predictions))
    return folder.final, document
