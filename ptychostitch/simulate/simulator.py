"""``simulate()``: write a grid-lines train/test pair in PtychoPINN's schema, streaming.

Order of work (PtychoPINN's, ``docs/simulate.md#what-is-simulated``): build the probe; draw the
train objects (seed 1) and compute their ``norm_Y_I`` and the intensity scale; write
``train.npz``; draw the test objects (seed 2) and write ``test.npz``. Each per-row member is computed and written in chunks of rows,
so memory stays near one split's objects plus one chunk's intermediates.

The train rows are shuffled like PtychoPINN's (:func:`ptychostitch.geometry.train_row_order`); only that
index array is held, and each chunk computes the rows it needs from the objects (file row ``t``
holds object-major row ``perm[t]``). Unlike PtychoPINN, the train ``coords_nominal``/``coords_true``
are permuted too (their values repeat per object, so only the order of gridsize>1 channels could
tell). ``coords_offsets`` is written exactly as PtychoPINN writes it: position-major and unshuffled,
so PtychoPINN's tools read the same positions per row from our files as from theirs.

Both files are written under temporary names and renamed only when both are complete.
"""

from __future__ import annotations

import logging
import os
import secrets
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ptychostitch.atomic import atomic_path
from ptychostitch.data.npz_writer import NpzStreamWriter
from ptychostitch.errors import InputError, quoted
from ptychostitch.geometry import train_row_order
from ptychostitch.progress import progress
from ptychostitch.simulate.config import SimulationConfig
from ptychostitch.simulate.forward import diffract, intensity_scale, patch_energy
from ptychostitch.simulate.metadata import build_metadata, metadata_array
from ptychostitch.simulate.patches import channels_last
from ptychostitch.simulate.plan import PATCH_MEMBERS, Member, SplitPlan, plan
from ptychostitch.simulate.probe import Probe, build_probe
from ptychostitch.simulate.split import Split, make_split

log = logging.getLogger(__name__)

CHUNK_PIXELS = 2**21
"""Default chunk: this many patch pixels (rows * channels * N * N), about 16 MB per float64 copy."""

@dataclass(frozen=True)
class DatasetPaths:
    """Where a simulated dataset lives."""

    train: Path
    test: Path


def dataset_paths(output_dir: str | os.PathLike[str], N: int, gridsize: int) -> DatasetPaths:
    """``output_dir/datasets/N{N}/gs{gridsize}/{train,test}.npz`` (PtychoPINN's layout)."""
    folder = Path(output_dir) / "datasets" / f"N{N}" / f"gs{gridsize}"
    return DatasetPaths(train=folder / "train.npz", test=folder / "test.npz")


