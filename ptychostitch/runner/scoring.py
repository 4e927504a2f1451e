"""The shared tail of ``run`` and ``evaluate``: patch stream -> stitcher (+ patch metrics) -> metrics.

Patch metrics and the prediction diagnostics ride along the one pass over the patch stream: each
batch is scored against the matching rows of ``Y_I``/``Y_phi`` before the stitcher consumes it,
so no patch is read twice. What makes a score untrustworthy is logged as a WARNING here: a scored
window smaller than the frame, much stitched weight on exactly-zero predicted pixels, predictions
that are all 0 or constant (docs/metrics.md, "Diagnostics").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ptychostitch.data import GridLinesDataset
from ptychostitch.data.gridlines import expect
from ptychostitch.errors import InputError, quoted
from ptychostitch.metrics import ExtraMetrics, PatchMetrics, PatchMetricsResult, ReconstructionMetrics, eval_reconstruction, extra_metrics
from ptychostitch.metrics.coverage import Window
from ptychostitch.metrics.diagnostics import (
    PHASE_WRAP_WARN_SHARE,
    ZERO_WEIGHT_WARN_SHARE,
    PredictionStats,
    PredictionStatsAccumulator,
    phase_wrap_share,
    window_share,
)
from ptychostitch.progress import Progress
from ptychostitch.runner.context import pixel_weights
from ptychostitch.simulate.probe import normalise
from ptychostitch.stitchers import PatchBatch, Selection, StitchContext, Stitcher, StitchResult, guard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scores:
    """Everything measured on one patch stream.

    Attributes
    ----------
    result : StitchResult
        The stitched object and its coverage.
    stitched : ReconstructionMetrics or None
        PtychoPINN-compatible metrics of the stitched object; None without a ground truth.
    extras : ExtraMetrics or None
        The clearly separate extras (Re-numerator FRC, global phase, registration).
    patch : PatchMetricsResult or None
        Patch metrics against ``Y_I``/``Y_phi``; None when the file has no probe to compare with.
    predictions : PredictionStats or None
        The diagnostics of the predicted patches of the scored object; None when no patch
        stream was seen (an object stitched elsewhere).
    """

    result: StitchResult
    stitched: ReconstructionMetrics | None
    extras: ExtraMetrics | None
    patch: PatchMetricsResult | None
    predictions: PredictionStats | None = None


def simulation_probe(dataset: GridLinesDataset) -> np.ndarray | None:
    """``P_sim``: the stored ``probe_simulated``, else ``probeGuess`` normalised as the simulator does.

    Raises
    ------
    InputError
        ``probeGuess`` is 0 inside the simulator's normalisation disk (naming the file and key).
    """
    if dataset.probe_simulated is not None:
        return dataset.probe_simulated
    if dataset.probeGuess is not None:
        try:
            return normalise(dataset.probeGuess)[0]
        except InputError as exc:
            raise InputError(f"{quoted(dataset.path)}: key 'probeGuess': {exc}") from exc
    return None


def stitch_and_score(
    dataset: GridLinesDataset,
    context: StitchContext,
    selection: Selection,
    batches: Iterable[PatchBatch],
) -> Scores:
    """Stitch ``batches`` with the selected stitcher and score the result.

    Parameters
    ----------
    dataset : GridLinesDataset
        The test split the patches were predicted for (labels and ground truth).
    context : StitchContext
        The context ``selection`` was made for.
    selection : Selection
        The chosen stitcher.
    batches : iterable of PatchBatch
        The patch stream, in row order.
    """
    patch = patch_accumulator(dataset)
    name = selection.stitcher.name
    stats = prediction_stats(selection.stitcher, context)
    with Progress(log, f"predict + stitch ({name})", context.n_rows, "row") as bar:
        result = guard.stitch(selection.stitcher, context, scored(batches, dataset, patch, bar, stats, context.frame_rows))
    predictions = stats.result()
    warn_about_predictions(predictions, context)
    return score(dataset, result, patch.result() if patch is not None else None, predictions)


def patch_accumulator(dataset: GridLinesDataset, first_row: int = 0, *, warn: bool = True) -> PatchMetrics | None:
    """The patch-metrics accumulator of ``dataset``'s rows from ``first_row``; None (with a warning) without a probe."""
    probe = simulation_probe(dataset)
    if probe is None:
        if warn:
            log.warning("%s: no probe, so patch metrics are skipped", dataset.path)
        return None
    return PatchMetrics(probe, first_row=first_row)


