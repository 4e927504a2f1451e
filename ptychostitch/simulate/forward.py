"""The forward model: exit wave, far-field intensity, Poisson counts (``docs/simulate.md#4-diffraction-and-labels``).

``psi = s_I * O * P_sim``, ``lambda = |fftshift(fft2(psi, norm="ortho"))|**2``,
``counts ~ Poisson(lambda)``, ``diffraction = sqrt(counts) / s_I``. The intensity scale
``s_I`` makes the noise-free photon count average ``nphotons`` over the train patterns.

The noise comes from a numpy ``Generator``; PtychoPINN draws it with TensorFlow, whose stream
cannot be reproduced outside TensorFlow, so only the distribution is shared with it.
"""

from __future__ import annotations

import numpy as np
import scipy.fft


def intensity_scale(nphotons: float, mean_energy: float) -> float:
    """``s_I = sqrt(nphotons / mean_k sum_xy (Y_hat_k * |P_sim|)**2)``.

    Parameters
    ----------
    nphotons : float
        Target mean photons per pattern.
    mean_energy : float
        Mean over every train patch (all rows and channels) of ``sum_xy (Y_hat * |P_sim|)**2``.
    """
    return float(np.sqrt(nphotons / mean_energy))


def patch_energy(amplitude: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """``sum_xy (amplitude * |probe|)**2`` of every patch.

    Parameters
    ----------
    amplitude : ndarray, shape (r, C, N, N), float64
        Normalised amplitude patches ``Y_hat``.
    probe : ndarray, shape (N, N), complex64
        ``P_sim``.

    Returns
    -------
    ndarray, shape (r, C), float64
    """
    weight = np.abs(probe).astype(np.float64) ** 2
    return np.einsum("rcyx,yx->rc", amplitude * amplitude, weight)


def diffract(obj: np.ndarray, probe: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Noisy diffraction amplitudes of a batch of object patches.

    Parameters
    ----------
    obj : ndarray, shape (r, C, N, N), float64 or complex128
        Normalised object patches ``Y_hat * exp(i*phi)``.
    probe : ndarray, shape (N, N), complex64
        ``P_sim``.
    scale : float
        Intensity scale ``s_I``.
    rng : numpy.random.Generator
        Source of the Poisson noise; values are drawn in C order of the batch, so splitting a
        stack into consecutive batches draws the same numbers as one call.

    Returns
    -------
    ndarray, shape (r, C, N, N), float32
        ``sqrt(counts) / scale``, zero frequency at pixel ``(N/2, N/2)``.
    """
    psi = (scale * obj * probe).astype(np.complex64)
    far = scipy.fft.fftshift(scipy.fft.fft2(psi, norm="ortho"), axes=(-2, -1))
    rate = far.real**2 + far.imag**2
    counts = rng.poisson(rate)
    return (np.sqrt(counts) / scale).astype(np.float32)
