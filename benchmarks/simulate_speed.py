"""Speed and memory of ``ptychostitch simulate`` against its targets and in-run baselines.

Targets: the default N=64 configuration (gridsize 1, 2 + 2 objects of 392 px) in under 60 s;
the N=128 default configuration with peak RSS under 4 GB.

Each measurement runs in a fresh Python process (peak RSS = that process's ``ru_maxrss``):
- ``objects``: only draw the 2 + 2 lines objects (the floor any simulator pays);
- ``sim64`` / ``sim128``: the full simulation, streaming, default (uncompressed) files;
- ``whole64``: the naive alternative, every member of the N=64 dataset held in memory at once
  and written with ``np.savez_compressed`` (what PtychoPINN does).

Usage: ``python benchmarks/simulate_speed.py [--workdir DIR]`` (files are deleted afterwards).
Results: ``docs/performance.md#simulate``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIME_TARGET_S = 60.0
RSS_TARGET_MB = 4096.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _child(kind: str, workdir: Path) -> dict[str, float]:
    """Run one measurement in this process; return wall seconds and peak RSS."""
    import numpy as np

    from ptychostitch.simulate import SimulationConfig, dataset_paths, simulate
    from ptychostitch.simulate.objects import lines_object

    start = time.perf_counter()
    if kind == "objects":
        for seed, count in ((1, 2), (2, 2)):
            rng = np.random.RandomState(seed)
            for _ in range(count):
                lines_object(rng, 392)
    elif kind in ("sim64", "sim128"):
        simulate(SimulationConfig(N=64 if kind == "sim64" else 128, seed=0), workdir / kind)
    elif kind == "whole64":
        paths = dataset_paths(workdir / "sim64", 64, 1)
        for path in (paths.train, paths.test):
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            np.savez_compressed(workdir / f"whole_{path.name}", **arrays)
    else:
        raise SystemExit(f"unknown measurement {kind}")
    return {"wall_s": time.perf_counter() - start, "peak_rss_mb": _peak_rss_mb()}


def _measure(kind: str, workdir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--workdir", str(workdir)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.workdir)))
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        work = Path(scratch)
        results = {kind: _measure(kind, work) for kind in ("objects", "sim64", "whole64", "sim128")}
    objects, sim64, whole64, sim128 = (results[k] for k in ("objects", "sim64", "whole64", "sim128"))
    print("measurement                          wall s   peak RSS MB")
    for kind, label in (
        ("objects", "objects only (2+2, 392 px)"),
        ("sim64", "simulate N=64 gs1 (streaming)"),
        ("whole64", "N=64 held whole + savez_compressed"),
        ("sim128", "simulate N=128 gs1 (streaming)"),
    ):
        print(f"{label:<36} {results[kind]['wall_s']:>7.1f}   {results[kind]['peak_rss_mb']:>10.0f}")
    print()
    print(f"N=64 time:  {sim64['wall_s']:.1f} s = {sim64['wall_s'] / TIME_TARGET_S:.2f} x the {TIME_TARGET_S:.0f} s target; "
          f"{sim64['wall_s'] / objects['wall_s']:.1f} x the objects-only time")
    print(f"N=64 RSS:   {sim64['peak_rss_mb']:.0f} MB = {sim64['peak_rss_mb'] / whole64['peak_rss_mb']:.2f} x the whole-in-memory baseline")
    print(f"N=128 RSS:  {sim128['peak_rss_mb']:.0f} MB = {sim128['peak_rss_mb'] / RSS_TARGET_MB:.2f} x the {RSS_TARGET_MB:.0f} MB target")
    verdict = sim64["wall_s"] < TIME_TARGET_S and sim128["peak_rss_mb"] < RSS_TARGET_MB
    print("targets met" if verdict else "TARGETS MISSED")


if __name__ == "__main__":
    main()
