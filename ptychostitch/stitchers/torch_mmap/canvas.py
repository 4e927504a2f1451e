"""torch-mmap's accumulators, and how the stitched object comes out of them.

Planes ``(Σ w·Re O, Σ w·Im O, Σ w)`` with a margin of ``M + 1`` pixels on every side (a
footprint that straddles the frame edge is added whole; the margin is cut away at the end, so
out-of-frame pixels are clipped, never wrapped), plus one NumPy value canvas and one weight
canvas per shared fraction (:mod:`~ptychostitch.stitchers.torch_mmap.placement`). The kernels
(:mod:`~ptychostitch.stitchers.torch_mmap.kernels`) do the adding.
"""

from __future__ import annotations

import numpy as np

from ptychostitch.stitchers.torch_mmap.kernels import Kernels
from ptychostitch.stitchers.torch_mmap.kernels.bilinear import shift_planes
from ptychostitch.stitchers.torch_mmap.placement import Placement, Rows


class Canvas:
    """The accumulators of one stitch placed as ``plan``, filled by ``kernels``."""

    def __init__(self, plan: Placement, kernels: Kernels) -> None:
        self.plan = plan
        self.kernels = kernels
        shape = tuple(s + 2 * plan.margin for s in plan.frame_shape)
        self.planes = kernels.start(plan, (3, *shape))
        self.shared_values = [np.zeros(shape, dtype=np.complex64) for _ in plan.fractions]
        weight_type = np.int64 if plan.weights is None else np.float32
        self.shared_weights = [np.zeros(shape, dtype=weight_type) for _ in plan.fractions]
        self.weights = plan.weights if plan.weights is not None else np.ones((plan.size, plan.size), np.float32)

    def add(self, patches: np.ndarray, where: Rows) -> None:
        """Add patches (k, size, size) complex64 placed as ``where`` says."""
        for g in range(len(self.plan.fractions)):
            pick = np.flatnonzero(where.group == g)
            if len(pick):
                self._add_shared(g, patches, where.top, pick)
        pick = np.flatnonzero(where.inside & (where.group < 0))
        if len(pick):
            self.kernels.splat_footprints(self.planes, patches, pick, where.top, where.frac, self.weights)

    def _add_shared(self, g: int, patches: np.ndarray, top: np.ndarray, pick: np.ndarray) -> None:
        values, total = self.shared_values[g], self.shared_weights[g]
        if self.plan.weights is None:  # count the top-left corners; result() turns them into coverage
            np.add.at(total, (top[pick, 0], top[pick, 1]), 1)
            self.kernels.add_at_offsets(values, None, patches, pick, top, None)
        else:
            self.kernels.add_at_offsets(values, total, patches, pick, top, self.plan.weights)

    def result(self, norm: float) -> tuple[np.ndarray, np.ndarray]:
        """The stitched object (H, W) complex64 times ``norm`` and its coverage (H, W) float32."""
        plan = self.plan
        m, (h, w) = plan.margin, plan.frame_shape
        total = np.array(self.kernels.numpy(self.planes)[:, m : m + h, m : m + w])
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


def box_sums(density: np.ndarray, size: int) -> np.ndarray:
    """Counts of ``size x size`` boxes covering each pixel, from the counts of their top-lefts.

    ``out[a, b] = Σ density[a - size + 1 .. a, b - size + 1 .. b]``, computed exactly with an
    integer summed-area table: the coverage of uniform ``size x size`` patches placed at integer
    offsets, where ``density`` counts the patches whose top-left pixel is each canvas pixel.

    Parameters
    ----------
    density : ndarray, shape (H, W), int64
    size : int
        Box side in pixels.

    Returns
    -------
    ndarray, shape (H, W), int64
    """
    height, width = density.shape
    table = np.zeros((height + size, width + size), dtype=np.int64)
    np.cumsum(np.cumsum(density, axis=0), axis=1, out=table[size:, size:])
    return table[size:, size:] - table[:-size, size:] - table[size:, :-size] + table[:-size, :-size]
