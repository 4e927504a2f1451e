"""The ``median`` stitcher: per pixel, the median of the patches that cover it.

Why a median
    A weighted mean lets one bad patch (a model failure, a detector glitch) shift every pixel
    it covers by ``error / depth``. The median over ``depth >= 3`` overlapping patches ignores a
    single outlier completely. The median of complex values is taken on the real and imaginary
    parts separately (the marginal median); with an even number of values it is the mean of the
    middle two.

What it needs (its capability check says which is missing)
    - Scan positions: the median is taken over the patches that land on a pixel.
    - Whole-pixel top-left corners (``position - (N-1)/2`` integral, as on grid-lines scans):
      the median must choose among values the model actually predicted. Resampling a patch to a
      subpixel shift blends each value with its neighbours, which spreads an outlier before the
      median can reject it.
    - Nothing about the weighting: with ``probe`` weighting it takes the weighted median (each
      value counts with its ``|probe|**2`` weight; values of weight 0 are left out), which
      reduces to the plain median when the weights are equal.

    A crop keeps the window :func:`ptychostitch.geometry.crop_window` gives (the crop rule of
    every stitcher); its pixels stay where they land, so any crop from 1 to N works.

Memory
    The median needs every value of a pixel at once, so one pass over the patch stream keeps a
    buffer of ``depth_max x H x W`` complex64 values (8 bytes each; 12 with the float32
    weights of probe weighting), where ``depth_max`` is the
    largest number of patches over any frame pixel. The positions are known before the first
    patch arrives, so the buffer size is known too: the capability check states it and refuses
    above :attr:`MedianStitcher.max_buffer_bytes`. Besides the buffer it holds one batch of
    patches and a band of 32 frame rows while it takes the medians. Rows outside
    ``frame_rows`` are never stored.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ptychostitch.geometry import crop_window, top_left
from ptychostitch.stitchers import Capability, PatchBatch, StitchContext, StitchResult, frame_batches

_BAND = 32
"""Frame rows whose medians are taken together (bounds the temporary sort buffer)."""


class MedianStitcher:
    """Median of the overlapping patches at each pixel; robust to outlier patches.

    Parameters
    ----------
    max_buffer_bytes : int
        Largest value buffer (``depth_max * H * W * 8`` bytes) the capability check accepts.
    """

    name = "median"
    priority = 5

    def __init__(self, max_buffer_bytes: int = 2 * 1024**3) -> None:
        self.max_buffer_bytes = max_buffer_bytes

    def capability(self, context: StitchContext) -> Capability:
        if context.positions is None:
            return Capability(False, "needs scan positions: the median is taken over the patches landing on each pixel")
        corners = top_left(context.positions[context.frame_rows.start : context.frame_rows.stop], context.N)
        if not np.allclose(corners, np.rint(corners), rtol=0.0, atol=1e-6):
            return Capability(
                False,
                "needs whole-pixel top-left corners (position - (N-1)/2): resampling subpixel shifts "
                "would blend outliers into their neighbours before the median could reject them",
            )
        depth = self._depth(context).max(initial=0)
        height, width = context.frame_shape
        need = int(depth) * height * width * (12 if context.options.weighting == "probe" else 8)
        if need > self.max_buffer_bytes:
            return Capability(
                False,
                f"needs a {need / 2**20:.0f} MiB buffer ({depth} patches deep over {height}x{width} px), "
                f"above its limit of {self.max_buffer_bytes / 2**20:.0f} MiB",
            )
        kind = "weighted median" if context.options.weighting == "probe" else "median"
        return Capability(True, f"whole-pixel positions; {kind} of up to {depth} patches per pixel ({need / 2**20:.1f} MiB buffer)")

    def stitch(self, context: StitchContext, batches: Iterable[PatchBatch]) -> StitchResult:
        stream = frame_batches(context, batches)
        height, width = context.frame_shape
        start, side = crop_window(context.N, context.options.crop)
        corners = self._corners(context)
        depth = int(self._depth(context).max(initial=0))
        values = np.full((depth, height, width), complex(np.nan, np.nan), np.complex64)
        weighted = context.options.weighting == "probe"
        kept = np.abs(np.asarray(context.probe)[start : start + side, start : start + side]) ** 2 if weighted else np.ones((side, side))
        weights = np.zeros((depth, height, width), np.float32) if weighted else None
        filled = np.zeros((height, width), np.intp)
        for part in stream:
            for k, patch in enumerate(part.patches):
                for channel, (y, x) in enumerate(corners[part.offset + k]):
                    y0, y1, x0, x1 = max(y, 0), min(y + side, height), max(x, 0), min(x + side, width)
                    if y0 >= y1 or x0 >= x1:
                        continue
                    block = patch[start + y0 - y : start + y1 - y, start + x0 - x : start + x1 - x, channel]
                    weight = kept[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32)
                    slots = filled[y0:y1, x0:x1]
                    np.put_along_axis(values[:, y0:y1, x0:x1], slots[None], np.where(weight > 0, block, np.nan)[None], axis=0)
                    if weights is not None:
                        np.put_along_axis(weights[:, y0:y1, x0:x1], slots[None], weight[None], axis=0)
                    slots += weight > 0
        obj = np.zeros((height, width), np.complex64)
        for y0 in range(0, height if len(values) else 0, _BAND):  # no buffer: nothing landed
            band = values[:, y0 : y0 + _BAND]
            count = filled[y0 : y0 + _BAND]
            if weights is None:
                obj[y0 : y0 + _BAND] = _median(band.real, count) + 1j * _median(band.imag, count)
            else:
                w = weights[:, y0 : y0 + _BAND]
                obj[y0 : y0 + _BAND] = _weighted_median(band.real, w) + 1j * _weighted_median(band.imag, w)
        obj *= np.float32(context.norm_Y_I)
        coverage = filled.astype(np.float32) if weights is None else weights.sum(axis=0)
        return StitchResult(obj, coverage, self.name)

    @staticmethod
    def _corners(context: StitchContext) -> np.ndarray:
        """Frame ``(y, x)`` of the first kept pixel of every channel of every frame row, shape (rows, C, 2), int."""
        start, _ = crop_window(context.N, context.options.crop)
        positions = context.positions[context.frame_rows.start : context.frame_rows.stop]  # type: ignore[index]
        return np.rint(top_left(positions, context.N)).astype(np.intp) + start

    def _depth(self, context: StitchContext) -> np.ndarray:
        """Number of kept patch blocks over each frame pixel, shape frame_shape, int."""
        _, side = crop_window(context.N, context.options.crop)
        height, width = context.frame_shape
        depth = np.zeros((height + 1, width + 1), np.intp)
        for y, x in self._corners(context).reshape(-1, 2):
            y0, y1, x0, x1 = max(y, 0), min(y + side, height), max(x, 0), min(x + side, width)
            if y0 < y1 and x0 < x1:
                depth[y0, x0] += 1
                depth[y0, x1] -= 1
                depth[y1, x0] -= 1
                depth[y1, x1] += 1
        return depth.cumsum(0).cumsum(1)[:height, :width]


def _median(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median along axis 0 of the first ``count`` entries of each column (the rest are NaN).

    Parameters
    ----------
    values : ndarray, shape (D, h, w), float32
        NaN beyond each column's ``count`` values.
    count : ndarray, shape (h, w), int
        Values per column, at most D; 0 gives 0. D must be at least 1.
    """
    ordered = np.sort(values, axis=0)  # NaN sorts last
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0)[None] // 2, axis=0)[0]
    high = np.take_along_axis(ordered, (count // 2)[None], axis=0)[0]
    return np.where(count > 0, (low + high) / 2, 0).astype(np.float32)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted median along axis 0: the mean of the lower and upper weighted medians.

    The lower one is the first sorted value whose cumulative weight reaches half the total, the
    upper one the last whose cumulative weight before it is at most half; with equal weights
    their mean is the plain median (the mean of the middle two for an even count).

    Parameters
    ----------
    values : ndarray, shape (D, h, w), float32
        NaN where nothing was stored.
    weights : ndarray, shape (D, h, w), float32
        0 where nothing was stored; a column of total weight 0 gives 0.
    """
    order = np.argsort(values, axis=0)  # NaN sorts last
    ordered = np.take_along_axis(values, order, axis=0)
    weight = np.take_along_axis(weights, order, axis=0).astype(np.float64)
    cumulative = np.cumsum(weight, axis=0)
    half = cumulative[-1] / 2
    lower = np.argmax(cumulative >= half, axis=0)
    reach = ((cumulative - weight) <= half) & (weight > 0)
    upper = len(values) - 1 - np.argmax(reach[::-1], axis=0)
    low = np.take_along_axis(ordered, lower[None], axis=0)[0]
    high = np.take_along_axis(ordered, upper[None], axis=0)[0]
    return np.where(cumulative[-1] > 0, (low + high) / 2, 0).astype(np.float32)
