"""Artifacts of ``run`` and ``evaluate``, written into the staging folder of a claimed result folder.

``stitched.npz``, ``coverage.png``, ``comparison.png`` and ``frc.png`` are written by :func:`write_results`; the
``metrics.json`` content it returns is written last by
:meth:`~ptychostitch.runner.result_folder.ResultFolder.commit`, so a run that fails part-way never
leaves a ``metrics.json`` behind (:mod:`ptychostitch.runner.result_folder`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ptychostitch.atomic import write_npz
from ptychostitch.metrics import metrics_sections
from ptychostitch.runner.figures import write_comparison_plot, write_coverage_plot, write_frc_plot
from ptychostitch.runner.scoring import Scores
from ptychostitch.stitchers import Selection, StitchOptions, StitchResult

STITCHED_ELSEWHERE = "stitched elsewhere; scored by ptychostitch score"
"""The ``stitcher`` reason in the ``metrics.json`` of ``score``."""


def write_stitched(path: Path, result: StitchResult) -> None:
    """``stitched.npz``: ``object`` (complex64), ``coverage`` (float32), ``stitcher`` (0-d string)."""
    write_npz(
        path,
        {
            "object": np.asarray(result.object, dtype=np.complex64),
            "coverage": np.asarray(result.coverage, dtype=np.float32),
            "stitcher": np.array(result.stitcher, dtype=np.str_),
        },
    )


def metrics_document(selection: Selection | None, scores: Scores, options: StitchOptions | None) -> dict[str, Any]:
    """The content of ``metrics.json``: ``stitched``, ``patch``, ``stitcher``, ``stitch`` (weighting and crop used), ``predictions`` and the extras sections.

    ``selection`` and ``options`` are None for an object stitched elsewhere (``score``): ``stitcher``
    then names what the object's file says (``scores.result.stitcher``) and ``stitch`` is null.
    """
    document = metrics_sections(scores.stitched, scores.patch, scores.extras, scores.predictions)
    document["stitcher"] = selection.as_json() if selection is not None else {
        "name": scores.result.stitcher, "requested": None, "fallback": False, "reason": STITCHED_ELSEWHERE, "rejected": {},
    }
    document["stitch"] = None if options is None else {"weighting": options.weighting, "crop": options.crop, "device": options.device}
    return document


def write_results(
    staging: Path, ground_truth: np.ndarray | None, selection: Selection | None, scores: Scores, options: StitchOptions | None
) -> dict[str, Any]:
    """Write the result files into ``staging``; return the ``metrics.json`` content (for the commit to write).

    ``selection`` and ``options`` are None for an object stitched elsewhere (see :func:`metrics_document`).
    """
    write_stitched(staging / "stitched.npz", scores.result)
    write_coverage_plot(staging / "coverage.png", scores.result.coverage, None if scores.stitched is None else scores.stitched.window)
    if ground_truth is not None and scores.stitched is not None:
        write_comparison_plot(staging / "comparison.png", scores.result.object, ground_truth, scores.result.coverage)
        write_frc_plot(staging / "frc.png", scores.stitched, scores.extras)
    return metrics_document(selection, scores, options)

