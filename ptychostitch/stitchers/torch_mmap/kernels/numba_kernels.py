"""The numba kernels of ``torch-mmap``: the CPU backend when numba is installed (``ptychostitch[fast]``).

:func:`add_at_offsets` is shared-fraction placement (grid scans): each patch added at its
integer offset, the same adds in the same order as the NumPy kernels' slice adds, without the
Python loop.

:func:`splat_footprints` does in one pass over each patch what the NumPy kernels
(:mod:`~ptychostitch.stitchers.torch_mmap.kernels.numpy_kernels`) do in about six (weight the
patch, shift it into its footprint, add the footprint): it builds the footprint one row at a
time in a small buffer that stays in cache and adds each row to the canvas straight away.

It performs the same float32 operations in the same order as those kernels: each product and
sum correctly rounded (numba does not contract them into fused multiply-adds unless asked for
``fastmath``). So the two backends give bit-identical canvases, the value and weight planes of a
constant-1 object stay bit-identical, and the result does not depend on how the stream is
batched. Compiled code is cached on disk (numba's ``cache=True``), so only the first call on a
machine pays the compilation.

While it adds row ``a`` of one footprint, it asks the CPU to fetch row ``a`` of the next
patch's footprint (:func:`_prefetch`, a hint that changes no result). When patches land at
random places on a canvas far larger than the core's cache, that overlaps the wait for the
canvas with the arithmetic.

Both kernels write only the canvas rows of a given band and release the GIL, so
:class:`NumbaKernels` runs one call per band on its own thread; a pixel belongs to one band, so
it still receives its adds in stream order, whatever the number of threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic

if TYPE_CHECKING:
    from ptychostitch.stitchers.torch_mmap.placement import Placement

log = logging.getLogger(__name__)

_LINE_FLOATS = 16
"""float32 values per 64-byte cache line: the stride of the prefetch hints along a row."""


@intrinsic
def _prefetch(typingctx, array, plane, y, x):  # noqa: ANN001, ANN202 - numba's intrinsic signature
    """Hint the CPU to fetch the cache line of ``array[plane, y, x]`` for writing; no effect on results.

    Emits LLVM's ``llvm.prefetch`` (read/write 1, locality 3, data cache); a prefetch never
    faults, and its name is mangled by llvmlite for the pointer model of the LLVM in use.
    """
    signature = numba.types.void(array, plane, y, x)

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        array_type = sig.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        address = cgutils.get_item_pointer(context, builder, array_type, view, args[1:], wraparound=False)
        byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        hint_type = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        hint = builder.module.declare_intrinsic("llvm.prefetch", [byte_pointer], hint_type)
        builder.call(hint, [builder.bitcast(address, byte_pointer), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return signature, codegen


@numba.njit(cache=True, nogil=True, inline="always")
def _shift_row(patch: np.ndarray, weights: np.ndarray, a: int, gx: np.float32, fx: np.float32, row: np.ndarray, out: np.ndarray) -> None:
    """Row ``a`` of the patch's planes ``(w·Re O, w·Im O, w)``, shifted right by ``fx``: ``out`` (3, s + 1).

    ``row`` (3, s + 2) is scratch whose first and last columns stay 0. Row ``a == s`` (below
    the patch) is all zeros.
    """
    size = weights.shape[0]
    if a == size:
        out[:] = 0
        return
    values, w = patch[a], weights[a]
    for b in range(size):
        row[0, b + 1] = values[b].real * w[b]
        row[1, b + 1] = values[b].imag * w[b]
        row[2, b + 1] = w[b]
    for q in range(3):
        shifted, source = out[q], row[q]
        for b in range(size + 1):
            shifted[b] = source[b + 1] * gx + source[b] * fx


@numba.njit(cache=True, nogil=True)
def splat_footprints(
    planes: np.ndarray,
    patches: np.ndarray,
    pick: np.ndarray,
    top: np.ndarray,
    frac: np.ndarray,
    weights: np.ndarray,
    band: tuple[int, int],
) -> None:
    """Splat the picked patches bilinearly onto the planes ``(Σ w·Re O, Σ w·Im O, Σ w)``, rows of ``band`` only.

    Patch ``p``'s pixel ``(a, b)`` lands at canvas coordinate ``top[p] + frac[p] + (a, b)`` and
    is spread over the four nearest pixels with the bilinear corner weights. Only canvas rows
    ``band[0] .. band[1] - 1`` are written, so calls with disjoint bands can run at the same
    time on different threads (the kernel releases the GIL); each pixel still receives its adds
    in ``pick`` order.

    Parameters
    ----------
    planes : ndarray, shape (3, H, W), float32
        Accumulators; modified in place. Every footprint must fit: ``0 <= top[p]`` and
        ``top[p] + s + 1 <= (H, W)`` for each picked ``p``.
    patches : ndarray, shape (k, s, s), complex64
        Patch values (any strides).
    pick : ndarray, shape (m,), int64
        Indices into ``patches`` of the patches to splat, in the order they are added.
    top : ndarray, shape (k, 2), int64
        Canvas index ``(row, column)`` of each patch's top-left footprint pixel.
    frac : ndarray, shape (k, 2), float32
        Sub-pixel part ``(fy, fx)`` of each patch's top-left coordinate, in ``[0, 1]``.
    weights : ndarray, shape (s, s), float32
        Per-pixel weight ``w`` of every patch.
    band : (int, int)
        First and one-past-last canvas row to write.
    """
    size = weights.shape[0]
    row = np.zeros((3, size + 2), np.float32)
    cur = np.zeros((3, size + 1), np.float32)
    prev = np.zeros((3, size + 1), np.float32)
    one = np.float32(1)
    for k in range(len(pick)):
        p = pick[k]
        y0, x0 = top[p, 0], top[p, 1]
        first, stop = max(band[0] - y0, 0), min(band[1] - y0, size + 1)  # footprint rows in the band
        if first >= stop:
            continue
        upcoming = pick[k + 1] if k + 1 < len(pick) else p
        y1, x1 = top[upcoming, 0], top[upcoming, 1]
        fy, fx = frac[p, 0], frac[p, 1]
        gy, gx = one - fy, one - fx
        patch = patches[p]
        if first == 0:
            prev[:] = 0
        else:
            _shift_row(patch, weights, first - 1, gx, fx, row, prev)
        for a in range(first, stop):
            if band[0] <= y1 + a < band[1]:
                for q in range(3):
                    for b in range(0, size + 1, _LINE_FLOATS):
                        _prefetch(planes, q, y1 + a, x1 + b)
                    _prefetch(planes, q, y1 + a, x1 + size)
            _shift_row(patch, weights, a, gx, fx, row, cur)
            for q in range(3):
                # Slicing first leaves the inner loop with plain unit-stride indexing, which
                # compiles to vector instructions (indexing planes[q, y, x] directly does not).
                out, shifted, above = planes[q, y0 + a, x0 : x0 + size + 1], cur[q], prev[q]
                for b in range(size + 1):
                    out[b] += shifted[b] * gy + above[b] * fy
            prev, cur = cur, prev


@numba.njit(cache=True, nogil=True)
def add_at_offsets(
    values: np.ndarray,
    totals: np.ndarray | None,
    patches: np.ndarray,
    pick: np.ndarray,
    top: np.ndarray,
    weights: np.ndarray | None,
    band: tuple[int, int],
) -> None:
    """Add the picked patches (times ``weights``) at integer offsets, rows of ``band`` only.

    ``values[top[p] + (a, b)] += patches[p, a, b] * weights[a, b]`` and, unless ``totals`` is
    None, ``totals[top[p] + (a, b)] += weights[a, b]``, in ``pick`` order; with ``weights``
    None the patch is added as it is (uniform weights: the stitcher counts coverage apart).

    Parameters
    ----------
    values : ndarray, shape (H, W), complex64
        Accumulator; modified in place. Every patch must fit at its offset.
    totals : ndarray, shape (H, W), float32, or None
        Weight accumulator; modified in place.
    patches : ndarray, shape (k, s, s), complex64
    pick : ndarray, shape (m,), int64
        Indices into ``patches``, in the order they are added.
    top : ndarray, shape (k, 2), int64
        Canvas index ``(row, column)`` of each patch's top-left pixel.
    weights : ndarray, shape (s, s), float32, or None
    band : (int, int)
        First and one-past-last canvas row to write.
    """
    size = patches.shape[1]
    for k in range(len(pick)):
        p = pick[k]
        y0, x0 = top[p, 0], top[p, 1]
        for a in range(max(band[0] - y0, 0), min(band[1] - y0, size)):
            out, source = values[y0 + a, x0 : x0 + size], patches[p, a]
            if weights is None:
                for b in range(size):
                    out[b] += source[b]
            else:
                w = weights[a]
                for b in range(size):
                    out[b] += np.complex64(complex(source[b].real * w[b], source[b].imag * w[b]))
                if totals is not None:
                    total = totals[y0 + a, x0 : x0 + size]
                    for b in range(size):
                        total[b] += w[b]


def warm_up() -> None:
    """Compile both kernels (or load them from numba's cache) as the stitcher calls them, so a failure shows now."""
    patches = np.zeros((1, 1, 1), np.complex64)
    patches.flags.writeable = False  # the stitcher hands every kernel read-only patches
    pick, top, weights = np.zeros(1, np.int64), np.zeros((1, 2), np.int64), np.ones((1, 1), np.float32)
    splat_footprints(np.zeros((3, 3, 3), np.float32), patches, pick, top, np.zeros((1, 2), np.float32), weights, (0, 3))
    add_at_offsets(np.zeros((2, 2), np.complex64), None, patches, pick, top, None, (0, 2))
    add_at_offsets(np.zeros((2, 2), np.complex64), np.zeros((2, 2), np.float32), patches, pick, top, weights, (0, 2))


def _read_only(patches: np.ndarray) -> np.ndarray:
    """A read-only view: the kernels get one compiled signature, whatever the caller passes."""
    view = patches.view()
    view.flags.writeable = False
    return view


class NumbaKernels:
    """The :class:`~ptychostitch.stitchers.torch_mmap.kernels.Kernels` compiled with numba, one thread per row band.

    Parameters
    ----------
    threads : int
        Most row bands (and threads) to split the canvas into.
    """

    shared_fractions = True

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.bands: list[tuple[int, int]] = []  # set by start()
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="torch-mmap")

    def start(self, placement: Placement, shape: tuple[int, int, int]) -> np.ndarray:
        self.bands = placement.bands(shape[1], self.threads)
        log.info("torch-mmap: compiled (numba) kernels on %d thread(s)", len(self.bands))
        return np.zeros(shape, dtype=np.float32)

    def add_at_offsets(
        self, values: np.ndarray, totals: np.ndarray | None, patches: np.ndarray, pick: np.ndarray, top: np.ndarray, weights: np.ndarray | None
    ) -> None:
        self._in_bands(add_at_offsets, values, totals, _read_only(patches), pick, top, weights)

    def splat_footprints(
        self, planes: np.ndarray, patches: np.ndarray, pick: np.ndarray, top: np.ndarray, frac: np.ndarray, weights: np.ndarray
    ) -> None:
        self._in_bands(splat_footprints, planes, _read_only(patches), pick, top, frac, weights)

    def numpy(self, planes: np.ndarray) -> np.ndarray:
        return planes

    def close(self) -> None:
        """Stop the band threads."""
        self.pool.shutdown()

    def _in_bands(self, kernel: Callable[..., None], *args: object) -> None:
        """Run ``kernel(*args, band)`` for every row band, one thread each, and wait for all."""
        for done in [self.pool.submit(kernel, *args, band) for band in self.bands]:
            done.result()
