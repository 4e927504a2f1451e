"""The bilinear footprint of a patch, for NumPy arrays (CPU kernels) and torch tensors (accelerators) alike.

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
"""

from __future__ import annotations

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


def footprints(values: Array, weights: Array, frac: Array) -> Array:
    """The footprints of weighted patches: planes ``(w·Re O, w·Im O, w)`` shifted by each patch's fraction.

    Parameters
    ----------
    values : ndarray or Tensor, shape (k, s, s), complex64
        The patches ``O``.
    weights : ndarray or Tensor (as ``values``), shape (s, s), float32
        Per-pixel weight ``w`` of every patch.
    frac : ndarray or Tensor (as ``values``), shape (k, 2, 1, 1, 1), float32
        Sub-pixel part ``(fy, fx)`` of each patch's top-left coordinate, in ``[0, 1]``.

    Returns
    -------
    ndarray or Tensor (as ``values``), shape (k, 3, s + 1, s + 1), float32
    """
    size = weights.shape[-1]
    planes = empty_like_shape(weights, (len(values), 3, size, size))
    multiply(values.real, weights, out=planes[:, 0])
    multiply(values.imag, weights, out=planes[:, 1])
    planes[:, 2] = weights
    return shift_planes(planes, frac[:, 0], frac[:, 1])
