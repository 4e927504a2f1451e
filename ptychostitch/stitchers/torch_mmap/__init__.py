"""``torch-mmap``: the streaming, frame-exact position stitcher (the seed's native PyTorch path).

Every pixel of every patch is splatted bilinearly onto a canvas in the ground-truth frame, and
its weight onto a coverage canvas; the object is ``Σ w·O / Σ w`` where covered and 0 elsewhere,
times ``norm_Y_I``. Patch pixel ``(a, b)`` of a patch at position ``(py, px)`` lands at
``(py - (N-1)/2 + a, px - (N-1)/2 + b)`` (:mod:`ptychostitch.geometry`); a crop ``M`` keeps
pixels ``(N-M)//2 .. (N-M)//2 + M - 1`` of each axis where they are (so with ``N - M`` even the
crop's centre sits on the position). Weights are 1 (``uniform``) or ``|probe|**2`` cropped the
same way (``probe``). Patch pixels outside the frame are clipped, never wrapped; a patch is
skipped only when none of its pixels reach the frame.

Streaming: the stitcher holds one batch of patches at a time plus the canvases (a few bytes per
frame pixel) and per-row placement tables (about 25 bytes per patch), never the whole stream.

Placement (see :mod:`ptychostitch.stitchers.splat`):

* **Shared fractions** (CPU, when at most :data:`MAX_SHARED_FRACTIONS` distinct sub-pixel
  offsets occur, e.g. any regular grid with a whole-pixel step): patches are added at their
  integer offsets into one canvas per fraction (no resampling), and each canvas is bilinearly
  shifted by its fraction once at the end. Bilinear shifting is linear, so this is the same sum
  as splatting every patch.
* **Per-patch footprints** (scattered sub-pixel positions, and always on CUDA): every patch is
  bilinearly shifted into its ``(M+1) x (M+1)`` footprint, which is added at its integer offset.

Kernels, all giving the same canvases bit for bit on a CPU:

* **Compiled** (CPU with numba installed, ``ptychostitch[fast]``;
  :mod:`~ptychostitch.stitchers.splat_numba`): one pass per patch, one thread per row band of
  the canvas (at most :data:`MAX_THREADS`). A pixel belongs to one band, so it still receives
  its adds in stream order.
* **NumPy** (CPU without numba): one slice add per patch (shared fractions), or a few patches at
  a time shifted into footprints that are then added one slice add each (2-7x slower in all).
  They run on the calling thread, not on torch's intra-op threads: those, woken for each of many
  mid-sized element-wise operations, made them up to 10x slower on a busy 2-core machine (and
  would compete with the model that produces the patches).
* **torch** (CUDA): footprints in large chunks, added with one ``index_add_`` per chunk.

Accumulation is float32: each canvas pixel receives one add per patch covering it, so its
relative rounding error is at most about ``depth × 6e-8`` (depth = patches overlapping a pixel;
typically ``sqrt(depth) × 6e-8``), well inside 1e-5 for any practical overlap, and float32
slice adds run twice as fast as float64 ones. On a CPU the result is deterministic (fixed
order of adds, independent of how the stream is batched); on CUDA the order of atomic adds
varies, so the last bits may vary.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import torch

from ptychostitch import hookimpl
from ptychostitch.errors import InputError
from ptychostitch.stitchers.contract import Capability, PatchBatch, StitchContext, StitchResult
from ptychostitch.stitchers.splat import add_blocks, box_sums, empty_like_shape, multiply, scatter_blocks, shift_planes

log = logging.getLogger(__name__)

MAX_THREADS = 4
"""The compiled kernels split the canvas into at most this many row bands, one thread each."""

MAX_SHARED_FRACTIONS = 4
"""At most this many distinct sub-pixel offsets get a canvas each (shared-fraction placement)."""

_FOOTPRINT_FLOATS = {"numpy": 1 << 16, "torch": 1 << 25}
"""Floats of footprint built per chunk: 256 KiB buffers stay in a CPU core's cache (1 MiB ones
ran 2.5x slower here at N=128); large chunks for torch kernels on an accelerator."""


class TorchMmapStitcher:
    """Bilinear position stitcher in the ground-truth frame; the preferred stitcher."""

    name = "torch-mmap"
    priority = 100

    def capability(self, context: StitchContext) -> Capability:
        opts = context.options
        shape = (context.n_rows, context.channels, 2)
        if context.positions is None:
            return Capability(False, "needs scan positions, and this dataset has none (no coordinates and no grid metadata to derive them from)")
        if np.shape(context.positions) != shape:
            return Capability(False, f"needs one (y, x) position per row and channel, shape {shape}, but positions have shape {np.shape(context.positions)}")
        if not np.all(np.isfinite(np.asarray(context.positions)[context.frame_rows.start : context.frame_rows.stop])):
            return Capability(False, "some positions of the ground-truth object's rows are NaN or infinite")
        if min(context.frame_shape) < 1:
            return Capability(False, f"the ground-truth frame {context.frame_shape} is empty")
        if opts.crop is not None and not 1 <= opts.crop <= context.N:
            return Capability(False, f"crop {opts.crop} must be between 1 and the patch size N={context.N}")
        if opts.weighting not in ("uniform", "probe"):
            return Capability(False, f"unknown weighting {opts.weighting!r}; use 'uniform' or 'probe'")
        if opts.weighting == "probe":
            if context.probe is None:
                return Capability(False, "probe weighting needs a probe, and this dataset has none (probeGuess)")
            if np.shape(context.probe) != (context.N, context.N):
                return Capability(False, f"probe weighting needs a {context.N}x{context.N} probe, found shape {np.shape(context.probe)}")
        if opts.device not in ("cpu", "cuda", "auto"):
            return Capability(False, f"unknown device {opts.device!r}; use 'cpu', 'cuda' or 'auto'")
        if opts.device == "cuda" and not torch.cuda.is_available():
            return Capability(False, "device 'cuda' was requested but torch sees no CUDA device (torch.cuda.is_available() is False)")
        crop = f", central {opts.crop}x{opts.crop} crop" if opts.crop is not None else ""
        return Capability(
            True,
            f"positions known for every row and channel (gridsize {context.gridsize}); "
            f"{opts.weighting} weights{crop}, on {_device(opts.device).type}",
        )

    def stitch(self, context: StitchContext, batches: Iterable[PatchBatch]) -> StitchResult:
        rows = context.frame_rows
        threads = _threads()
        with torch.inference_mode(), ThreadPoolExecutor(max_workers=threads, thread_name_prefix="torch-mmap") as pool:
            device = _device(context.options.device)
            plan = _Placement.build(context, device)
            canvas = _Canvas(plan, device, pool, threads)
            start, size = plan.crop_start, plan.size
            for batch in batches:
                _check_batch(batch, context)
                lo, hi = max(batch.start, rows.start), min(batch.stop, rows.stop)
                if lo >= hi:
                    continue
                crop = batch.patches[lo - batch.start : hi - batch.start, start : start + size, start : start + size]
                patches = np.ascontiguousarray(np.moveaxis(crop, -1, 1), dtype=np.complex64)
                canvas.add(patches.reshape(-1, size, size), plan.rows(lo - rows.start, hi - rows.start))
            obj, coverage = canvas.result(context.norm_Y_I)
        return StitchResult(obj, coverage, self.name)


@dataclass(frozen=True)
class _Rows:
    """Placement of a run of patches (rows × channels, flattened): see :class:`_Placement`."""

    top: np.ndarray
    frac: np.ndarray
    group: np.ndarray
    inside: np.ndarray


@dataclass(frozen=True)
class _Placement:
    """Where every patch of the ground-truth object's rows goes, computed once from positions.

    Attributes
    ----------
    crop_start, size : int
        The kept window of each patch axis is ``crop_start .. crop_start + size - 1``.
    frame_shape : (int, int)
        ``(H, W)`` of the ground-truth frame.
    margin : int
        Canvas margin on every side, ``size + 1``.
    weights : ndarray, shape (size, size), float32, or None
        Per-pixel weights; None for uniform weights.
    top : ndarray, shape (rows, C, 2), int64
        Canvas index (frame index + margin) of each kept window's top-left pixel, floored.
    frac : ndarray, shape (rows, C, 2), float32
        Sub-pixel part of that top-left coordinate, in ``[0, 1]``.
    group : ndarray, shape (rows, C), int64
        Index into ``fractions`` for shared-fraction placement, or -1 for per-patch footprints.
    inside : ndarray, shape (rows, C), bool
        Whether any pixel of the patch reaches the frame.
    fractions : ndarray, shape (G, 2), float32
        The shared sub-pixel offsets, one canvas each.
    """

    crop_start: int
    size: int
    frame_shape: tuple[int, int]
    margin: int
    weights: np.ndarray | None
    top: np.ndarray
    frac: np.ndarray
    group: np.ndarray
    inside: np.ndarray
    fractions: np.ndarray

    @classmethod
    def build(cls, context: StitchContext, device: torch.device) -> "_Placement":
        n = context.N
        size = context.options.crop or n
        start = (n - size) // 2
        weights = None
        if context.options.weighting == "probe":
            probe = np.asarray(context.probe)[start : start + size, start : start + size]
            weights = (np.abs(probe) ** 2).astype(np.float32)
        rows = context.frame_rows
        corner = np.asarray(context.positions, dtype=np.float64)[rows.start : rows.stop] - (n - 1) / 2.0 + start
        floor = np.floor(corner)
        frac = (corner - floor).astype(np.float32)
        frame = np.asarray(context.frame_shape)
        inside = np.all((floor >= -size) & (floor <= frame - 1), axis=-1)
        margin = size + 1
        group = np.full(inside.shape, -1, dtype=np.int64)
        fractions = np.zeros((0, 2), dtype=np.float32)
        if not _torch_kernels(device) and inside.any():
            shared, inverse = np.unique(frac[inside], axis=0, return_inverse=True)
            if len(shared) <= MAX_SHARED_FRACTIONS:
                group[inside] = inverse.reshape(-1)
                fractions = shared
        log.info(
            "torch-mmap: %d of %d patches reach the frame; %s",
            int(inside.sum()), inside.size,
            f"{len(fractions)} shared sub-pixel offset(s), integer placement" if len(fractions) else "per-patch bilinear footprints",
        )
        return cls(start, size, tuple(context.frame_shape), margin, weights, floor.astype(np.int64) + margin, frac, group, inside, fractions)

    def bands(self, height: int, count: int) -> list[tuple[int, int]]:
        """Split canvas rows ``0 .. height - 1`` into at most ``count`` bands of about equal work.

        Band edges sit at quantiles of the patches' centre rows, so each band receives about as
        many patch rows as the others, wherever the scan is dense.
        """
        tops = self.top[self.inside, 0]
        if count <= 1 or len(tops) == 0:
            return [(0, height)]
        centres = np.sort(tops) + (self.size + 1) / 2
        inner = np.unique(np.round(np.quantile(centres, np.arange(1, count) / count)).astype(np.int64))
        edges = [0, *(int(e) for e in inner if 0 < e < height), height]
        return list(zip(edges[:-1], edges[1:]))

    def rows(self, lo: int, hi: int) -> _Rows:
        """Placement of rows ``lo .. hi - 1`` (counted from the first frame row), flattened."""
        return _Rows(
            self.top[lo:hi].reshape(-1, 2),
            self.frac[lo:hi].reshape(-1, 2),
            self.group[lo:hi].reshape(-1),
            self.inside[lo:hi].reshape(-1),
        )


class _Canvas:
    """The accumulators: planes ``(Σ w·Re O, Σ w·Im O, Σ w)`` with a margin, plus shared-fraction canvases.

    NumPy arrays on a CPU, torch tensors on an accelerator (see the module notes).
    """

    def __init__(self, plan: _Placement, device: torch.device, pool: ThreadPoolExecutor, threads: int) -> None:
        self.plan = plan
        self.device = device
        self.pool = pool
        shape = tuple(s + 2 * plan.margin for s in plan.frame_shape)
        on_cpu = not _torch_kernels(device)
        if on_cpu:
            self.planes: np.ndarray | torch.Tensor = np.zeros((3, *shape), dtype=np.float32)
        else:
            self.planes = torch.zeros((3, *shape), dtype=torch.float32, device=device)
        self.shared_values = [np.zeros(shape, dtype=np.complex64) for _ in plan.fractions]
        weight_type = np.int64 if plan.weights is None else np.float32
        self.shared_weights = [np.zeros(shape, dtype=weight_type) for _ in plan.fractions]
        self.weights = plan.weights if plan.weights is not None else np.ones((plan.size, plan.size), np.float32)
        self.chunk = max(1, _FOOTPRINT_FLOATS["numpy" if on_cpu else "torch"] // (3 * (plan.size + 1) ** 2))
        self.compiled = compiled_kernels() if on_cpu and plan.inside.any() else None
        self.bands = plan.bands(shape[0], threads) if self.compiled else []
        if self.compiled:
            log.info("torch-mmap: compiled (numba) kernels on %d thread(s)", len(self.bands))
        elif on_cpu:
            log.info("torch-mmap: NumPy kernels; install numba (pip install 'ptychostitch[fast]') for 2-7x the speed")

    def add(self, patches: np.ndarray, where: _Rows) -> None:
        """Add patches (k, size, size) complex64 placed as ``where`` says."""
        if self.compiled is not None:
            patches = patches.view()
            patches.flags.writeable = False  # one compiled signature, whatever the caller passes
        for g in range(len(self.plan.fractions)):
            pick = np.flatnonzero(where.group == g)
            if len(pick):
                self._add_shared(g, patches, where.top, pick)
        pick = np.flatnonzero(where.inside & (where.group < 0))
        if len(pick) == 0:
            return
        if self.compiled is not None:
            self._in_bands(self.compiled.splat_footprints, self.planes, patches, pick, where.top, where.frac, self.weights)
            return
        for a in range(0, len(pick), self.chunk):
            self._add_footprints(patches, where, pick[a : a + self.chunk])

    def _add_shared(self, g: int, patches: np.ndarray, top: np.ndarray, pick: np.ndarray) -> None:
        size, weights = self.plan.size, self.plan.weights
        values, total = self.shared_values[g], self.shared_weights[g]
        if weights is None:
            np.add.at(total, (top[pick, 0], top[pick, 1]), 1)
        if self.compiled is not None:
            totals = None if weights is None else total
            self._in_bands(self.compiled.add_at_offsets, values, totals, patches, pick, top, weights)
            return
        ys, xs = top[pick, 0].tolist(), top[pick, 1].tolist()
        if weights is None:
            for k, y, x in zip(pick.tolist(), ys, xs):
                values[y : y + size, x : x + size] += patches[k]
            return
        for patch, y, x in zip(patches[pick] * weights, ys, xs):
            values[y : y + size, x : x + size] += patch
            total[y : y + size, x : x + size] += weights

    def _in_bands(self, kernel: Callable[..., None], *args: object) -> None:
        """Run the compiled ``kernel(*args, band)`` for every row band, one thread each, and wait for all."""
        for done in [self.pool.submit(kernel, *args, band) for band in self.bands]:
            done.result()

    def _add_footprints(self, patches: np.ndarray, where: _Rows, pick: np.ndarray) -> None:
        size = self.plan.size
        frac = where.frac[pick].reshape(-1, 2, 1, 1, 1)
        values: np.ndarray | torch.Tensor = patches[pick]
        weights: np.ndarray | torch.Tensor = self.weights
        on_torch = isinstance(self.planes, torch.Tensor)
        if on_torch:
            values, weights, frac = (torch.from_numpy(a).to(self.device) for a in (values, weights, frac))
        planes = empty_like_shape(self.planes, (len(pick), 3, size, size))
        multiply(values.real, weights, out=planes[:, 0])
        multiply(values.imag, weights, out=planes[:, 1])
        planes[:, 2] = weights
        footprints = shift_planes(planes, frac[:, 0], frac[:, 1])
        top = where.top[pick]
        if on_torch:
            top_t = torch.from_numpy(top).to(self.device)
            scatter_blocks(self.planes, footprints, top_t[:, 0], top_t[:, 1])
        else:
            add_blocks(self.planes, footprints, top[:, 0].tolist(), top[:, 1].tolist())

    def result(self, norm: float) -> tuple[np.ndarray, np.ndarray]:
        """The stitched object (H, W) complex64 times ``norm`` and its coverage (H, W) float32."""
        plan = self.plan
        m, (h, w) = plan.margin, plan.frame_shape
        planes = self.planes if isinstance(self.planes, np.ndarray) else self.planes.cpu().numpy()
        total = np.array(planes[:, m : m + h, m : m + w])
        before = (slice(m - 1, m + h), slice(m - 1, m + w))  # the frame and the row/column before it
        for g, (fy, fx) in enumerate(plan.fractions):
            values, weights = self.shared_values[g], self.shared_weights[g]
            if plan.weights is None:  # counts of patches covering each pixel up to the frame's far edges
                weights = box_sums(weights[: m + h, : m + w], plan.size).astype(np.float32)
            shared = np.stack([values.real[before], values.imag[before], weights[before]])
            if fy or fx:
                total += shift_planes(shared, fy, fx)[:, 1 : h + 1, 1 : w + 1]
            else:
                total += shared[:, 1:, 1:]
        re, im, coverage = total
        covered = coverage > 0
        obj = np.zeros((h, w), dtype=np.complex64)
        np.divide(re, coverage, out=obj.real, where=covered)
        np.divide(im, coverage, out=obj.imag, where=covered)
        obj *= np.float32(norm)
        return obj, coverage.copy()


@functools.cache
def compiled_kernels() -> ModuleType | None:
    """The compiled kernels (:mod:`~ptychostitch.stitchers.splat_numba`), or None when numba is missing or cannot build them.

    Imported and compiled on first use: importing numba and loading the cached machine code
    take about 0.65 s per process (compiling them, on a machine's first call, about 2 s more).
    Why they are unavailable is logged once; the NumPy kernels then give the same result, more
    slowly.
    """
    try:
        from ptychostitch.stitchers import splat_numba

        splat_numba.warm_up()
    except ImportError as exc:
        log.info("torch-mmap: numba unavailable (%s); NumPy kernels", exc)
        return None
    except Exception as exc:  # noqa: BLE001 - numba is installed but cannot cache or compile the kernels
        log.warning(
            "torch-mmap: numba cannot build the compiled kernels (%s); using the NumPy kernels. "
            "If it cannot cache, set NUMBA_CACHE_DIR to a writable folder", exc,
        )
        return None
    return splat_numba


def _threads() -> int:
    """Threads for the compiled kernels: the CPUs this process may use, at most :data:`MAX_THREADS`."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(MAX_THREADS, usable)


def _torch_kernels(device: torch.device) -> bool:
    """Whether placement runs as torch kernels on ``device`` (accelerators) rather than NumPy (CPU)."""
    return device.type != "cpu"


def _device(requested: str) -> torch.device:
    """The torch device for ``StitchOptions.device`` (``auto``: CUDA when present, else CPU)."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def _check_batch(batch: PatchBatch, context: StitchContext) -> None:
    expected = (context.N, context.N, context.channels)
    found = np.shape(batch.patches)
    if len(found) != 4 or found[1:] != expected:
        raise InputError(f"patch batch at row {batch.start}: expected shape (rows, {expected[0]}, {expected[1]}, {expected[2]}), found {found}")


@hookimpl
def register_stitchers(register) -> None:  # noqa: ANN001 - pluggy passes a callable
    register(TorchMmapStitcher())
