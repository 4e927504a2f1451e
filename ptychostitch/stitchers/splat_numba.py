"""The compiled CPU kernel of ``torch-mmap``'s per-patch footprints (needs numba: ``ptychostitch[fast]``).

:func:`splat_footprints` does in one pass over each patch what the NumPy kernels of
:mod:`ptychostitch.stitchers.splat` do in about six (weight the patch, shift it into its footprint
with :func:`~ptychostitch.stitchers.splat.shift_planes`, add the footprint with
:func:`~ptychostitch.stitchers.splat.add_blocks`): it builds the footprint one row at a time in a
small buffer that stays in cache and adds each row to the canvas straight away.

It performs the same float32 operations in the same order as those kernels: each product and
sum correctly rounded (numba does not contract them into fused multiply-adds unless asked for
``fastmath``). So the two paths give bit-identical canvases, the value and weight planes of a
constant-1 object stay bit-identical, and the result does not depend on how the stream is
batched. Compiled code is cached on disk (numba's ``cache=True``), so only the first call on a
machine pays the compilation (about a second).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def splat_footprints(
    planes: np.ndarray,
    patches: np.ndarray,
    pick: np.ndarray,
    top: np.ndarray,
    frac: np.ndarray,
    weights: np.ndarray,
) -> None:
    """Splat the picked patches bilinearly onto the planes ``(Σ w·Re O, Σ w·Im O, Σ w)``.

    Patch ``p``'s pixel ``(a, b)`` lands at canvas coordinate ``top[p] + frac[p] + (a, b)`` and
    is spread over the four nearest pixels with the bilinear corner weights.

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
    """
    size = weights.shape[0]
    row = np.zeros((3, size + 2), np.float32)
    cur = np.zeros((3, size + 1), np.float32)
    prev = np.zeros((3, size + 1), np.float32)
    one = np.float32(1)
    for p in pick:
        y0, x0 = top[p, 0], top[p, 1]
        fy, fx = frac[p, 0], frac[p, 1]
        gy, gx = one - fy, one - fx
        patch = patches[p]
        prev[:] = 0
        for a in range(size + 1):
            if a < size:
                values, w = patch[a], weights[a]
                for b in range(size):
                    row[0, b + 1] = values[b].real * w[b]
                    row[1, b + 1] = values[b].imag * w[b]
                    row[2, b + 1] = w[b]
                for q in range(3):
                    shifted, source = cur[q], row[q]
                    for b in range(size + 1):
                        shifted[b] = source[b + 1] * gx + source[b] * fx
            else:
                cur[:] = 0
            for q in range(3):
                # Slicing first leaves the inner loop with plain unit-stride indexing, which
                # compiles to vector instructions (indexing planes[q, y, x] directly ran 2x slower).
                out, shifted, above = planes[q, y0 + a, x0 : x0 + size + 1], cur[q], prev[q]
                for b in range(size + 1):
                    out[b] += shifted[b] * gy + above[b] * fy
            prev, cur = cur, prev
