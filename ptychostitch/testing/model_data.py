"""A tiny grid-lines-like train split for model and training tests (numpy physics, no torch)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def disk_probe(n: int) -> np.ndarray:
    """A real, centrosymmetric, smooth disk of radius n/5, complex64."""
    k = np.arange(n) - (n - 1) / 2
    r = np.hypot(k[:, None], k[None, :])
    return gaussian_filter((r < n / 5).astype(np.float64), 0.7).astype(np.complex64)


def smooth_objects(n: int, count: int, seed: int) -> np.ndarray:
    """Complex patches with amplitude in about [0.3, 1.2] and phase in about [-0.5, 0.5]."""
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.random((count, n, n)), (0, 1.5, 1.5))
    field = (field - field.mean()) / field.std()
    return ((0.7 + 0.2 * field) * np.exp(0.3j * field)).astype(np.complex64)


def tiny_split(n: int = 16, rows: int = 48, channels: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """``diffraction``, ``Y_I``, ``Y_phi`` of shape (rows, n, n, channels) and ``probe`` (n, n)."""
    probe = disk_probe(n)
    obj = smooth_objects(n, rows * channels, seed)
    amp = np.abs(np.fft.fftshift(np.fft.fft2(obj * probe), axes=(-2, -1))) / n

    def channel_last(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(a.reshape(rows, channels, n, n), 1, -1)).astype(np.float32)

    return {
        "diffraction": channel_last(amp),
        "Y_I": channel_last(np.abs(obj) * np.abs(probe)),
        "Y_phi": channel_last(np.angle(obj)),
        "object": channel_last(obj.real) + 1j * channel_last(obj.imag),
        "probe": probe,
    }
