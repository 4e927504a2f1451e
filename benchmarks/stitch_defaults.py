"""How patches should be combined: the stitching default against its alternatives, scored by stitched SSIM.

For every installed stitcher that places patches by position (the built-ins and plugins such as
the example ``median``), with an ideal-disk and a Gaussian probe, two kinds of patches are
stitched under four combinations of weighting and crop:

- patches: ``zero-border`` (the true patches set to 0 outside their central N/2, the best a
  PtychoPINN-style decoder can output), the same with two stand-ins for a model's errors (which
  differ between overlapping patches): ``+ even noise``, independent complex Gaussian noise of
  5 % of the mean amplitude on every kept pixel, and ``+ noise ~ 1/|P|``, that noise scaled by
  ``max|P| / |P|`` (capped at 10), larger where the probe lights the object less and the
  diffraction says less about it; and ``full`` (the true patches);
- options: (a) today's default, ``|probe|^2`` weights over the central N//2 crop; (b) uniform
  weights over the whole patch; (c) ``|probe|^2`` weights over the whole patch; (d) uniform
  weights over the central N//2 crop.

Each stitched object is scored with :func:`ptychostitch.metrics.eval_reconstruction` against the
true object over the covered window (PtychoPINN's definitions); the table gives amplitude /
phase SSIM. The baseline measured in the same run is the full true patches under (a), which must
give 1.000 / 1.000. With ``--test-npz`` and ``--predictions`` (for example a run's ``test.npz``
and ``predictions.npz``) the same four options are measured on those predictions instead.
A stitcher that cannot run with some options (its capability check says why) shows ``n/a``;
an object the metrics refuse (amplitude 0 everywhere) shows ``unscorable``.
Results: ``docs/metrics.md#the-stitching-default``.

Usage: ``python benchmarks/stitch_defaults.py [--test-npz T --predictions P]``
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from ptychostitch.data import GridLinesDataset, load_gridlines, read_predictions
from ptychostitch.errors import InputError
from ptychostitch.metrics import eval_reconstruction
from ptychostitch.runner.context import stitch_context
from ptychostitch.simulate.probe import ideal_disk
from ptychostitch.stitchers import PatchBatch, StitchOptions, available, guard, select
from ptychostitch.testing.files import gaussian_probe, write_grid_file, write_npz, zero_border

N = 32
"""Patch side of the synthetic case (ground truth 104 x 104, 625 patches per object at a 4 px step)."""

OPTIONS = {
    "(a) probe, N//2 crop (default)": ("probe", N // 2),
    "(b) uniform, whole patch": ("uniform", None),
    "(c) probe, whole patch": ("probe", None),
    "(d) uniform, N//2 crop": ("uniform", N // 2),
}
PROBES = {"disk": ideal_disk, "gaussian": gaussian_probe}



def noisy(patches: np.ndarray, scale: np.ndarray, seed: int = 0) -> np.ndarray:
    """``patches`` plus complex Gaussian noise of std ``5 % * mean amplitude * scale`` (``scale`` (N, N)) where they are not 0."""
    rng = np.random.default_rng(seed)
    sigma = 0.05 * float(np.mean(np.abs(patches[patches != 0]))) * scale[None, :, :, None]
    noise = sigma * (rng.normal(size=patches.shape) + 1j * rng.normal(size=patches.shape)) / np.sqrt(2)
    return np.where(patches != 0, patches + noise, 0).astype(np.complex64)


def illumination_scale(probe: np.ndarray, cap: float = 10.0) -> np.ndarray:
    """``max|P| / |P|``, capped at ``cap`` (also where ``|P| = 0``)."""
    amplitude = np.abs(probe).astype(np.float64)
    return np.minimum(cap, amplitude.max() / np.maximum(amplitude, amplitude.max() / cap))


def batches(patches: np.ndarray, size: int = 128) -> Iterable[PatchBatch]:
    """``patches`` in row order, ``size`` rows at a time."""
    for start in range(0, len(patches), size):
        yield PatchBatch(start, patches[start : start + size])


NOTES: dict[str, int] = {}
"""Why a cell holds no number: message -> footnote number."""


def note(label: str, exc: Exception) -> str:
    """``label [k]``, ``k`` the footnote of ``exc``'s message."""
    number = NOTES.setdefault(str(exc), len(NOTES) + 1)
    return f"{label} [{number}]"


