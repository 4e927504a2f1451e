"""The embedded default run, end to end: wall time per stage and stitched metrics against the targets.

Targets: the whole run within 300 s on a 2-core CPU; stitched SSIM >= 0.80
(amplitude) and >= 0.90 (phase). The baseline measured in the same run is the run's own
simulate stage, to show how the time divides. The embedded dataset comes from the dataset cache
when it holds it (the simulate stage is then the check of the cached files); ``--fresh-data``
simulates it again, as a first run does. Results: ``docs/performance.md#default-run``.

Usage: ``python benchmarks/quality.py [--seed S] [--output-dir DIR] [--fresh-data]``
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from ptychostitch.runner.run import RunConfig, run

TARGET_SECONDS = 300.0
TARGET_SSIM = (0.80, 0.90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--fresh-data", action="store_true", help="simulate the embedded dataset even when it is cached")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    root = args.output_dir or Path(tempfile.mkdtemp(prefix="ptychostitch-quality-"))
    start = time.perf_counter()
    output_dir, document = run(RunConfig(output_dir=root / "run", seed=args.seed, overwrite=True, fresh_data=args.fresh_data))
    total = time.perf_counter() - start
    record = json.loads((output_dir / "run.json").read_text())
    timings = record["timings_s"]
    ssim = document["stitched"]["ssim"]
    print(f"output: {output_dir} (dataset {'simulated' if record['datasets']['cache']['simulated_now'] else 'reused from the cache'})")
    for stage, seconds in timings.items():
        print(f"  {stage:<15} {seconds:8.1f} s")
    print(f"  {'total':<15} {total:8.1f} s   target <= {TARGET_SECONDS:.0f} s   ratio {total / TARGET_SECONDS:.2f}")
    for key in ("ssim", "ms_ssim", "mae", "psnr", "frc50"):
        amp, phase = document["stitched"][key]
        print(f"  stitched {key:<8} amplitude {amp:.4f}  phase {phase:.4f}")
    for part, value, target in zip(("amplitude", "phase"), ssim, TARGET_SSIM):
        print(f"  SSIM {part}: {value:.4f} vs target {target:.2f} -> {'met' if value >= target else 'NOT met'}")
    print(f"  stitcher: {document['stitcher']['name']}; patch: {document['patch']}")


if __name__ == "__main__":
    main()
