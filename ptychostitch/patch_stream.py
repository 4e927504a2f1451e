"""The patch stream: the one type every stage hands on, from the model (or a predictions file) to a stitcher.

A stream is an iterable of :class:`PatchBatch` es holding consecutive rows, in increasing row
order, each row once. Stitchers read it through :func:`ptychostitch.stitchers.frame_batches`,
which checks each batch and keeps only the rows of the object in the ground-truth frame. This
module sits below every other part so that any of them may import it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatchBatch:
    """Consecutive rows of the patch stream.

    Attributes
    ----------
    start : int
        Row index of ``patches[0]``; the batch holds rows ``start .. start + len(patches) - 1``.
    patches : ndarray, shape (b, N, N, gridsize**2), complex64
        Predicted patches in model units (the normalised object ``Y_hat * exp(i phi)``).
    """

    start: int
    patches: np.ndarray

    @property
    def stop(self) -> int:
        """One past the last row of the batch."""
        return self.start + len(self.patches)
