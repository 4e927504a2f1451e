"""Batched prediction: test diffraction rows in, a stream of complex patch batches out."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch

from ptychostitch.model.outputs import as_complex_patches
from ptychostitch.model.physics import twin_image
from ptychostitch.patch_stream import PatchBatch


def to_nchw(rows: Any, device: torch.device) -> torch.Tensor:
    """``(b, N, N, C)`` array rows -> ``(b, C, N, N)`` float32 tensor on ``device``."""
    block = np.array(np.moveaxis(np.asarray(rows), -1, 1), dtype=np.float32, order="C")  # a writable copy
    return torch.from_numpy(block).to(device)


def predict_batches(
    model: torch.nn.Module, diffraction: Any, batch_size: int = 256, device: str = "cpu", *, twin: bool = False, rows: range | None = None
) -> Iterator[PatchBatch]:
    """Predict patches batch by batch, in row order (the stream a stitcher consumes).

    Parameters
    ----------
    model : nn.Module
        A trained patch model (see ``docs/model.md``).
    diffraction : array-like, shape (B, N, N, C), float32
        Test diffraction amplitudes in file units.
    batch_size : int
        Rows per forward pass.
    device : str
        Torch device.
    twin : bool
        Yield the twins of the predicted patches (:func:`~ptychostitch.model.physics.twin_image`;
        see :func:`ptychostitch.model.twin.choose_orientation`).
    rows : range, optional
        Predict only these consecutive rows (a rank's shard), batches counted from
        ``rows.start``; all rows by default.

    Yields
    ------
    PatchBatch
        ``patches`` of shape ``(b, N, N, C)`` complex64, normalised object.

    Raises
    ------
    InputError
        A malformed or non-finite output, naming the first bad batch.
    """
    target = torch.device(device)
    model.to(target).eval()
    rows = range(len(diffraction)) if rows is None else rows
    starts = range(rows.start, rows.stop, batch_size)
    with torch.no_grad():
        for index, start in enumerate(starts):
            stop = min(start + batch_size, rows.stop)
            x = to_nchw(diffraction[start:stop], target)
            where = f"prediction batch {index + 1} (rows {start}:{stop})"
            patches = np.moveaxis(as_complex_patches(model(x), tuple(x.shape), where).cpu().numpy(), 1, -1)
            yield PatchBatch(start, np.ascontiguousarray(twin_image(patches) if twin else patches))
