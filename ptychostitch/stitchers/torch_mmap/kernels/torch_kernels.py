"""The torch kernels of ``torch-mmap``: the backend on an accelerator (CUDA).

Every patch is placed as a footprint (no shared-fraction canvases, which are NumPy arrays):
footprints are built in large chunks on the device
(:func:`~ptychostitch.stitchers.torch_mmap.kernels.bilinear.footprints`) and added with one
vectorised ``index_add_`` per chunk (:func:`scatter_blocks`). On CUDA the order of the atomic
adds is not fixed, so the last bits of the sums may differ between runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ptychostitch.stitchers.torch_mmap.kernels.bilinear import footprints

if TYPE_CHECKING:
    from ptychostitch.stitchers.torch_mmap.placement import Placement

FOOTPRINT_FLOATS = 1 << 25
"""Floats of footprint built per chunk: large chunks keep an accelerator busy."""


def scatter_blocks(canvas: torch.Tensor, blocks: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> None:
    """Add every block onto the canvas at an integer offset with one vectorised ``index_add_``.

    Parameters
    ----------
    canvas : Tensor, shape (p, H, W)
        Accumulator; modified in place.
    blocks : Tensor, shape (k, p, h, w)
        Blocks to add, same dtype and device as ``canvas``.
    rows, cols : Tensor, shape (k,), int64
        Canvas index of each block's top-left pixel, on the canvas device; every block must fit
        inside the canvas.
    """
    p, height, width = canvas.shape
    h, w = blocks.shape[-2:]
    dev = canvas.device
    local = (
        torch.arange(p, device=dev).view(p, 1, 1) * (height * width)
        + torch.arange(h, device=dev).view(1, h, 1) * width
        + torch.arange(w, device=dev).view(1, 1, w)
    ).reshape(-1)
    index = ((rows * width + cols).view(-1, 1) + local.view(1, -1)).reshape(-1)
    canvas.view(-1).index_add_(0, index, blocks.reshape(-1))


class TorchKernels:
    """The :class:`~ptychostitch.stitchers.torch_mmap.kernels.Kernels` on torch tensors on ``device``."""

    shared_fractions = False

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def start(self, placement: Placement, shape: tuple[int, int, int]) -> torch.Tensor:
        return torch.zeros(shape, dtype=torch.float32, device=self.device)

    def add_at_offsets(self, *args: object) -> None:
        raise NotImplementedError("the torch kernels place every patch as a footprint (shared_fractions is False)")

    def splat_footprints(
        self, planes: torch.Tensor, patches: np.ndarray, pick: np.ndarray, top: np.ndarray, frac: np.ndarray, weights: np.ndarray
    ) -> None:
        chunk = max(1, FOOTPRINT_FLOATS // (3 * (weights.shape[0] + 1) ** 2))
        on_device = torch.from_numpy(weights).to(self.device)
        for a in range(0, len(pick), chunk):
            part = pick[a : a + chunk]
            values, shift, corner = (
                torch.from_numpy(x).to(self.device) for x in (patches[part], frac[part].reshape(-1, 2, 1, 1, 1), top[part])
            )
            scatter_blocks(planes, footprints(values, on_device, shift), corner[:, 0], corner[:, 1])

    def numpy(self, planes: torch.Tensor) -> np.ndarray:
        return planes.cpu().numpy()

    def close(self) -> None:
        """Nothing to release."""