def score(dataset: GridLinesDataset, name: str, weighting: str, crop: int | None, stream: Iterable[PatchBatch]) -> str:
    """``"amp / phase"`` stitched SSIM of ``stream`` stitched by ``name`` with these options, or ``n/a`` and why."""
    try:
        context = stitch_context(dataset, StitchOptions(weighting=weighting, crop=crop))
        selection = select(context, name)
    except InputError as exc:
        return note("n/a", exc)
    result = guard.stitch(selection.stitcher, context, stream)
    try:
        metrics = eval_reconstruction(result.object, dataset.YY_ground_truth, coverage=result.coverage)
    except InputError as exc:  # an object that cannot be scored, e.g. amplitude 0 everywhere
        return note("unscorable", exc)
    return f"{metrics['ssim'][0]:.3f} / {metrics['ssim'][1]:.3f}"


def position_stitchers(dataset: GridLinesDataset) -> list[str]:
    """Installed stitchers that can run on ``dataset`` under the default options, by priority."""
    context = stitch_context(dataset, StitchOptions(weighting="probe", crop=dataset.N // 2))
    names = [name for name, stitcher in available().items() if stitcher.capability(context)]
    return sorted(names, key=lambda name: -available()[name].priority)


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def synthetic(folder: Path) -> list[tuple[str, ...]]:
    """The table rows of the synthetic grid-lines case, with both probes and both kinds of patches."""
    written = write_grid_file(folder / "base.npz", N=N, size=128, offset=4, outer_offset=8)
    rows = []
    for probe_name, make_probe in PROBES.items():
        arrays = dict(written.arrays)
        arrays["probeGuess"] = make_probe(N).astype(np.complex64)
        dataset = load_gridlines(write_npz(folder / f"{probe_name}.npz", arrays))
        for name in position_stitchers(dataset):
            kept = zero_border(written.true_patches)
            kinds = {
                "zero-border": kept,
                "zero-border + even noise": noisy(kept, np.ones((N, N))),
                "zero-border + noise ~ 1/abs(P)": noisy(kept, illumination_scale(dataset.probeGuess)),
                "full": written.true_patches,
            }
            for kind, patches in kinds.items():
                cells = [score(dataset, name, weighting, crop, batches(patches)) for weighting, crop in OPTIONS.values()]
                rows.append((name, probe_name, kind, *cells))
    return rows


def from_files(test_npz: Path, predictions: Path) -> list[tuple[str, ...]]:
    """The table rows of predictions made elsewhere (a run's ``predictions.npz``), one per stitcher."""
    dataset = load_gridlines(test_npz)
    rows = []
    for name in position_stitchers(dataset):
        n = dataset.N
        cells = [
            score(dataset, name, weighting, n // 2 if crop is not None else None, read_predictions(predictions, dataset))
            for weighting, crop in OPTIONS.values()
        ]
        rows.append((name, "probeGuess", predictions.name, *cells))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-npz", type=Path, help="a test split (with --predictions)")
    parser.add_argument("--predictions", type=Path, help="predicted patches for it, in evaluate's format")
    args = parser.parse_args()
    if (args.test_npz is None) != (args.predictions is None):
        parser.error("--test-npz and --predictions go together")
    logging.basicConfig(level=logging.ERROR)
    start = time.perf_counter()
    if args.test_npz is not None:
        rows = from_files(args.test_npz, args.predictions)
    else:
        with tempfile.TemporaryDirectory(prefix="ptychostitch-stitch-defaults-") as folder:
            rows = synthetic(Path(folder))
    elapsed = time.perf_counter() - start
    print(table(rows, ("stitcher", "probe", "patches", *OPTIONS)))
    for message, number in NOTES.items():
        print(f"\n[{number}] {message}")
    print(f"\nstitched SSIM amplitude / phase over the covered window; {elapsed:.1f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