def score(
    dataset: GridLinesDataset, result: StitchResult, patch: PatchMetricsResult | None, predictions: PredictionStats | None = None
) -> Scores:
    """Score a stitched object against the ground truth of ``dataset``; WARNING when the scored window is not the whole frame or the stitched phase wraps in it."""
    stitched = extras = None
    if dataset.YY_ground_truth is None:
        log.warning("%s: no ground truth (YY_ground_truth), so only patch metrics are computed", dataset.path)
    else:
        stitched = eval_reconstruction(result.object, dataset.YY_ground_truth, coverage=result.coverage)
        extras = extra_metrics(result.object, dataset.YY_ground_truth, coverage=result.coverage)
        warn_about_window(stitched)
        warn_about_phase_wrap(result.object, stitched.window)
    return Scores(result, stitched, extras, patch, predictions)


def prediction_stats(stitcher: Stitcher, context: StitchContext) -> PredictionStatsAccumulator:
    """The prediction-diagnostics accumulator of a stitch of ``context`` by ``stitcher``, weighted as it stitches."""
    return PredictionStatsAccumulator(guard.pixel_weights(stitcher, context, pixel_weights(context)))


def warn_about_window(metrics: ReconstructionMetrics) -> None:
    """WARNING when the scored window is smaller than the frame: the rest of the frame is not scored."""
    y0, y1, x0, x1 = metrics.window
    height, width = metrics.frame_shape
    if metrics.window != (0, height, 0, width):
        log.warning(
            "only rows %d:%d, cols %d:%d of the %dx%d frame are scored (%.1f%% of it), the largest rectangle that "
            "patches cover without a gap (see coverage.png); the metrics describe that window only",
            y0, y1, x0, x1, height, width, 100 * window_share(metrics.window, metrics.frame_shape),
        )


def warn_about_phase_wrap(obj: np.ndarray, window: Window) -> None:
    """WARNING when the stitched phase wraps inside the scored window: the phase metrics then count the wrap as error."""
    share = phase_wrap_share(obj, window)
    if share > PHASE_WRAP_WARN_SHARE:
        log.warning(
            "the stitched phase wraps (jumps by more than pi between neighbouring pixels) at %.2f%% of the pixel pairs "
            "of the scored window; PtychoPINN's phase metrics take angle() without unwrapping, so the wrap counts as "
            "error: a global phase offset, which self-supervised training cannot fix, is enough to cause it",
            100 * share,
        )


def warn_about_predictions(stats: PredictionStats, context: StitchContext) -> None:
    """WARNING when the predictions are all 0 or constant, or much of the stitched weight is on exactly-zero pixels."""
    share = stats.zero_weight_share
    if stats.all_zero:
        log.warning("every predicted pixel of the scored object is exactly 0: the model predicted nothing")
    elif stats.constant:
        log.warning("every predicted pixel of the scored object has one value: the model predicted nothing but a constant")
    elif share is not None and share > ZERO_WEIGHT_WARN_SHARE:
        kept = "the whole patch" if context.options.crop is None else f"the central {context.options.crop}x{context.options.crop} crop"
        log.warning(
            "%.0f%% of the stitched weight (%s, %s weights) is on predicted pixels that are exactly 0, which pulls the "
            "stitched object towards 0; if the model predicts only a central region, keep only that region (--crop M)",
            100 * share, kept, context.options.weighting,
        )


def scored(
    batches: Iterable[PatchBatch],
    dataset: GridLinesDataset,
    patch: PatchMetrics | None,
    bar: Progress,
    stats: PredictionStatsAccumulator | None = None,
    frame_rows: range = range(0),
) -> Iterator[PatchBatch]:
    """Pass ``batches`` on, scoring each against its labels in ``patch`` first (when not None), counting its ``frame_rows`` in ``stats`` (when not None) and counting it on ``bar``."""
    for batch in batches:
        lo, hi = max(batch.start, frame_rows.start), min(batch.stop, frame_rows.stop)
        if stats is not None and lo < hi:
            stats.update(batch.patches[lo - batch.start : hi - batch.start])
        if patch is not None:
            labels = {key: getattr(dataset, key)[batch.start : batch.stop] for key in ("Y_I", "Y_phi")}
            for key, rows in labels.items():
                found = f"NaN or infinity in rows {batch.start}..{batch.stop - 1}"
                expect(bool(np.isfinite(rows).all()), dataset.path, key, "finite values", found)
            patch.update(batch.start, batch.patches, labels["Y_I"], labels["Y_phi"])
        yield batch
        bar.update(len(batch.patches))
