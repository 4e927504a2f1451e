"""Patches per second of the torch-mmap stitcher against three references, in one run.

References, each streaming the same patches from the same memory-mapped ``.npy`` file:

(a) ``shift-and-sum``: PtychoPINN's ``ptycho/tf_helper.py::reassemble_position`` /
    ``ptycho/tf_helper.py::shift_and_sum``: every patch, and a ones image, is zero-padded to
    the whole canvas (``P = N + 2·pad``, ``pad`` = the largest
    offset from the scan's centre of mass, made even), the whole padded canvas is translated
    bilinearly with zero fill (four weighted shifted copies, NumPy), and chunks of 32 are summed
    (fewer when two stacks of 32 padded canvases would pass 1 GiB); result = sum / (1e-9 + ones
    sum). It is the faster of this and the same translation done with torch ``affine_grid`` +
    ``grid_sample`` (PtychoPINN's torch ``Translation``; ``docs/torch-mmap.md``). Its cost grows
    with the canvas, so it is timed on the first patches of each scan (at least one chunk,
    about ``--slow-seconds``) and reported per patch.
(b) ``numpy-loop``: a plain NumPy loop over patches doing the four-corner bilinear splat with
    slice adds onto a complex canvas and a weight canvas, timed on each scan (patches visited
    in random order over a large canvas miss the caches, for the loop as for torch-mmap).
(c) ``read``: copying the patch bytes out of the mapping once (no stitching). Page caches cannot
    be dropped here, so the file is read once beforehand and the timed pass is a warm read.

Every method gets the same stream: ``PatchBatch`` views of 256 rows of the mapping (no copy).

Scans: ``grid`` is a square raster with a ``--step`` of whole pixels (grid-lines style: every
patch has the same sub-pixel offset, so torch-mmap uses integer placement); ``scattered`` puts
the same number of patches at uniformly random sub-pixel positions in the same frame, visited in
random order (per-patch bilinear footprints). torch-mmap runs with its compiled (numba)
kernels, and, in their own column, with the NumPy kernels used when numba is not installed.
Rates are steady-state: the best of ``--repeats`` runs in one process, so numba's one-time load
is not in them. Whole patches are stitched (no crop), uniform weights, CPU.

Run: ``python benchmarks/stitch_throughput.py`` (full table, several minutes) or with
``--sizes 1000 --N 64`` for a quick look.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from _common import PatchFile, Scan, best_time, free_disk_gb, grid_scan, scattered_scan, stream, write_patch_file

from ptychostitch.stitchers import StitchContext, get
from ptychostitch.stitchers.torch_mmap import TorchMmapStitcher, kernels

CHUNK = 32
CHUNK_BYTES = 1 << 30


def context(scan: Scan, count: int, n: int) -> StitchContext:
    return StitchContext(N=n, gridsize=1, n_rows=count, frame_shape=scan.frame, frame_rows=range(count), positions=scan.positions[:count])


def torch_mmap(patches: PatchFile, scan: Scan, count: int, n: int) -> np.ndarray:
    return TorchMmapStitcher().stitch(context(scan, count, n), stream(patches, count)).object


def read_only(patches: PatchFile, count: int) -> int:
    """Reference (c): copy every patch byte out of the mapping once."""
    return sum(len(np.array(batch.patches)) for batch in stream(patches, count))


def numpy_loop(patches: PatchFile, scan: Scan, count: int, n: int) -> np.ndarray:
    """Reference (b): per-patch four-corner splat with slice adds (every patch lies inside the frame)."""
    height, width = scan.frame
    values = np.zeros((height + 1, width + 1), np.complex64)
    weights = np.zeros((height + 1, width + 1), np.float32)
    corner = scan.positions[:count, 0] - (n - 1) / 2.0
    top = np.floor(corner).astype(np.int64)
    frac = corner - top
    for batch in stream(patches, count):
        for k, patch in enumerate(batch.patches[..., 0], start=batch.start):
            (y, x), (fy, fx) = top[k], frac[k]
            for dy, wy in ((0, 1 - fy), (1, fy)):
                for dx, wx in ((0, 1 - fx), (1, fx)):
                    w = np.float32(wy * wx)
                    values[y + dy : y + dy + n, x + dx : x + dx + n] += w * patch
                    weights[y + dy : y + dy + n, x + dx : x + dx + n] += w
    covered = weights > 0
    return np.where(covered, values / np.where(covered, weights, 1), 0)[:height, :width]


def loop_against_ours(patches: PatchFile, scan: Scan, count: int, n: int) -> tuple[float, float]:
    """Patches/s of (b) on ``scan``, and its max difference from torch-mmap relative to the largest value."""
    t0 = time.perf_counter()
    loop_obj = numpy_loop(patches, scan, count, n)
    rate = count / (time.perf_counter() - t0)
    ours = torch_mmap(patches, scan, count, n)
    return rate, float(np.abs(loop_obj - ours).max() / np.abs(ours).max())


def translate(canvas: np.ndarray, ty: float, tx: float, out: np.ndarray) -> None:
    """Add ``canvas`` (p, P, P) moved by ``(+ty, +tx)`` to ``out``: bilinear, zero fill (PtychoPINN ``T``)."""
    side = canvas.shape[-1]
    iy, ix = math.floor(ty), math.floor(tx)
    fy, fx = ty - iy, tx - ix
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            sy, sx = iy + dy, ix + dx
            dst = out[:, max(sy, 0) : side + min(sy, 0), max(sx, 0) : side + min(sx, 0)]
            dst += np.float32(wy * wx) * canvas[:, max(-sy, 0) : side - max(sy, 0), max(-sx, 0) : side - max(sx, 0)]


def shift_and_sum(patches: PatchFile, scan: Scan, count: int, n: int, seconds: float) -> tuple[float, int, int, np.ndarray, int]:
    """Reference (a). Returns (patches/s, canvas side P, chunk, canvas object so far, patches done)."""
    pos = scan.positions[:count, 0]
    adj = pos - pos.mean(axis=0)
    pad = math.ceil(np.abs(adj).max())
    pad += pad % 2
    side = n + 2 * pad
    chunk = max(1, min(CHUNK, CHUNK_BYTES // (side * side * 3 * 4 * 2)))
    total = np.zeros((3, side, side), np.float32)
    done = 0
    t0 = time.perf_counter()
    for batch in stream(patches, count, CHUNK):
        for a in range(0, len(batch.patches), chunk):
            part = batch.patches[a : a + chunk, :, :, 0]
            padded = np.zeros((len(part), 3, side, side), np.float32)
            padded[:, 0, pad : pad + n, pad : pad + n] = part.real
            padded[:, 1, pad : pad + n, pad : pad + n] = part.imag
            padded[:, 2, pad : pad + n, pad : pad + n] = 1.0
            moved = np.zeros_like(padded)
            for j, (ty, tx) in enumerate(adj[batch.start + a : batch.start + a + len(part)]):
                translate(padded[j], ty, tx, moved[j])
            total += moved.sum(axis=0)
            done += len(part)
        if time.perf_counter() - t0 > seconds:
            break
    rate = done / (time.perf_counter() - t0)
    obj = (total[0] + 1j * total[1]) / (1e-9 + total[2])
    return rate, side, chunk, obj, done


def check_shift_and_sum(obj: np.ndarray, patches: PatchFile, scan: Scan, done: int, n: int) -> float:
    """Max relative difference between (a) and torch-mmap on the same patches in (a)'s frame."""
    pos = scan.positions[:, 0]
    side = obj.shape[0]
    local = Scan((pos[:done] - pos.mean(axis=0) + (side - 1) / 2.0)[:, None, :], (side, side))
    ours = torch_mmap(patches, local, done, n)
    covered = np.abs(ours) > 0
    return float(np.abs(obj[covered] - ours[covered]).max() / np.abs(ours[covered]).max())


