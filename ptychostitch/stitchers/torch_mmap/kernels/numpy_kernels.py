"""Bilinear splat kernels for the ``torch-mmap`` stitcher, for NumPy arrays (CPU) and torch tensors (CUDA).

A patch whose top-left pixel lands at the frame coordinate ``(iy + fy, ix + fx)`` (integer
parts ``iy, ix``, fractions ``0 <= fy, fx < 1``) sends each pixel value to four canvas pixels
with the weights ``(1-fy)(1-fx)``, ``(1-fy)fx``, ``fy(1-fx)`` and ``fy·fx``. Because the
fractions are the same for every pixel of the patch, the splat equals one integer-offset add of
the patch's ``(M+1) x (M+1)`` *footprint*: the patch bilinearly shifted by ``(fy, fx)``. The
footprint is built separably (columns, then rows) with :func:`shift_planes`.

Every kernel works on *planes* ``(re·w, im·w, w)`` stacked on one axis, and applies exactly the
same floating-point operations to each plane (only separate multiplies and adds, each correctly
rounded, never a fused multiply-add). So for a constant-1 object the real plane and the weight
plane are bit-identical and the stitched value ``Σ w·O / Σ w`` is exactly 1.

Canvases carry a margin of ``M + 1`` pixels on every side, so a footprint that straddles the
frame edge is added whole and its outside pixels fall into the margin, which is cut away at the
end: out-of-frame pixels are clipped, never wrapped, and the patch is never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

Array = np.ndarray | torch.Tensor
"""A NumPy array (CPU kernels) or a torch tensor (accelerator kernels)."""


def empty_like_shape(like: Array, shape: tuple[int, ...]) -> Array:
    """An uninitialised float32 array of ``shape`` of the same kind (and device) as ``like``."""
    if isinstance(like, torch.Tensor):
        return torch.empty(shape, dtype=torch.float32, device=like.device)
    return np.empty(shape, dtype=np.float32)


def multiply(a: Array, b: Array, out: Array) -> Array:
    """``out[...] = a * b`` for NumPy arrays or torch tensors, without a temporary."""
    if isinstance(out, torch.Tensor):
        return torch.mul(a, b, out=out)
    return np.multiply(a, b, out=out)


def shift_planes(planes: Array, fy: Array, fx: Array) -> Array:
    """Bilinearly shift image planes down by ``fy`` and right by ``fx`` pixels.

    ``out[..., a, b] = Σ corner weight × planes[..., a - dy, b - dx]`` over ``dy, dx ∈ {0, 1}``
    (zero outside ``planes``): the footprint of a splat, one pixel larger on each axis.

    Parameters
    ----------
    planes : ndarray or Tensor, shape (..., h, w), float32
        Values to shift; leading axes are batch and plane axes.
    fy, fx : ndarray or Tensor, float32
        Fractional shifts in ``[0, 1]`` pixels, broadcastable against ``planes`` (e.g. shape
        (k, 1, 1, 1) for ``planes`` of shape (k, 3, h, w): one shift per patch).

    Returns
    -------
    ndarray or Tensor (as ``planes``), shape (..., h + 1, w + 1), float32
    """
    *lead, h, w = planes.shape
    cols = empty_like_shape(planes, (*lead, h, w + 1))
    multiply(planes, 1 - fx, out=cols[..., :w])
    cols[..., w] = 0
    cols[..., 1:] += planes * fx
    out = empty_like_shape(planes, (*lead, h + 1, w + 1))
    multiply(cols, 1 - fy, out=out[..., :h, :])
    out[..., h, :] = 0
    out[..., 1:, :] += cols * fy
    return out


def add_blocks(canvas: Array, blocks: Array, rows: Sequence[int], cols: Sequence[int]) -> None:
    """Add each block onto the canvas at an integer offset, one slice add per block (CPU).

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
    Blocks are added in order, so the result is deterministic. On a CPU this loop of slice adds
    beats a vectorised ``index_add_`` by about 2x: it computes no per-pixel index.
    """
    h, w = blocks.shape[-2:]
    for block, y, x in zip(blocks, rows, cols):
        canvas[:, y : y + h, x : x + w] += block


def scatter_blocks(canvas: torch.Tensor, blocks: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> None:
    """Add every block onto the canvas with one vectorised ``index_add_`` (for accelerators).

    Same contract as :func:`add_blocks` with ``rows``/``cols`` as int64 tensors of shape (k,)
    on the canvas device. On CUDA the order of the atomic adds is not fixed, so the last bits
    of the sum may differ between runs.
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
