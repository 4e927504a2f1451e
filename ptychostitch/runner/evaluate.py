"""``evaluate``: stitch and score patch predictions made elsewhere, with run's tail (patch stream onward)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ptychostitch.atomic import write_json
from ptychostitch.data import load_gridlines, read_predictions
from ptychostitch.options import check_numbers
from ptychostitch.runner import distributed
from ptychostitch.runner.artifacts import write_results
from ptychostitch.runner.context import plan_stitch
from ptychostitch.runner.defaults import EvaluateConfig
from ptychostitch.runner.provenance import Stages, provenance, record_name
from ptychostitch.runner.result_folder import claim
from ptychostitch.runner.scoring import stitch_and_score


def evaluate(config: EvaluateConfig) -> tuple[Path, dict[str, Any]]:
    """Stitch and score ``config.predictions``; return the output folder used and the ``metrics.json`` content.

    ``evaluate.json`` (:mod:`ptychostitch.runner.provenance`) is written before ``metrics.json``.
    Under ``torchrun`` (``WORLD_SIZE`` > 1) the rows are sharded across ranks (:mod:`ptychostitch.runner.distributed`).
    """
    check_numbers(config)  # as the flags do, for a config built in Python
    if distributed.launched():
        return distributed.evaluate_sharded(config)
    stage = Stages()
    with stage("load"):
        dataset = load_gridlines(config.test_npz)
        predictions = read_predictions(config.predictions, dataset, batch_size=config.batch_size, layout=config.layout)
        plan = plan_stitch(dataset, config.stitch, config.stitcher)
    with claim(config.output_dir, overwrite=config.overwrite) as folder:
        with stage("stitch+score"):
            scores = stitch_and_score(dataset, plan.context, plan.selection, predictions)
        with stage("artifacts"):
            document = write_results(folder.staging, dataset.YY_ground_truth, plan.selection, scores, plan.context.options)
        inputs = {"test_npz": config.test_npz, "predictions": config.predictions}
        options = replace(config, stitch=plan.context.options)
        write_json(folder.staging / record_name("evaluate"), provenance("evaluate", inputs, options, plan.selection, stage.seconds))
        folder.commit(document, keep=(config.test_npz, config.predictions))
    return folder.final, document