def other_stitchers(patches: PatchFile, scans: dict[str, Scan], count: int, n: int, names: list[str], reference: dict[str, float]) -> list[str]:
    """Rows for every other registered stitcher named in ``names`` that can run on the scans."""
    rows = []
    for name in names:
        stitcher = get(name)
        for kind, scan in scans.items():
            ctx = context(scan, count, n)
            verdict = stitcher.capability(ctx)
            if not verdict.ok:
                rows.append(f"| {n} | {count:,} | {name} | {kind} | cannot run: {verdict.reason} | |")
                continue
            seconds = best_time(lambda: stitcher.stitch(ctx, stream(patches, count)), 1)
            rows.append(f"| {n} | {count:,} | {name} | {kind} | {count / seconds:,.0f} | {reference[kind] * seconds / count:.2f}x |")
    return rows


def run(n: int, sizes: list[int], step: int, repeats: int, slow_seconds: float, workdir: Path, others: list[str]) -> list[str]:
    need = max(sizes) * n * n * 8 / 1e9
    if free_disk_gb(workdir) < need + 2:
        raise SystemExit(f"{workdir}: {free_disk_gb(workdir):.1f} GB free, the N={n} patch file needs {need:.1f} GB")
    path = workdir / f"patches-N{n}.npy"
    write_patch_file(path, max(sizes), n)
    patches = PatchFile(path)
    extra: list[str] = []
    try:
        read_only(patches, max(sizes))
        for count in sizes:
            grid = grid_scan(count, n, step)
            scattered = scattered_scan(count, n, grid.frame[0])
            t_read = best_time(lambda: read_only(patches, count), repeats)
            t_grid = best_time(lambda: torch_mmap(patches, grid, count, n), repeats)
            t_scat = best_time(lambda: torch_mmap(patches, scattered, count, n), repeats)
            with mock.patch.object(kernels, "compiled_kernels", lambda: None):
                t_grid_np = best_time(lambda: torch_mmap(patches, grid, count, n), 1)
                t_scat_np = best_time(lambda: torch_mmap(patches, scattered, count, n), 1)
            (r_loop, agree), (r_loop_scat, agree_scat) = (loop_against_ours(patches, scan, count, n) for scan in (grid, scattered))
            rate_a, side, chunk, obj_a, done = shift_and_sum(patches, grid, count, n, slow_seconds)
            agree_a = check_shift_and_sum(obj_a, patches, grid, done, n)
            r_read, r_grid, r_scat, r_grid_np, r_scat_np = (count / t for t in (t_read, t_grid, t_scat, t_grid_np, t_scat_np))
            print(
                f"| {n} | {count:,} | {grid.frame[0]}² | {r_grid:,.0f} / {r_scat:,.0f} | {r_grid_np:,.0f} / {r_scat_np:,.0f} "
                f"| {rate_a:,.0f} ({done}, P={side}, chunk {chunk}) | {r_loop:,.0f} / {r_loop_scat:,.0f} | {r_read:,.0f} "
                f"| {r_grid / rate_a:,.0f}x | {r_grid / r_loop:.1f}x / {r_scat / r_loop_scat:.1f}x "
                f"| {r_read / r_grid:.1f}x / {r_read / r_scat:.1f}x | {agree:.1e} / {agree_scat:.1e} / {agree_a:.1e} |",
                flush=True,
            )
            extra += other_stitchers(patches, {"grid": grid, "scattered": scattered}, count, n, others, {"grid": r_grid, "scattered": r_scat})
    finally:
        patches.close()
        path.unlink()
    return extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000, 50000])
    parser.add_argument("--step", type=int, default=10, help="grid step in pixels (default 10)")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats of torch-mmap and read; the best is kept")
    parser.add_argument("--slow-seconds", type=float, default=3.0, help="time budget of reference (a) per size")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--others", nargs="*", default=["tf-shift-sum"], help="other registered stitchers to time on the same scans")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads; patches/s, best of {args.repeats} (a: one pass)")
    print("| N | patches | frame | torch-mmap grid / scattered | NumPy kernels (no numba) grid / scattered | (a) shift-and-sum "
          "| (b) numpy loop grid / scattered | (c) read | grid/(a) | vs (b) grid / scattered | (c)/torch-mmap grid / scattered "
          "| rel. diff vs (b) grid / scattered / (a) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    extra: list[str] = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="ptychostitch-bench-") as tmp:
        for n in args.N:
            extra += run(n, args.sizes, args.step, args.repeats, args.slow_seconds, Path(tmp), args.others)
    if extra:
        print("\n| N | patches | stitcher | scan | patches/s | torch-mmap speed / this |")
        print("|---|---|---|---|---|---|")
        print("\n".join(extra))


if __name__ == "__main__":
    main()
