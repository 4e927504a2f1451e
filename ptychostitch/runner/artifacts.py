"""Artifacts of ``run`` and ``evaluate`` under the output directory, all written atomically.

``stitched.npz``, ``comparison.png``, ``frc.png`` and, last, ``metrics.json``: a run that fails
part-way never leaves a ``metrics.json`` behind. An output directory that already holds a run is
never overwritten silently: without ``overwrite`` the next free ``DIR-2``, ``DIR-3``, ... is used.
"""

from __future__ import annotations

import logging
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ptychostitch import __version__
from ptychostitch.atomic import write_json, write_npz
from ptychostitch.metrics import metrics_sections
from ptychostitch.runner.figures import write_comparison_plot, write_frc_plot
from ptychostitch.runner.scoring import Scores
from ptychostitch.stitchers import Selection, StitchResult

log = logging.getLogger(__name__)

RUN_MARKERS = ("metrics.json", "run.json", "stitched.npz")
"""Files whose presence means a folder holds an earlier run."""


def claim_output_dir(path: Path, overwrite: bool) -> Path:
    """The folder this run writes to: ``path``, or the next free ``path-N`` if ``path`` holds a run."""
    if overwrite or not _holds_run(path):
        return path
    for number in range(2, 10_000):
        candidate = path.with_name(f"{path.name}-{number}")
        if not _holds_run(candidate):
            log.warning("%s already holds a run; writing to %s instead (pass --overwrite to replace it)", path, candidate)
            return candidate
    raise RuntimeError(f"no free output folder next to {path}")


def _holds_run(path: Path) -> bool:
    return any((path / name).exists() for name in RUN_MARKERS)


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


def metrics_document(selection: Selection, scores: Scores) -> dict[str, Any]:
    """The content of ``metrics.json``: ``stitched``, ``patch``, ``stitcher`` and the extras sections."""
    document = metrics_sections(scores.stitched, scores.patch, scores.extras)
    document["stitcher"] = selection.as_json()
    return document


def write_results(
    output_dir: Path, ground_truth: np.ndarray | None, selection: Selection, scores: Scores
) -> dict[str, Any]:
    """Write every result file; ``metrics.json`` last. Returns the ``metrics.json`` content."""
    write_stitched(output_dir / "stitched.npz", scores.result)
    if ground_truth is not None and scores.stitched is not None:
        write_comparison_plot(output_dir / "comparison.png", scores.result.object, ground_truth, scores.result.coverage)
        write_frc_plot(output_dir / "frc.png", scores.stitched, scores.extras)
    document = metrics_document(selection, scores)
    write_json(output_dir / "metrics.json", document)
    log.info("wrote %s", output_dir / "metrics.json")
    return document


def versions() -> dict[str, str]:
    """Versions of Python, ptychostitch and the numerical libraries that are loaded."""
    found = {"python": platform.python_version(), "ptychostitch": __version__, "numpy": np.__version__}
    for name in ("torch", "scipy", "skimage", "tensorflow"):
        module = sys.modules.get(name)
        if module is not None:
            found[name] = str(getattr(module, "__version__", "unknown"))
    return found
