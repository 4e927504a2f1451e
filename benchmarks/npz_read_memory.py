"""Memory and time of reading a per-patch NPZ member batch by batch, against ``np.load`` in the same run.

One ``(2178, 64, 64, 1)`` float32 member (34 MiB, the test ``diffraction`` of a default N=64
file) is written twice, stored (``np.savez``) and deflated (``np.savez_compressed``). Each file
is read in batches of ``--batch-size`` rows two ways, every row summed once (in float64, without
a float64 copy of the batch):

- ``ptychostitch``: :func:`ptychostitch.data.open_npz` and
  :func:`ptychostitch.data.streamed.iter_row_batches` (a memory map for the stored member, one
  decompression pass for the deflated one);
- ``np.load``: ``np.load(path)[key]``, which reads the whole member first (the baseline).

The peak is ``tracemalloc``'s (Python-side allocations: a memory map's pages are not counted,
they belong to the page cache). Times are the best of ``--repeats``.

Usage: ``python benchmarks/npz_read_memory.py [--rows 2178] [--batch-size 256] [--repeats 3]``.
Results: ``docs/performance.md#reading-npz-files``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Callable

import numpy as np

from ptychostitch.data import open_npz
from ptychostitch.data.streamed import iter_row_batches

KEY = "diffraction"


def _ours(path: Path, batch_size: int) -> float:
    total = 0.0
    for _, rows in iter_row_batches(open_npz(path).array(KEY), batch_size):
        total += float(np.sum(rows, dtype=np.float64))
    return total


def _baseline(path: Path, batch_size: int) -> float:
    with np.load(path, allow_pickle=False) as data:
        whole = data[KEY]
    total = 0.0
    for first in range(0, len(whole), batch_size):
        total += float(np.sum(whole[first : first + batch_size], dtype=np.float64))
    return total


def _measure(read: Callable[[Path, int], float], path: Path, batch_size: int, repeats: int) -> tuple[float, float, float]:
    """(peak MiB, best seconds, checksum) of ``read`` on ``path``."""
    tracemalloc.start()
    checksum = read(path, batch_size)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        read(path, batch_size)
        best = min(best, time.perf_counter() - start)
    return peak, best, checksum


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2178)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    member = rng.random((args.rows, 64, 64, 1), dtype=np.float32)
    print(f"member {member.shape} float32, {member.nbytes / 2**20:.1f} MiB, batches of {args.batch_size} rows")
    print(f"{'file':<12} {'reader':<13} {'peak MiB':>9} {'best s':>8}")
    with tempfile.TemporaryDirectory() as scratch:
        for name, save in (("stored", np.savez), ("compressed", np.savez_compressed)):
            path = Path(scratch) / f"{name}.npz"
            save(path, **{KEY: member})
            ours = _measure(_ours, path, args.batch_size, args.repeats)
            base = _measure(_baseline, path, args.batch_size, args.repeats)
            assert ours[2] == base[2], "both readers must see the same rows"
            for reader, (peak, best, _) in (("ptychostitch", ours), ("np.load", base)):
                print(f"{name:<12} {reader:<13} {peak:>9.2f} {best:>8.3f}")
            print(f"{name:<12} ratio         {ours[0] / base[0]:>9.3f} {ours[1] / base[1]:>8.2f}   (ptychostitch / np.load)")


if __name__ == "__main__":
    main()
