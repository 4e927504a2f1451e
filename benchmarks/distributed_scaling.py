"""Distributed scaling: ``run``'s predict+stitch under ``torchrun`` with 1 and 2 Gloo ranks, and the reduction against canvas size.

Part 1 simulates a test split large enough to matter (N = 64, gridsize 1; ``--stride`` sets the
scan density), trains a throw-away checkpoint on a tiny split, and times ``python -m ptychostitch
run --checkpoint CK --epochs 0`` three ways, each a fresh subprocess: one process with one thread
(a rank's share of the machine: the baseline), one process with the default threads, and
``torchrun --nproc-per-node 2`` (one thread per rank). It prints the ``predict+stitch`` stage time
of ``run.json`` (rank 0's: its shard, the reduction and the scoring) and the whole command's wall
time, as ratios to the baseline measured in the same run.

Part 2 launches this script under ``torchrun --nproc-per-node 2`` (``--reduce-worker``): each rank
starts a torch-mmap accumulator on an S x S frame and times its ``reduce()`` (one float64
``all_reduce(SUM)`` per plane, with the float32 <-> float64 copies) for S in ``--sizes``.

The load average at the start and end is printed: the machine is shared, and other jobs on the
two cores lower the ratio. Numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5


def _env(threads: int | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PTYCHOSTITCH_DIST_TIMEOUT": "600"}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    else:
        env.pop("OMP_NUM_THREADS", None)
    return env


def _launch(argv: list[str], threads: int | None, cwd: Path) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=_env(threads), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall


def _ptychostitch(ranks: int) -> list[str]:
    if ranks == 1:
        return [sys.executable, "-m", "ptychostitch"]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks), "-m", "ptychostitch"]


def _datasets(root: Path, stride: int) -> tuple[Path, Path, Path]:
    """(tiny train split, large test split, checkpoint trained 1 epoch on the tiny split)."""
    from ptychostitch.simulate import SimulationConfig, simulate

    tiny = simulate(SimulationConfig(N=64, size=128, outer_offset_train=16, outer_offset_test=32, nimgs_train=1, nimgs_test=1, seed=0), root / "tiny")
    large = simulate(SimulationConfig(N=64, size=392, outer_offset_train=64, outer_offset_test=2 * stride, nimgs_train=1, nimgs_test=1, seed=1),
                     root / "large")
    _launch([*_ptychostitch(1), "run", "-q", "--train-npz", str(tiny.train), "--test-npz", str(tiny.test), "--epochs", "1",
             "--no-save-predictions", "--output-dir", str(root / "trained")], None, root)
    return tiny.train, large.test, root / "trained" / "checkpoint.pt"


def scaling(stride: int) -> None:
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train, test, checkpoint = _datasets(root, stride)
        with np.load(test) as file:
            rows = len(file["diffraction"])
        print(f"test split: {rows} rows of 64x64 (stride {stride} px), checkpoint trained 1 epoch on a tiny split")
        common = ["run", "-q", "--train-npz", str(train), "--test-npz", str(test), "--checkpoint", str(checkpoint), "--epochs", "0",
                  "--no-save-predictions", "--stitcher", "torch-mmap", "--overwrite"]
        cases = [("1 process, 1 thread (baseline)", 1, 1), ("1 process, default threads", 1, None), ("torchrun, 2 ranks x 1 thread", 2, 1)]
        results = []
        for label, ranks, threads in cases:
            out = root / f"out-{ranks}-{threads}"
            wall = _launch([*_ptychostitch(ranks), *common, "--output-dir", str(out)], threads, root)
            stage = json.loads((out / "run.json").read_text())["timings_s"]["predict+stitch"]
            results.append((label, stage, wall))
        base_stage, base_wall = results[0][1], results[0][2]
        print(f"{'launch':34s} {'predict+stitch s':>17s} {'speed-up':>9s} {'command wall s':>15s} {'speed-up':>9s}")
        for label, stage, wall in results:
            print(f"{label:34s} {stage:17.2f} {base_stage / stage:8.2f}x {wall:15.2f} {base_wall / wall:8.2f}x")


def reduce_worker(sizes: list[int]) -> None:
    """Under torchrun: time a torch-mmap accumulator's reduce() on S x S frames (rank 0 prints)."""
    import torch.distributed as dist

    from ptychostitch.stitchers import get, live_context
    from ptychostitch.stitchers.accumulate import accumulator

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    for size in sizes:
        acc = accumulator(get("torch-mmap"), live_context((size, size), 64))  # what a sharded run reduces
        planes = sum(a.nbytes for a in acc.arrays())
        acc.reduce()  # warm-up (connections, allocator)
        times = []
        for _ in range(REPEATS):
            dist.barrier()
            began = time.perf_counter()
            acc.reduce()
            times.append(time.perf_counter() - began)
        if rank == 0:
            best = min(times)
            print(f"{size:5d}^2  canvas {planes / 2**20:8.1f} MiB float32  reduce best {best * 1e3:9.1f} ms  median "
                  f"{sorted(times)[len(times) // 2] * 1e3:9.1f} ms  ({planes / best / 2**30:5.2f} GiB/s of float32 canvas)")
        acc.close()
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stride", type=int, default=6, help="scan stride of the large test split, px (smaller: more rows)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096], help="canvas sides for the reduction")
    parser.add_argument("--skip-scaling", action="store_true", help="only the reduction")
    parser.add_argument("--reduce-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reduce_worker:
        reduce_worker(args.sizes)
        return
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    if not args.skip_scaling:
        scaling(args.stride)
    print(f"reduction, 2 Gloo ranks on this machine, {REPEATS} repeats after a warm-up:")
    worker = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(Path(__file__).resolve()),
              "--reduce-worker", "--sizes", *map(str, args.sizes)]
    done = subprocess.run(worker, env=_env(1), capture_output=True, text=True, check=False)
    print(done.stdout, end="")
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
