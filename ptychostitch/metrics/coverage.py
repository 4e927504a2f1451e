"""The evaluation window: the largest axis-aligned rectangle of fully covered pixels.

A stitched object may leave pixels of the ground-truth frame uncovered (coverage 0; their value
is 0). Scoring them would count a stitching gap as a reconstruction error, so the metrics are
computed on the largest rectangle in which every pixel is covered, and that window is reported.
"""

from __future__ import annotations

import numpy as np

from ptychostitch.errors import InputError

Window = tuple[int, int, int, int]
"""``(y0, y1, x0, x1)``: rows ``y0 .. y1-1`` and columns ``x0 .. x1-1`` of the frame (half-open)."""


def largest_covered_rectangle(coverage: np.ndarray) -> Window:
    """Largest axis-aligned rectangle whose pixels all have ``coverage > 0``.

    The maximal-rectangle algorithm: row by row, the run length of covered pixels above each
    column forms a histogram, whose largest rectangle a monotonic stack finds in one sweep;
    O(H W) in all.

    Parameters
    ----------
    coverage : ndarray, shape (H, W), real
        Summed stitching weights; 0 (or less, or NaN) means uncovered.

    Returns
    -------
    Window
        ``(y0, y1, x0, x1)``, half-open, in frame pixels. The whole frame when every pixel is
        covered. Among rectangles of equal area, the first found wins (bottom edges are
        scanned from the top row down).

    Raises
    ------
    InputError
        When ``coverage`` is not 2-D or no pixel is covered.
    """
    cov = np.asarray(coverage)
    if cov.ndim != 2:
        raise InputError(f"coverage must be a 2-D (H, W) array, got shape {cov.shape}")
    covered = cov > 0
    h, w = covered.shape
    if covered.all():
        return (0, h, 0, w)
    if not covered.any():
        raise InputError(f"coverage is 0 everywhere in the {h}x{w} frame: nothing was stitched to score")
    heights = np.zeros(w + 1, dtype=np.int64)
    best_area, best = 0, (0, 0, 0, 0)
    for row in range(h):
        heights[:w] = np.where(covered[row], heights[:w] + 1, 0)
        bars = heights.tolist()
        stack: list[int] = []
        for col, height in enumerate(bars):
            while stack and bars[stack[-1]] >= height:
                top = stack.pop()
                left = stack[-1] + 1 if stack else 0
                area = bars[top] * (col - left)
                if area > best_area:
                    best_area, best = area, (row + 1 - bars[top], row + 1, left, col)
            stack.append(col)
    return best
