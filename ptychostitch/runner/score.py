"""``score``: score an object stitched elsewhere against a test split's ground truth, as ``run`` and ``evaluate`` score theirs.

The object (:func:`~ptychostitch.data.read_stitched_object`) must be in the ground-truth frame.
With a ``coverage`` key, only the largest fully covered rectangle is scored (as for the
built-in stitchers); without one the whole frame is. The result folder holds what ``evaluate``
writes (``stitched.npz``, the PNGs, ``metrics.json`` last) and ``score.json``, the provenance
record (:mod:`ptychostitch.runner.provenance`). ``metrics.json`` has no ``patch`` section (there are
no patches) and ``stitch`` is null.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ptychostitch.atomic import write_json
from ptychostitch.data import load_gridlines, read_stitched_object
from ptychostitch.data.gridlines import expect
from ptychostitch.runner.artifacts import write_results
from ptychostitch.runner.defaults import ScoreConfig
from ptychostitch.runner.provenance import Stages, provenance, record_name
from ptychostitch.runner.result_folder import claim
from ptychostitch.runner.scoring import score as score_result
from ptychostitch.stitchers import StitchResult

ELSEWHERE = "elsewhere"
"""The stitcher name recorded for an object whose file does not name its stitcher."""


def score(config: ScoreConfig) -> tuple[Path, dict[str, Any]]:
    """Score ``config.object`` against ``config.test_npz``; return the output folder used and the ``metrics.json`` content."""
    stage = Stages()
    with stage("load"):
        dataset = load_gridlines(config.test_npz)
        truth = dataset.YY_ground_truth
        expect(truth is not None, dataset.path, "YY_ground_truth", "the ground truth to score against", "no such key")
        found = read_stitched_object(config.object, truth.shape)
    coverage = found.coverage if found.coverage is not None else np.ones(truth.shape, np.float32)
    result = StitchResult(found.object, coverage, found.stitcher or ELSEWHERE)
    with claim(config.output_dir, overwrite=config.overwrite) as folder:
        with stage("score"):
            scores = score_result(dataset, result, None)
        with stage("artifacts"):
            document = write_results(folder.staging, truth, None, scores, None)
        options = {"coverage": "from the object's file" if found.coverage is not None else "none given: the whole frame is scored"}
        inputs = {"test_npz": config.test_npz, "object": config.object}
        write_json(folder.staging / record_name("score"), provenance("score", inputs, options, None, stage.seconds))
        folder.commit(document, keep=(config.test_npz, config.object))
    return folder.final, document
