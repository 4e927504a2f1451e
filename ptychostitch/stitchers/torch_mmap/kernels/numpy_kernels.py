"""The NumPy kernels of ``torch-mmap``: the CPU backend when numba is not installed.

Shared fractions: one slice add per patch. Footprints: a few patches at a time are shifted into
their footprints (:func:`~ptychostitch.stitchers.torch_mmap.kernels.bilinear.footprints`), each
then added with one slice add (:func:`add_blocks`). Canvases carry a margin of ``M + 1`` pixels
on every side, so a footprint that straddles the frame edge is added whole and its outside
pixels fall into the margin, which is cut away at the end: out-of-frame pixels are clipped,
never wrapped, and the patch is never dropped.

They run on the calling thread, not on torch's intra-op threads: those, woken for each of many
mid-sized element-wise operations, slow these kernels down on a busy machine (and would compete
with the model that produces the patches).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ptychostitch.stitchers.torch_mmap.kernels.bilinear import footprints

if TYPE_CHECKING:
    from ptychostitch.stitchers.torch_mmap.placement import Placement

FOOTPRINT_FLOATS = 1 << 16
"""Floats of footprint built per chunk: 256 KiB buffers stay in a CPU core's cache."""


def add_blocks(canvas: np.ndarray, blocks: np.ndarray, rows: Sequence[int], cols: Sequence[int]) -> None:
    """Add each block onto the canvas at an integer offset, one slice add per block.

    Parameters
    ----------
    canvas : ndarray, shape (p, H, W)
        Accumulator; modified in place.
    blocks : ndarray, shape (k, p, h, w)
        Blocks to add, same dtype as ``canvas``.
    rows, cols : sequence of int, length k
        Canvas index of each block's top-left pixel; every block must fit inside the canvas.

    Notes
    -----
    Blocks are added in order, so the result is deterministic. Unlike a vectorised
    ``index_add_``, this loop of slice adds computes no per-pixel index.
    """
    h, w = blocks.shape[-2:]
    for block, y, x in zip(blocks, rows, cols):
        canvas[:, y : y + h, x : x + w] += block


class NumpyKernels:
    """The :class:`~ptychostitch.stitchers.torch_mmap.kernels.Kernels` on NumPy arrays, on the calling thread."""

    shared_fractions = True

    def start(self, placement: Placement, shape: tuple[int, int, int]) -> np.ndarray:
        return np.zeros(shape, dtype=np.float32)

    def add_at_offsets(
        self, values: np.ndarray, totals: np.ndarray | None, patches: np.ndarray, pick: np.ndarray, top: np.ndarray, weights: np.ndarray | None
    ) -> None:
        size = patches.shape[1]
        ys, xs = top[pick, 0].tolist(), top[pick, 1].tolist()
        if weights is None:
            for k, y, x in zip(pick.tolist(), ys, xs):
                values[y : y + size, x : x + size] += patches[k]
            return
        for patch, y, x in zip(patches[pick] * weights, ys, xs):
            values[y : y + size, x : x + size] += patch
            totals[y : y + size, x : x + size] += weights  # type: ignore[index]

    def splat_footprints(
        self, planes: np.ndarray, patches: np.ndarray, pick: np.ndarray, top: np.ndarray, frac: np.ndarray, weights: np.ndarray
    ) -> None:
        chunk = max(1, FOOTPRINT_FLOATS // (3 * (weights.shape[0] + 1) ** 2))
        for a in range(0, len(pick), chunk):
            part = pick[a : a + chunk]
            blocks = footprints(patches[part], weights, frac[part].reshape(-1, 2, 1, 1, 1))
            add_blocks(planes, blocks, top[part, 0].tolist(), top[part, 1].tolist())

    def numpy(self, planes: np.ndarray) -> np.ndarray:
        return planes

    def close(self) -> None:
        """Nothing to release."""
