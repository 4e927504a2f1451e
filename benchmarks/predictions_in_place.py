"""Writing ``predictions.npz`` in place as the ranks of a distributed ``run`` do, against the one-process streamed writer.

The baseline streams every batch through :class:`~ptychostitch.data.predictions.PredictionsWriter`
(what one process does). The in-place path is rank 0's ``presized_npz`` (zero-filled member),
then each of ``--ranks`` writers' contiguous rows through ``np.memmap``, batch by batch, then
``seal_npz`` (the checksum); the writers run one after another here, so the ratio is the total
file work, not a parallel wall time. Both files are checked equal. Prints seconds and the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ptychostitch.data.npz_writer import presized_npz, seal_npz
from ptychostitch.data.predictions import PATCHES_KEY, PredictionsWriter
from ptychostitch.patch_stream import PatchBatch


def _streamed(path: Path, pool: np.ndarray, n_rows: int, batch_size: int) -> float:
    start = time.perf_counter()
    with PredictionsWriter(path, n_rows, pool.shape[1], pool.shape[3]) as writer:
        for _ in writer.tee(PatchBatch(a, pool[: min(batch_size, n_rows - a)]) for a in range(0, n_rows, batch_size)):
            pass
    return time.perf_counter() - start


def _in_place(path: Path, pool: np.ndarray, n_rows: int, batch_size: int, ranks: int) -> float:
    start = time.perf_counter()
    shape = (n_rows, *pool.shape[1:])
    offset = presized_npz(path, PATCHES_KEY, shape, np.dtype(np.complex64))
    starts = list(range(0, n_rows, batch_size))
    for block in np.array_split(np.array(starts), ranks):
        rows = np.memmap(path, dtype=np.complex64, mode="r+", offset=offset, shape=shape)
        for a in block:
            rows[a:a + batch_size] = pool[: min(batch_size, n_rows - a)]
        rows.flush()
        del rows
    seal_npz(path)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pool = (rng.normal(size=(args.batch_size, 64, 64, 1)) + 1j * rng.normal(size=(args.batch_size, 64, 64, 1))).astype(np.complex64)
    print(f"patches ({args.rows}, 64, 64, 1) complex64, {args.rows * pool[0].nbytes / 2**20:.0f} MiB, batches of {args.batch_size}, "
          f"{args.ranks} writers in place")
    with tempfile.TemporaryDirectory() as scratch:
        one, many = Path(scratch) / "one.npz", Path(scratch) / "many.npz"
        streamed = min(_streamed(one, pool, args.rows, args.batch_size) for _ in range(args.repeats))
        in_place = min(_in_place(many, pool, args.rows, args.batch_size, args.ranks) for _ in range(args.repeats))
        with np.load(one) as a, np.load(many) as b:
            assert np.array_equal(a[PATCHES_KEY], b[PATCHES_KEY]), "both writers must store the same patches"
    print(f"streamed (one process) {streamed:.3f} s; in place {in_place:.3f} s; ratio {in_place / streamed:.2f} (in place / streamed)")


if __name__ == "__main__":
    main()
