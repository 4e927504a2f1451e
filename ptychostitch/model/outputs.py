"""Checks on what a model returns: shape, dtype and finiteness, with one-line errors naming the batch."""

from __future__ import annotations

import torch

from ptychostitch.errors import InputError


def as_complex_patches(output: object, expected: tuple[int, int, int, int], where: str) -> torch.Tensor:
    """Return a model's output as complex64 patches, or stop with one line naming the batch.

    Parameters
    ----------
    output : object
        What the model returned for input of shape ``expected``: a complex tensor
        ``(B, C, N, N)``, or a real tensor ``(B, C, N, N, 2)`` holding ``[real, imag]``.
    expected : (int, int, int, int)
        ``(B, C, N, N)`` of the input batch.
    where : str
        Which batch, for the message (``"prediction batch 3 (rows 512:768)"``).

    Returns
    -------
    Tensor, shape (B, C, N, N), complex64

    Raises
    ------
    InputError
        Not a tensor, the wrong shape or dtype, or a non-finite value.
    """
    shape = tuple(expected)
    if not isinstance(output, torch.Tensor):
        raise InputError(f"model output, {where}: expected a torch.Tensor of shape {shape}, found {type(output).__name__}")
    if output.is_complex():
        if tuple(output.shape) != shape:
            raise InputError(f"model output, {where}: expected complex shape {shape}, found {tuple(output.shape)}")
        patches = output.to(torch.complex64)
    elif output.is_floating_point():
        if tuple(output.shape) != shape + (2,):
            raise InputError(
                f"model output, {where}: expected real shape {shape + (2,)} ([real, imag] last), found {tuple(output.shape)}"
            )
        patches = torch.complex(output[..., 0].float(), output[..., 1].float())
    else:
        raise InputError(f"model output, {where}: expected a complex or floating dtype, found {output.dtype}")
    if not bool(torch.isfinite(torch.view_as_real(patches)).all()):
        raise InputError(f"model output, {where}: found NaN or infinite values (the first bad batch)")
    return patches
