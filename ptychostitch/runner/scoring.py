"""The shared tail of ``run`` and ``evaluate``: patch stream -> stitcher (+ patch metrics) -> metrics.

Patch metrics ride along the one pass over the patch stream: each batch is scored against the
matching rows of ``Y_I``/``Y_phi`` before the stitcher consumes it, so no patch is read twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
from tqdm import tqdm

from ptychostitch.data import GridLinesDataset
from ptychostitch.data.gridlines import expect
from ptychostitch.metrics import ExtraMetrics, PatchMetrics, PatchMetricsResult, ReconstructionMetrics, eval_reconstruction, extra_metrics
from ptychostitch.simulate.probe import normalise
from ptychostitch.stitchers import PatchBatch, Selection, StitchContext, StitchResult, guard

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
    """

    result: StitchResult
    stitched: ReconstructionMetrics | None
    extras: ExtraMetrics | None
    patch: PatchMetricsResult | None


def simulation_probe(dataset: GridLinesDataset) -> np.ndarray | None:
    """``P_sim``: the stored ``probe_simulated``, else ``probeGuess`` normalised as the simulator does."""
    if dataset.probe_simulated is not None:
        return dataset.probe_simulated
    if dataset.probeGuess is not None:
        return normalise(dataset.probeGuess)[0]
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
    with tqdm(total=context.n_rows, unit="row", desc=f"predict + stitch ({name})", disable=quiet()) as bar:
        result = guard.stitch(selection.stitcher, context, scored(batches, dataset, patch, bar))
    return score(dataset, result, patch.result() if patch is not None else None)


def quiet() -> bool:
    """Whether progress bars are off (``-q``: the ``ptychostitch`` logger is above INFO)."""
    return not logging.getLogger("ptychostitch").isEnabledFor(logging.INFO)


def patch_accumulator(dataset: GridLinesDataset, first_row: int = 0, *, warn: bool = True) -> PatchMetrics | None:
    """The patch-metrics accumulator of ``dataset``'s rows from ``first_row``; None (with a warning) without a probe."""
    probe = simulation_probe(dataset)
    if probe is None:
        if warn:
            log.warning("%s: no probe, so patch metrics are skipped", dataset.path)
        return None
    return PatchMetrics(probe, first_row=first_row)


def score(dataset: GridLinesDataset, result: StitchResult, patch: PatchMetricsResult | None) -> Scores:
    """Score a stitched object against the ground truth of ``dataset``."""
    stitched = extras = None
    if dataset.YY_ground_truth is None:
        log.warning("%s: no ground truth (YY_ground_truth), so only patch metrics are computed", dataset.path)
    else:
        stitched = eval_reconstruction(result.object, dataset.YY_ground_truth, coverage=result.coverage)
        extras = extra_metrics(result.object, dataset.YY_ground_truth, coverage=result.coverage)
    return Scores(result, stitched, extras, patch)


def scored(
    batches: Iterable[PatchBatch], dataset: GridLinesDataset, patch: PatchMetrics | None, bar: tqdm
) -> Iterator[PatchBatch]:
    """Pass ``batches`` on, scoring each against its labels in ``patch`` first (when not None) and counting it on ``bar``."""
    for batch in batches:
        if patch is not None:
            labels = {key: getattr(dataset, key)[batch.start : batch.stop] for key in ("Y_I", "Y_phi")}
            for key, rows in labels.items():
                found = f"NaN or infinity in rows {batch.start}..{batch.stop - 1}"
                expect(bool(np.isfinite(rows).all()), dataset.path, key, "finite values", found)
            patch.update(batch.start, batch.patches, labels["Y_I"], labels["Y_phi"])
        yield batch
        bar.update(len(batch.patches))
