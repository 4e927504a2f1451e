"""Where data meets stitchers: a test split becomes the :class:`~ptychostitch.stitchers.StitchContext` a stitcher is given."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ptychostitch.data import GridLinesDataset
from ptychostitch.errors import InputError, quoted
from ptychostitch.geometry import crop_window
from ptychostitch.runner.defaults import STITCH_OPTIONS, StitchChoice
from ptychostitch.simulate import SimulationConfig
from ptychostitch.simulate.probe import build_probe
from ptychostitch.stitchers import Selection, StitchContext, StitchOptions, select


def stitch_options(dataset: GridLinesDataset, choice: StitchChoice = STITCH_OPTIONS) -> StitchOptions:
    """The one place a :class:`StitchChoice` becomes the options a stitcher is given, for ``dataset``."""
    return choice.resolve(dataset.N, dataset.probeGuess is not None)


def stitch_context(dataset: GridLinesDataset, options: StitchOptions | None = None) -> StitchContext:
    """What a stitcher needs to know about the test split ``dataset``; ``options`` default to :func:`stitch_options`.

    Raises
    ------
    InputError
        For a train split (its rows are shuffled, so no row has a known position), when
        nothing defines the ground-truth frame, or when probe weights would be non-finite or 0
        over the whole kept window (:func:`check_probe_weights`).
    """
    if dataset.split != "test":
        raise InputError(f"{quoted(dataset.path)}: the {dataset.split} split cannot be stitched (its rows are shuffled); use the test split")
    if dataset.frame_shape is None:
        raise InputError(
            f"{quoted(dataset.path)}: cannot define the ground-truth frame: expected YY_ground_truth, YY_full or grid metadata "
            f"(additional_parameters.outer_offset_test, nimgs_test), found none"
        )
    options = options or stitch_options(dataset)
    context = StitchContext(
        N=dataset.N,
        gridsize=dataset.gridsize,
        n_rows=dataset.n_rows,
        frame_shape=dataset.frame_shape,
        frame_rows=dataset.frame_rows,
        positions=dataset.positions,
        grid=dataset.grid,
        probe=dataset.probeGuess,
        norm_Y_I=dataset.norm_Y_I,
        options=options,
    )
    check_probe_weights(context, dataset.path)
    return context


def pixel_weights(context: StitchContext) -> np.ndarray:
    """The weight a stitcher of overlapping patches gives each pixel of a patch, ``(N, N)`` float64: 0 outside the kept crop, 1 or ``|probe|**2`` inside.

    What a stitcher without its own ``pixel_weights`` (docs/plugins.md) is taken to apply.
    """
    start, side = crop_window(context.N, context.options.crop)
    weights = np.zeros((context.N, context.N))
    kept = (slice(start, start + side), slice(start, start + side))
    weights[kept] = np.abs(np.asarray(context.probe)[kept]) ** 2 if context.options.weighting == "probe" and context.probe is not None else 1.0
    return weights


def check_probe_weights(context: StitchContext, path: str | os.PathLike[str]) -> None:
    """With probe weighting, the weights :func:`pixel_weights` of ``context`` must be finite in float32 and not all 0.

    The stitchers compute these weights in float32, so a probe (``probeGuess`` of the file
    ``path``) that is finite but whose square overflows, or one that is 0 (or underflows) over
    the whole kept window, would give NaN or no coverage at all; both are refused here, before
    any stitching, naming the file and the key.

    Raises
    ------
    InputError
        ``'FILE': key 'probeGuess': expected ..., found ...``.
    """
    if context.options.weighting != "probe" or context.probe is None:
        return
    _, side = crop_window(context.N, context.options.crop)
    with np.errstate(over="ignore"):
        weights = pixel_weights(context).astype(np.float32)
    window = "the whole patch" if context.options.crop is None else f"the central {side}x{side} crop"
    where = f"{quoted(path)}: key 'probeGuess'"
    bad = int(np.count_nonzero(~np.isfinite(weights)))
    if bad:
        raise InputError(f"{where}: expected finite probe weights |probe|^2 (float32) over {window}, found {bad} that overflow")
    if not np.any(weights > 0):
        raise InputError(
            f"{where}: expected probe weights |probe|^2 > 0 somewhere in {window}, found 0 everywhere "
            "(use --stitch-weighting uniform or another --crop)"
        )


@dataclass(frozen=True)
class StitchPlan:
    """A test split ready for stitching: its context and the chosen stitcher."""

    context: StitchContext
    selection: Selection


def plan_stitch(dataset: GridLinesDataset, choice: StitchChoice, requested: str = "auto") -> StitchPlan:
    """Build the stitch context of the test split ``dataset`` (``choice`` resolved by :func:`stitch_options`) and select a stitcher.

    Raises
    ------
    InputError
        Nothing defines the frame, or no (or not the requested) stitcher can run.
    """
    context = stitch_context(dataset, stitch_options(dataset, choice))
    return StitchPlan(context, select(context, requested))


def simulated_context(config: SimulationConfig, choice: StitchChoice = STITCH_OPTIONS) -> StitchContext:
    """The stitch context the test split of ``config`` will have, known before it is simulated.

    It is what :func:`stitch_context` gives for the simulated file (the test grid, its
    positions in the ground-truth frame, the probe ``probeGuess``), except ``norm_Y_I``, which
    only the simulated objects fix (1 here; no stitcher's capability depends on it). ``run``
    selects its stitcher on it before simulating anything.
    """
    grid = config.test_layout
    probe = build_probe(config).guess
    positions = np.tile(grid.object_positions(), (grid.nimgs, 1, 1)) - float(grid.gt_origin)
    positions.flags.writeable = False
    return StitchContext(
        N=config.N,
        gridsize=config.gridsize,
        n_rows=grid.n_rows,
        frame_shape=grid.gt_shape,
        frame_rows=range(0, grid.rows_per_object),
        positions=positions,
        grid=grid,
        probe=probe,
        options=choice.resolve(config.N, probe is not None),
    )
