"""What the embedded dataset's cache saves, and what validation before any work costs.

- ``simulate`` vs ``reuse``: :func:`~ptychostitch.runner.dataset_cache.cached_dataset` for the
  embedded default dataset (seed 0) into an empty cache, then again (the reuse verifies both
  files' SHA-256, which ``run.json`` records anyway); the ratio is reuse / simulate.
- ``refused`` vs ``import torch``: ``ptychostitch run --stitcher no-such`` with the embedded
  default (exit 2 after validating, nothing simulated) against ``python -c "import torch"``,
  each the best of three fresh processes; the ratio says how much of the refusal is torch's
  import, which ``run`` needs anyway.

Usage: ``python benchmarks/dataset_cache.py [--workdir DIR]`` (the cache is deleted afterwards).
Results: ``docs/performance.md#embedded-dataset-cache``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ptychostitch.runner.dataset_cache import CACHE_ENV, cached_dataset
from ptychostitch.runner.defaults import EMBEDDED_DATASET


def _best_wall(command: list[str], env: dict[str, str], repeats: int = 3) -> tuple[float, int]:
    """Best wall seconds of ``command`` over ``repeats`` fresh processes, and its last exit status."""
    best, status = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        status = subprocess.run(command, env=env, capture_output=True).returncode
        best = min(best, time.perf_counter() - start)
    return best, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ptychostitch-cache-", dir=args.workdir))
    try:
        print(f"load average at the start: {os.getloadavg()[0]:.1f}")
        config = dataclasses.replace(EMBEDDED_DATASET, seed=0)
        start = time.perf_counter()
        first = cached_dataset(config, root=root / "cache")
        simulate_s = time.perf_counter() - start
        start = time.perf_counter()
        again = cached_dataset(config, root=root / "cache")
        reuse_s = time.perf_counter() - start
        assert first.simulated and not again.simulated
        size = sum(record["size_bytes"] for record in again.inputs.values()) / 1e6
        print(f"  simulate   {simulate_s:6.2f} s  ({size:.0f} MB)")
        print(f"  reuse      {reuse_s:6.2f} s  ratio reuse/simulate {reuse_s / simulate_s:.3f}")

        env = {**os.environ, CACHE_ENV: str(root / "empty-cache")}
        torch_s, _ = _best_wall([sys.executable, "-c", "import torch"], env)
        refused_s, status = _best_wall([sys.executable, "-m", "ptychostitch", "run", "--stitcher", "no-such", "--output-dir", str(root / "out")], env)
        assert status == 2 and not (root / "out").exists()
        print(f"  import torch          {torch_s:6.2f} s")
        print(f"  run --stitcher no-such {refused_s:5.2f} s  ratio to import torch {refused_s / torch_s:.2f} (exit {status}, nothing written)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
