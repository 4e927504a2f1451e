"""The grid-lines forward model in torch, and the losses that train a model through it.

Units follow PtychoPINN's grid-lines simulator (``docs/model.md``):

- an *object patch* ``O = Y_hat * exp(i * Phi)`` is the normalised object (the raw amplitude
  divided by the split's ``norm_Y_I``), without the probe;
- the *probe* is the normalised illumination ``P_sim`` (the file's ``probe_simulated``, or
  :func:`ptychostitch.simulate.probe.normalise` of ``probeGuess``);
- a *diffraction amplitude* is ``|fftshift(fft2(O * P_sim, norm="ortho"))|``, which is what the
  file's ``diffraction`` (``sqrt(counts) / s_I``) holds in expectation;
- *counts* are ``(s_I * amplitude)**2`` photons, with ``s_I`` the intensity scale of
  :func:`intensity_scale`.

When ``|P_sim|`` is centrosymmetric, an object patch and its *twin* (:func:`twin_image`) give
the same diffraction amplitude exactly (``ptychostitch.model.twin`` resolves the choice).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def intensity_scale(y_i: Any, nphotons: float, chunk: int = 1024) -> float:
    """``s_I``, recovered from the train split's ``Y_I``.

    ``s_I = sqrt(nphotons / mean_k sum_xy Y_I[k]**2)``, the mean over every row and channel, so
    noise-free photons per pattern average ``nphotons`` (PtychoPINN computes it from the train
    split and reuses it for the test split).

    Parameters
    ----------
    y_i : array-like, shape (B, N, N, C), float
        Train ``Y_I`` (illuminated amplitude ``Y_hat * |P_sim|``); read ``chunk`` rows at a time.
    nphotons : float
        Expected photons per diffraction pattern (metadata ``physics_parameters.nphotons``).
    chunk : int
        Rows read per step.

    Returns
    -------
    float
    """
    total, patterns = 0.0, 0
    for start in range(0, len(y_i), chunk):
        block = np.asarray(y_i[start : start + chunk], dtype=np.float64)
        total += float(np.sum(block**2))
        patterns += block.shape[0] * block.shape[-1]
    return float(np.sqrt(nphotons / (total / patterns)))


def diffraction_amplitude(obj: torch.Tensor, probe: torch.Tensor) -> torch.Tensor:
    """Predicted far-field amplitude of object patches under the probe.

    Parameters
    ----------
    obj : Tensor, shape (..., N, N), complex
        Normalised object patches ``O``.
    probe : Tensor, shape (N, N), complex
        Normalised probe ``P_sim``.

    Returns
    -------
    Tensor, shape (..., N, N), real
        ``|fftshift(fft2(O * P, norm="ortho"))|``: zero frequency at pixel ``(N//2, N//2)``.
    """
    field = torch.fft.fft2(obj * probe, norm="ortho")
    return torch.fft.fftshift(field, dim=(-2, -1)).abs()


def mae_loss(predicted: torch.Tensor, measured: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between predicted and measured diffraction amplitudes (file units)."""
    return torch.mean(torch.abs(predicted - measured))


def poisson_loss(predicted: torch.Tensor, measured: torch.Tensor, scale: float) -> torch.Tensor:
    """Poisson negative log-likelihood of the measured counts, as a deviance per pixel.

    With ``rate = (scale * predicted)**2`` and ``counts = (scale * measured)**2``, this is
    ``mean(rate - counts - counts * log(rate / counts)) / scale**2``: the negative
    log-likelihood minus its value at a perfect fit, so it is 0 at ``rate == counts`` and
    positive otherwise, in units of squared diffraction amplitude.

    Parameters
    ----------
    predicted, measured : Tensor, same shape, real
        Diffraction amplitudes in file units (``sqrt(counts) / s_I``).
    scale : float
        ``s_I`` (:func:`intensity_scale`).
    """
    rate = (scale * predicted) ** 2
    counts = (scale * measured) ** 2
    log_ratio = torch.log(rate.clamp_min(1e-12)) - torch.log(counts.clamp_min(1e-12))
    deviance = rate - counts - torch.where(counts > 0, counts * log_ratio, torch.zeros_like(counts))
    return torch.mean(deviance) / scale**2


def twin_image(patches: np.ndarray) -> np.ndarray:
    """The twin of each patch: complex conjugate, rotated 180 degrees about the patch centre.

    Parameters
    ----------
    patches : ndarray, shape (b, N, N) or (b, N, N, C), complex
        Patches with the two patch axes at positions 1 and 2.

    Returns
    -------
    ndarray, same shape and dtype
    """
    return np.conj(np.flip(patches, axis=(1, 2)))
