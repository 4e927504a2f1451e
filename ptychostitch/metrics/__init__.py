"""Metrics: stitched objects scored exactly as PtychoPINN's ``eval_reconstruction``, patch metrics, FRC.

* :func:`eval_reconstruction` (module :mod:`~ptychostitch.metrics.reconstruction`): the
  PtychoPINN-compatible stitched metrics, ``{key: (amplitude, phase)}``.
* :func:`patch_metrics` / :class:`PatchMetrics` (:mod:`~ptychostitch.metrics.patches`): predicted
  patches against ``Y_I`` / ``Y_phi``, like with like, streamed batch by batch.
* :func:`frc` (:mod:`~ptychostitch.metrics.frc`): Fourier ring correlation curves and cut-offs.
* :func:`extra_metrics` (:mod:`~ptychostitch.metrics.extras`): clearly separate extras (Re-numerator
  FRC with van Heel & Schatz thresholds, exact global phase, subpixel registration).
* :func:`metrics_sections`: the ``metrics.json`` sections.

Every definition is written out in ``docs/metrics.md``.
"""

from ptychostitch.metrics.coverage import largest_covered_rectangle
from ptychostitch.metrics.extras import ExtraMetrics, extra_metrics
from ptychostitch.metrics.frc import frc, frc_cutoff
from ptychostitch.metrics.patches import PatchMetrics, PatchMetricsResult, patch_metrics
from ptychostitch.metrics.reconstruction import ReconstructionMetrics, eval_reconstruction
from ptychostitch.metrics.report import metrics_sections

__all__ = [
    "ExtraMetrics",
    "PatchMetrics",
    "PatchMetricsResult",
    "ReconstructionMetrics",
    "eval_reconstruction",
    "extra_metrics",
    "frc",
    "frc_cutoff",
    "largest_covered_rectangle",
    "metrics_sections",
    "patch_metrics",
]
