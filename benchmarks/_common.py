"""Shared pieces of the stitcher benchmarks: patch files on disk, scan layouts, streaming, timing.

Patch files are ``.npy`` arrays of shape (count, N, N, 1), complex64, filled by tiling a small
random pool (patch content does not change the cost of stitching). :func:`stream` maps them
with a plain read-only ``mmap`` and hands out :class:`~ptychostitch.stitchers.PatchBatch` views
of it (no copy); once the consumer asks for the next batch it calls ``madvise(MADV_DONTNEED)``
on the pages of the previous one, so they leave the process's resident set (they stay in the
kernel's page cache). Without that, every page of a memory-mapped file that was ever touched
counts in RSS until the mapping is closed.
"""

from __future__ import annotations

import math
import mmap
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptychostitch.stitchers import PatchBatch

POOL = 256
"""Distinct random patches tiled into a patch file."""


def write_patch_file(path: Path, count: int, n: int, seed: int = 0, chunk: int = 4096) -> None:
    """Write ``count`` patches (count, n, n, 1) complex64 to the ``.npy`` file ``path``, chunk by chunk."""
    rng = np.random.default_rng(seed)
    pool = (rng.normal(size=(POOL, n, n, 1)) + 1j * rng.normal(size=(POOL, n, n, 1))).astype(np.complex64)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.complex64, shape=(count, n, n, 1))
    for a in range(0, count, chunk):
        b = min(a + chunk, count)
        out[a:b] = pool[np.arange(a, b) % POOL]
    out.flush()
    del out


@dataclass
class PatchFile:
    """A read-only memory mapping of a patch ``.npy`` file."""

    path: Path

    def __post_init__(self) -> None:
        with open(self.path, "rb") as fh:
            major, _ = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(fh)
            self.offset = fh.tell()
        if fortran or dtype != np.complex64:
            raise ValueError(f"{self.path}: expected a C-ordered complex64 array, found {dtype} fortran={fortran}")
        self.shape = shape
        self._file = open(self.path, "rb")
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self.array = np.frombuffer(self._map, dtype=np.complex64, count=math.prod(shape), offset=self.offset).reshape(shape)
        self.row_bytes = self.array[0].nbytes

    def release(self, lo: int, hi: int) -> None:
        """Drop the pages of rows ``lo .. hi - 1`` from this process's resident set."""
        start = self.offset + lo * self.row_bytes
        stop = self.offset + hi * self.row_bytes
        start -= start % mmap.PAGESIZE
        self._map.madvise(mmap.MADV_DONTNEED, start, stop - start)

    def close(self) -> None:
        del self.array
        self._map.close()
        self._file.close()


def stream(patches: PatchFile, count: int, batch: int = 256) -> Iterator[PatchBatch]:
    """Rows ``0 .. count - 1`` as read-only views of the mapping, each released once consumed."""
    for a in range(0, count, batch):
        b = min(a + batch, count)
        yield PatchBatch(a, patches.array[a:b])
        patches.release(a, b)


@dataclass(frozen=True)
class Scan:
    """Positions (count, 1, 2) in a frame (H, W) that holds every patch whole."""

    positions: np.ndarray
    frame: tuple[int, int]


def grid_scan(count: int, n: int, step: int) -> Scan:
    """A square raster with an integer ``step`` (grid-lines style: whole-pixel top-lefts)."""
    side = math.ceil(math.sqrt(count))
    r, c = np.divmod(np.arange(count), side)
    positions = np.stack([r * step, c * step], axis=-1)[:, None, :] + (n - 1) / 2.0
    extent = (side - 1) * step + n
    return Scan(positions.astype(np.float64), (extent, extent))


def scattered_scan(count: int, n: int, extent: int, seed: int = 1) -> Scan:
    """Uniformly random sub-pixel positions; every patch lies inside an ``extent``-square frame."""
    rng = np.random.default_rng(seed)
    top_left = rng.uniform(0, extent - n - 1, size=(count, 1, 2))
    return Scan(top_left + (n - 1) / 2.0, (extent, extent))


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (``VmHWM``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmHWM not found in /proc/self/status")


def free_disk_gb(path: Path) -> float:
    """Free space on the file system holding ``path``, in GB."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize / 1e9
