"""Diagnostics of a patch stream and a scored window: numbers that say when a score cannot be trusted.

Pure computations (the runner logs the warnings and prints them):

- :class:`PredictionStats`, accumulated batch by batch by :class:`PredictionStatsAccumulator`:
  how much of the stitched weight falls on predicted pixels that are exactly 0 (a decoder that
  predicts only a central region, stitched over the whole patch), and whether the predictions
  are all 0 or one constant value (a model that predicts nothing);
- :func:`window_share`: the share of the ground-truth frame a scored window covers;
- :func:`phase_wrap_share`: how often the stitched phase jumps by more than pi between
  neighbouring pixels of the scored window (PtychoPINN's phase metrics take ``angle()`` without
  unwrapping, so a wrap counts as error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptychostitch.metrics.coverage import Window

ZERO_WEIGHT_WARN_SHARE = 0.25
"""Above this share of the stitched weight on exactly-zero predicted pixels, the runner warns."""

PHASE_WRAP_WARN_SHARE = 1e-3
"""Above this share of neighbouring pixel pairs of the scored window whose phases differ by more than pi, the runner warns."""


def window_share(window: Window, frame_shape: tuple[int, int]) -> float:
    """Area of ``window`` ``(y0, y1, x0, x1)`` over the area of the ``(H, W)`` frame, in ``[0, 1]``."""
    y0, y1, x0, x1 = window
    return (y1 - y0) * (x1 - x0) / (frame_shape[0] * frame_shape[1])


def phase_wrap_share(obj: np.ndarray, window: Window) -> float:
    """Share of the horizontally and vertically neighbouring pixel pairs of ``obj[y0:y1, x0:x1]`` whose phases differ by more than pi.

    ``angle()`` returns phases in ``(-pi, pi]``, so an object whose phase crosses ``±pi`` (a
    smooth phase shifted by a global constant is enough, and a self-supervised model fixes the
    phase only up to one) jumps by about ``2 pi`` along that line; a smooth phase never jumps
    by more than pi between neighbours.

    Parameters
    ----------
    obj : ndarray, complex, shape (H, W) or (H, W, 1)
        The stitched object.
    window : tuple of int
        ``(y0, y1, x0, x1)``, the scored window.

    Returns
    -------
    float
        In ``[0, 1]``; 0 for a window with no neighbouring pair.
    """
    y0, y1, x0, x1 = window
    phase = np.angle(np.asarray(obj).reshape(obj.shape[0], obj.shape[1])[y0:y1, x0:x1])
    pairs = phase[1:, :].size + phase[:, 1:].size
    if pairs == 0:
        return 0.0
    jumps = np.count_nonzero(np.abs(np.diff(phase, axis=0)) > np.pi) + np.count_nonzero(np.abs(np.diff(phase, axis=1)) > np.pi)
    return jumps / pairs


@dataclass(frozen=True)
class PredictionStats:
    """What the predicted patches of the scored object look like, weighted as they are stitched.

    Attributes
    ----------
    patches : int
        Patches (rows times channels) seen.
    weight : float
        Sum, over every pixel of every patch, of the weight the stitcher gives it (before any
        clipping at the frame edge).
    zero_weight : float
        The part of ``weight`` on pixels whose predicted value is exactly ``0 + 0j``.
    all_zero : bool
        Every predicted pixel is exactly 0 (False when no patch was seen).
    constant : bool
        Every predicted pixel has one and the same value, 0 included (False when no patch was seen).
    """

    patches: int
    weight: float
    zero_weight: float
    all_zero: bool
    constant: bool

    @property
    def zero_weight_share(self) -> float | None:
        """``zero_weight / weight``; None when no weight was seen."""
        return self.zero_weight / self.weight if self.weight > 0 else None


class PredictionStatsAccumulator:
    """Accumulate :class:`PredictionStats` over batches of patches, without keeping any.

    The state is exact and order-free (integer counts of exactly-zero pixels per patch pixel
    and channel, the first value seen and whether every value equals it), so accumulators of
    consecutive parts of a stream, :meth:`merge`-d in order, give the statistics of the whole.

    Parameters
    ----------
    weights : ndarray, shape (N, N) or (N, N, C), real
        The weight the stitcher gives each patch pixel (of each channel, when 3-D): 0 where it
        uses no pixel (outside the kept crop, outside a tile), 1 or ``|probe|**2`` where it does.
    """

    def __init__(self, weights: np.ndarray) -> None:
        weights = np.asarray(weights, dtype=np.float64)
        used = weights if weights.ndim == 2 else weights.any(axis=2)
        rows, cols = np.flatnonzero(used.any(axis=1)), np.flatnonzero(used.any(axis=0))
        self._kept = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)) if rows.size else (slice(0, 0), slice(0, 0))
        kept = weights[self._kept]
        self._weights = kept[..., None] if kept.ndim == 2 else kept
        self._rows = 0
        self._zeros: np.ndarray | None = None
        self._first: complex | None = None
        self._constant = True

    def update(self, patches: np.ndarray) -> None:
        """Add a batch of predicted patches, shape ``(b, N, N, C)``, complex."""
        patches = np.asarray(patches)
        if patches.size == 0:
            return
        if self._first is None:
            self._first = complex(patches.flat[0])
        if self._constant:  # a few values first: a real prediction is told apart without comparing the whole batch
            self._constant = bool(np.all(patches.flat[:64] == self._first)) and bool(np.all(patches == self._first))
        self._rows += patches.shape[0]
        zeros = _zeros(patches[:, self._kept[0], self._kept[1]])
        self._zeros = zeros if self._zeros is None else self._zeros + zeros

    def merge(self, later: PredictionStatsAccumulator) -> None:
        """Add the state of ``later``, an accumulator of the same weights (e.g. another rank's rows), in place."""
        if later._first is None:
            return
        if self._first is None:
            self._first, self._constant = later._first, later._constant
        else:  # constant at two different values is not constant
            self._constant = self._constant and later._constant and later._first == self._first
        self._rows += later._rows
        self._zeros = later._zeros.copy() if self._zeros is None else self._zeros + later._zeros

    def result(self) -> PredictionStats:
        """The statistics of every batch added (or merged) so far."""
        seen = self._first is not None
        constant = seen and self._constant
        weight = zero_weight = 0.0
        channels = 0
        if self._zeros is not None:
            weights = np.broadcast_to(self._weights, self._zeros.shape)
            channels = self._zeros.shape[2]
            weight = self._rows * float(weights.sum())
            zero_weight = float(np.sum(self._zeros * weights))
        return PredictionStats(
            patches=self._rows * channels,
            weight=weight,
            zero_weight=zero_weight,
            all_zero=constant and self._first == 0,
            constant=constant,
        )


_MAGNITUDE_BITS = np.uint64(0x7FFF_FFFF_7FFF_FFFF)
"""Every bit of a complex64 but the two sign bits, when its 8 bytes are read as one uint64."""


def _zeros(patches: np.ndarray) -> np.ndarray:
    """How many of ``patches`` (b, h, w, C) are exactly 0 (``-0.0`` included) at each ``(h, w, c)``, as int64.

    A complex64 is 0 when both its float32 halves are +-0, i.e. when every bit but the two sign
    bits is clear: one integer test per value instead of two float compares (about twice as fast).
    Other dtypes are compared with 0.
    """
    if patches.dtype == np.complex64:
        return np.count_nonzero((patches.view(np.uint64) & _MAGNITUDE_BITS) == 0, axis=0)
    return np.count_nonzero(patches == 0, axis=0)
