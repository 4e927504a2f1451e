"""Training on PtychoPINN's compressed files: shuffled epoch reads and a 2-epoch run, compressed against stored.

The embedded default dataset (N = 64, gridsize 1: 6,889 train rows, 1,089 test rows) is
simulated once, stored (``np.savez``, memory-mappable), and copied with ``np.savez_compressed``
(PtychoPINN's writer: every member deflated). Then, in the same run:

1. **epoch reads**: the train ``diffraction`` read as training reads it (contiguous batches of
   ``--batch-size`` rows, boundaries moved at random, order shuffled), every row once per epoch,
   for ``--epochs`` epochs, through :func:`ptychostitch.data.load_gridlines`; compressed epoch
   times as ratios to the stored ones. The first compressed epoch includes the one-time
   decompression into the cache (:mod:`ptychostitch.data.inflated`);
2. **one-time cost**: :func:`ptychostitch.data.inflated.inflate` of that member alone;
3. **before the cache**: one shuffled epoch over a file of the first ``--rows-before`` rows (each count)
   (written both ways), read the way every backward read was served before the cache existed
   (decompressing from the start of the member again: the streaming fallback of
   :class:`~ptychostitch.data.streamed.StreamedArray`) and with the cache, against the stored
   rows. The old way grows with the square of the row count, hence the smaller file;
4. **end to end**: ``run`` with ``--epochs`` epochs on each pair of files (a one-layer model,
   :func:`tiny_model`, so that reading, not the network, is what differs), best of
   ``--repeats``, alternating stored and compressed; the ratio of the whole run and of its
   train stage. Target: at most 1.5x end to end.

Usage: ``python benchmarks/compressed_train.py [--rows-before 500 1000 2000] [--batch-size 32] [--epochs 2] [--repeats 2]``.
Results: ``docs/performance.md#reading-npz-files``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ptychostitch.data import inflated, load_gridlines, open_npz
from ptychostitch.data.streamed import StreamedArray
from ptychostitch.runner.defaults import EMBEDDED_DATASET
from ptychostitch.runner.run import RunConfig, run
from ptychostitch.simulate import simulate

TARGET_RATIO = 1.5
KEY = "diffraction"


class _OneLayer(torch.nn.Module):
    """One 3x3 convolution to the real and imaginary parts of each channel's patch."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, 2 * channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        real, imag = self.conv(x).chunk(2, dim=1)
        return torch.complex(real, imag)


def tiny_model(N: int, gridsize: int) -> torch.nn.Module:
    """The ``--model compressed_train:tiny_model`` factory: a one-layer model (reading dominates its training)."""
    return _OneLayer(gridsize**2)


