"""What the prediction diagnostics cost per batch of patches, against one pass over the batch.

:class:`~ptychostitch.metrics.diagnostics.PredictionStatsAccumulator` looks at every patch of the
stream the runner stitches (the exactly-zero weight share, constancy). Timed on batches of 256
random complex64 patches of 64 x 64 (the default batch and patch size) with the weights of the
whole patch and of the default central 32 x 32 crop; the baseline measured in the same run is
``np.abs(batch).sum()``, one pass over the batch. Results: ``docs/performance.md#metrics``.

Usage: ``python benchmarks/diagnostics_speed.py``
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import numpy as np

from ptychostitch.geometry import crop_window
from ptychostitch.metrics.diagnostics import PredictionStatsAccumulator

N, BATCH, REPEATS = 64, 256, 21


def median_seconds(work: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    batch = (rng.normal(size=(BATCH, N, N, 1)) + 1j * rng.normal(size=(BATCH, N, N, 1))).astype(np.complex64)
    start, side = crop_window(N, N // 2)
    crop = np.zeros((N, N))
    crop[start : start + side, start : start + side] = 1.0
    baseline = median_seconds(lambda: np.abs(batch).sum())
    print(f"baseline np.abs(batch).sum(): {baseline * 1e3:.2f} ms per {BATCH} x {N} x {N} batch")
    for name, weights in (("whole patch", np.ones((N, N))), (f"central {side} x {side} crop", crop)):
        accumulator = PredictionStatsAccumulator(weights)
        seconds = median_seconds(lambda: accumulator.update(batch))
        print(f"update, {name}: {seconds * 1e3:.2f} ms, {seconds / baseline:.2f} x the baseline")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