def simulate(
    config: SimulationConfig,
    output_dir: str | os.PathLike[str],
    overwrite: bool = False,
    *,
    chunk_rows: int | None = None,
) -> DatasetPaths:
    """Simulate and write a grid-lines dataset.

    Parameters
    ----------
    config : SimulationConfig
        What to simulate.
    output_dir : path-like
        Files go to ``output_dir/datasets/N{N}/gs{gridsize}/``.
    overwrite : bool
        Replace an existing dataset; otherwise an existing file is an :class:`InputError`.
    chunk_rows : int or None
        Rows computed at a time; None picks about ``CHUNK_PIXELS`` pixels. The output does not
        depend on it.

    Returns
    -------
    DatasetPaths
    """
    paths = dataset_paths(output_dir, config.N, config.gridsize)
    if not overwrite:
        for path in (paths.train, paths.test):
            if path.exists():
                raise InputError(f"{quoted(path)}: dataset exists already; pass --overwrite (overwrite=True) to replace it")
    plans = plan(config)
    probe = build_probe(config)
    seed = config.seed if config.seed is not None else secrets.randbits(63)
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    channels, n = config.gridsize**2, config.N
    rows_per_chunk = chunk_rows or max(1, CHUNK_PIXELS // (channels * n * n))
    log.info("probe: %s, pipeline %s, normaliser %.6g", config.probe, probe.pipeline, probe.normaliser)

    with ExitStack() as stack:
        tmp_train = stack.enter_context(atomic_path(paths.train))
        tmp_test = stack.enter_context(atomic_path(paths.test))

        train_plan = plans["train"]
        train = _make_split(config, train_plan)
        scale = _intensity_scale(config, train, probe, rows_per_chunk)
        meta = metadata_array(build_metadata(config, probe, seed=seed, intensity_scale=scale))
        log.info("train: norm_Y_I %.6g, intensity scale %.6g", train.norm_Y_I, scale)
        _write_split(
            tmp_train, train_plan, train, probe, scale, train_row_order(train_plan.layout.n_rows),
            train_rng, meta, rows_per_chunk, config.compress,
        )
        del train

        test_plan = plans["test"]
        test = _make_split(config, test_plan)
        log.info("test: norm_Y_I %.6g", test.norm_Y_I)
        _write_split(
            tmp_test, test_plan, test, probe, scale, np.arange(test_plan.layout.n_rows),
            test_rng, meta, rows_per_chunk, config.compress,
        )
    log.info("wrote %s and %s", paths.train, paths.test)
    return paths


def _progress(iterable: Iterable[Any], total: int, description: str, unit: str = "chunk") -> Iterator[Any]:
    """The progress of one step of the simulation, on this module's logger (:mod:`ptychostitch.progress`)."""
    return progress(iterable, log, description, total, unit)


def _chunks(order: np.ndarray, rows_per_chunk: int) -> list[np.ndarray]:
    return [order[i : i + rows_per_chunk] for i in range(0, len(order), rows_per_chunk)]


def _make_split(config: SimulationConfig, split_plan: SplitPlan) -> Split:
    layout = split_plan.layout
    log.info(
        "%s: %d objects of %d px, %d rows of %dx%dx%d (stride %d px)",
        split_plan.name, layout.nimgs, layout.size, layout.n_rows, layout.N, layout.N, layout.channels, layout.stride,
    )
    return make_split(
        layout, object_seed=split_plan.object_seed, set_phi=config.set_phi, progress=_progress, label=split_plan.name
    )


def _intensity_scale(config: SimulationConfig, train: Split, probe: Probe, rows_per_chunk: int) -> float:
    """``s_I`` from the mean noise-free energy of every train patch (``docs/simulate.md#4-diffraction-and-labels``)."""
    chunks = _chunks(np.arange(train.layout.n_rows), rows_per_chunk)
    total = 0.0
    for rows in _progress(chunks, len(chunks), "train intensity scale"):
        total += float(patch_energy(train.amplitude_patches(rows), probe.simulated).sum())
    return intensity_scale(config.nphotons, total / (train.layout.n_rows * train.layout.channels))


def _write_split(
    path: Path,
    split_plan: SplitPlan,
    split: Split,
    probe: Probe,
    scale: float,
    order: np.ndarray,
    rng: np.random.Generator,
    meta: np.ndarray,
    rows_per_chunk: int,
    compress: bool,
) -> None:
    """Write one split's members in the plan's order; per-row members in chunks of ``order``."""
    chunks = _chunks(order, rows_per_chunk)
    amplitude_of_probe = np.abs(probe.simulated).astype(np.float64)
    producers = {
        "diffraction": lambda rows: diffract(split.object_patches(rows), probe.simulated, scale, rng),
        "Y_I": lambda rows: (split.amplitude_patches(rows) * amplitude_of_probe).astype(np.float32),
        "Y_phi": split.phase_patches,
    }
    whole = {
        "coords_nominal": lambda: split.coords_nominal(order),
        "coords_true": lambda: split.coords_nominal(order),
        "coords_offsets": split.coords_offsets,
        "YY_full": split.full,
        "probeGuess": lambda: probe.guess,
        "probe_simulated": lambda: probe.simulated,
        "YY_ground_truth": split.ground_truth,
        "norm_Y_I": lambda: np.array(split.norm_Y_I, dtype=np.float64),
        "_metadata": lambda: meta,
    }
    with NpzStreamWriter(path, compress=compress) as out:
        for name, member in split_plan.members.items():
            if name in PATCH_MEMBERS:
                produce = producers[name]
                bar = _progress(chunks, len(chunks), f"{split_plan.name} {name}")
                out.write_chunks(name, member.shape, member.dtype, (channels_last(produce(rows)) for rows in bar))
            else:
                array = whole[name]()
                _check(name, member, array)
                out.write_array(name, array)


def _check(name: str, member: Member, array: np.ndarray) -> None:
    """Internal consistency: an in-memory member must match its plan."""
    same_kind = array.dtype == member.dtype or array.dtype.kind == member.dtype.kind == "U"
    if array.shape != member.shape or not same_kind:
        raise RuntimeError(f"{name}: produced {array.dtype}{array.shape}, planned {member.dtype}{member.shape}")