def shuffled_batches(n_rows: int, batch_size: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Contiguous ranges covering ``[0, n_rows)``, boundaries moved by a random offset, order shuffled (as training reads)."""
    offset = int(rng.integers(batch_size)) if n_rows > batch_size else 0
    edges = [0, *range(offset or batch_size, n_rows, batch_size), n_rows]
    ranges = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    return [ranges[i] for i in rng.permutation(len(ranges))]


def epoch_seconds(rows: object, n_rows: int, batch_size: int, epochs: int, seed: int = 0) -> list[float]:
    """Wall seconds of each shuffled epoch over rows ``[0, n_rows)`` of ``rows`` (every row summed once)."""
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        total = 0.0
        for a, b in shuffled_batches(n_rows, batch_size, rng):
            total += float(np.sum(rows[a:b], dtype=np.float64))
        times.append(time.perf_counter() - start)
    return times


def compressed_copy(path: Path, target: Path) -> Path:
    """``path`` rewritten by ``np.savez_compressed``, as PtychoPINN writes it."""
    with np.load(path, allow_pickle=False) as data:
        np.savez_compressed(target, **{key: data[key] for key in data.files})
    return target


def run_seconds(train: Path, test: Path, output: Path, epochs: int, batch_size: int) -> tuple[float, float, float]:
    """Wall seconds of the whole ``run`` on the pair and of its train stage, and the run's CPU seconds (all threads)."""
    config = RunConfig(
        train_npz=train, test_npz=test, output_dir=output, overwrite=True, epochs=epochs, batch_size=batch_size,
        model="compressed_train:tiny_model", device="cpu",
    )
    start, cpu = time.perf_counter(), time.process_time()
    folder, _ = run(config)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    return total, json.loads((folder / "run.json").read_text())["timings_s"]["train"], cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-before", type=int, nargs="+", default=[500, 1000, 2000], help="rows of the before-the-cache epochs (quadratic)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="end-to-end runs of each kind (the best of each is reported)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the files go (default: a temporary folder)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    with tempfile.TemporaryDirectory(prefix="ptychostitch-compressed-", dir=args.workdir) as tmp:
        root = Path(tmp)
        paths = simulate(replace(EMBEDDED_DATASET, seed=0), root / "stored", overwrite=True)
        stored = {"train": paths.train, "test": paths.test}
        began = time.perf_counter()
        packed = {name: compressed_copy(path, root / f"{name}-compressed.npz") for name, path in stored.items()}
        print(f"files: {stored['train'].stat().st_size / 1e6:.0f} MB stored, {packed['train'].stat().st_size / 1e6:.0f} MB "
              f"compressed (train; written in {time.perf_counter() - began:.1f} s); cache folder {inflated.cache_dir()}")

        stored_rows = load_gridlines(stored["train"], split="train").diffraction
        packed_rows = load_gridlines(packed["train"], split="train").diffraction
        n_rows = len(stored_rows)
        print(f"\n1. shuffled epoch reads of {KEY!r}: {n_rows} rows of {stored_rows.shape[1:]} "
              f"{stored_rows.dtype}, batches of {args.batch_size}")
        base = epoch_seconds(stored_rows, n_rows, args.batch_size, args.epochs)
        ours = epoch_seconds(packed_rows, n_rows, args.batch_size, args.epochs)
        assert isinstance(packed_rows, StreamedArray) and packed_rows.cached
        for epoch, (b, o) in enumerate(zip(base, ours), 1):
            print(f"  epoch {epoch}: stored {b:7.3f} s   compressed {o:7.3f} s   ratio {o / b:6.1f}"
                  + ("   (includes the one-time decompression)" if epoch == 1 else ""))

        info = open_npz(packed["train"]).info(KEY)
        start = time.perf_counter()
        inflated.inflate(packed["train"], info)
        once = time.perf_counter() - start
        print(f"\n2. one-time decompression of {info.nbytes / 1e6:.0f} MB: {once:.2f} s "
              f"({info.nbytes / 1e6 / once:.0f} MB/s; {once / base[0]:.0f}x one stored epoch)")

        print(f"\n3. one shuffled epoch over a {KEY!r} of the first R rows (written both ways)")
        for rows in sorted({min(r, n_rows) for r in args.rows_before}):
            small = {"stored": root / f"small-{rows}.npz", "compressed": root / f"small-{rows}-compressed.npz"}
            np.savez(small["stored"], **{KEY: stored_rows[:rows]})
            np.savez_compressed(small["compressed"], **{KEY: stored_rows[:rows]})
            before_rows = open_npz(small["compressed"]).array(KEY)
            before_rows._streaming_only = True  # every backward read decompresses from the start again, as before the cache
            before = epoch_seconds(before_rows, rows, args.batch_size, 1)[0]
            after = epoch_seconds(open_npz(small["compressed"]).array(KEY), rows, args.batch_size, 1)[0]
            stored_small = epoch_seconds(open_npz(small["stored"]).array(KEY), rows, args.batch_size, 1)[0]
            print(f"  R = {rows:5d}: stored {stored_small:.3f} s; compressed before the cache {before:6.2f} s (ratio "
                  f"{before / stored_small:4.0f}), with it {after:.3f} s (ratio {after / stored_small:4.1f}, the one-time "
                  f"decompression included)")

        print(f"\n4. run, {args.epochs} epochs, one-layer model, CPU, best of {args.repeats}")
        results: dict[str, list[tuple[float, float, float]]] = {"stored": [], "compressed": []}
        for repeat in range(args.repeats):
            for kind, pair in (("stored", stored), ("compressed", packed)):
                results[kind].append(run_seconds(pair["train"], pair["test"], root / f"run-{kind}-{repeat}", args.epochs, args.batch_size))
        best = {kind: [min(column) for column in zip(*r)] for kind, r in results.items()}
        for index, what in enumerate(("whole run (wall)", "train stage (wall)", "whole run (CPU)")):
            s, c = best["stored"][index], best["compressed"][index]
            target = f"   target <= {TARGET_RATIO}" if index == 0 else ""
            print(f"  {what:<19} stored {s:6.1f} s   compressed {c:6.1f} s   ratio {c / s:.2f}{target}")
    print(f"\nload average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
