"""Peak resident memory of torch-mmap while stitching patches streamed from a memory-mapped file.

Writes ``--count`` patches of ``N x N`` complex64 (200,000 × 64² = 6.6 GB by default) to an
``.npy`` file in ``--workdir`` chunk by chunk, then stitches the first 20,000 and then all of
them, each in a fresh subprocess, and reports each subprocess's peak RSS (``VmHWM``). The scan
is the same fixed 2048² frame at random sub-pixel positions for both counts, so a streaming
stitcher should need the same memory for both: canvases scale with the frame, only a few bytes
of placement table per patch scale with the count.

Patches are read as ``PatchBatch`` copies of 256 rows out of a plain read-only ``mmap``; after
each batch the reader calls ``madvise(MADV_DONTNEED)`` on the pages it has read (see
``benchmarks/_common.py``). Pages of a file mapping that were touched count in RSS until they are
unmapped or released this way, so without it the whole 6.6 GB file would show up in RSS even
though the stitcher never holds more than one batch.

Run: ``python benchmarks/stitch_memory.py`` (needs about 7 GB free disk in ``--workdir``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import PatchFile, free_disk_gb, peak_rss_mb, scattered_scan, stream, write_patch_file

EXTENT = 2048
LIMIT_MB = 1500
SPREAD_MB = 150


def child(path: Path, count: int, n: int) -> None:
    """Stitch ``count`` patches from ``path``; print one JSON line with the peak RSS."""
    from ptychostitch.stitchers import StitchContext
    from ptychostitch.stitchers.torch_mmap import TorchMmapStitcher

    scan = scattered_scan(count, n, EXTENT)
    patches = PatchFile(path)
    ctx = StitchContext(N=n, gridsize=1, n_rows=count, frame_shape=scan.frame, frame_rows=range(count), positions=scan.positions)
    before = peak_rss_mb()
    t0 = time.perf_counter()
    result = TorchMmapStitcher().stitch(ctx, stream(patches, count))
    seconds = time.perf_counter() - t0
    covered = float((result.coverage > 0).mean())
    patches.close()
    print(json.dumps({"count": count, "peak_before_mb": before, "peak_mb": peak_rss_mb(), "seconds": seconds, "covered": covered}))


def measure(path: Path, count: int, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--count", str(count), "--N", str(n)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--N", type=int, default=64)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.count, args.N)
        return
    need = args.count * args.N**2 * 8 / 1e9
    free = free_disk_gb(args.workdir)
    print(f"patch file: {args.count:,} x {args.N}x{args.N} complex64 = {need:.2f} GB; {free:.1f} GB free in {args.workdir}")
    if free < need + 2:
        raise SystemExit(f"not enough disk in {args.workdir} for {need:.1f} GB of patches")
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="ptychostitch-mem-") as tmp:
        path = Path(tmp) / "patches.npy"
        t0 = time.perf_counter()
        write_patch_file(path, args.count, args.N)
        print(f"written in {time.perf_counter() - t0:.0f} s; frame {EXTENT}x{EXTENT}, scattered sub-pixel positions, uniform weights, CPU")
        rows = [measure(path, count, args.N) for count in (args.small, args.count)]
    print("| patches | peak RSS (MB) | peak RSS before stitching (MB) | stitch time (s) | patches/s | frame covered |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['count']:,} | {r['peak_mb']:.0f} | {r['peak_before_mb']:.0f} | {r['seconds']:.1f} | {r['count'] / r['seconds']:,.0f} | {r['covered']:.1%} |")
    small, large = rows
    spread = large["peak_mb"] - small["peak_mb"]
    print(f"peak at {large['count']:,}: {large['peak_mb']:.0f} MB (target < {LIMIT_MB} MB: {'met' if large['peak_mb'] < LIMIT_MB else 'MISSED'}); "
          f"{spread:+.0f} MB against {small['count']:,} (target within {SPREAD_MB} MB: {'met' if abs(spread) <= SPREAD_MB else 'MISSED'})")


if __name__ == "__main__":
    main()
