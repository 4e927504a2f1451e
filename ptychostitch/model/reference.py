"""The reference model: diffraction amplitude in, complex object patch out.

In the spirit of PtychoPINN (the decoder predicts amplitude and phase over the central
``N/2 x N/2`` region, where the probe illuminates the object, and pads the rest with zeros), with
an encoder built for learning fast on a CPU:

1. **Patterson map.** The inverse FFT of the measured intensity ``X**2`` is the autocorrelation
   of the exit wave, a real-space image in which the object's structure is local. Its central
   window (the autocorrelation's support, ``3N/4`` wide by default) is read; because the map is
   Hermitian (``A(-r) = conj(A(r))``) only the upper half of the window is kept.
2. **Whitening.** The window's real and imaginary parts are centred and projected on their
   leading principal components, each scaled to unit variance (:meth:`ReferenceModel.calibrate`
   computes them once from the training diffraction; they are buffers, saved with the weights).
   Raw Patterson features span ten decades of variance; whitened, gradient descent converges in
   a few epochs.
3. **Decoder.** A linear layer maps the components to two ``N/2 x N/2`` maps; a residual
   three-layer convolution refines them; amplitude = ``softplus`` (> 0), phase =
   ``pi * tanh`` (in ``(-pi, pi)``).

Channels of ``gridsize > 1`` groups are folded into the batch: each channel is reconstructed on
its own.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ptychostitch.errors import InputError
from ptychostitch.model.predict import to_nchw

INITIAL_AMPLITUDE = 0.5
"""The untrained model predicts this flat normalised amplitude (and zero phase)."""
CALIBRATION_ROWS = 16384
"""At most this many leading rows of the train split set the whitening."""
EIGENVALUE_FLOOR = 1e-12
"""Principal components with variance below this fraction of the largest are dropped."""


@dataclass(frozen=True)
class ReferenceConfig:
    """Architecture of :class:`ReferenceModel`; stored in every checkpoint.

    Attributes
    ----------
    N : int
        Patch side in pixels (even).
    gridsize : int
        Group side; a row holds ``gridsize**2`` channels.
    window : int or None
        Side of the Patterson window read around zero lag, odd; None means the odd number
        nearest ``3N/4`` (the autocorrelation of a probe of radius ``0.17 N`` fits inside).
    step : int or None
        Read every ``step``-th Patterson pixel; None means ``max(1, N // 64)``, which keeps
        ``N = 128`` as cheap as ``N = 64``.
    components : int
        Whitened principal components fed to the decoder.
    refine_width : int
        Channels of the refining convolution.
    """

    N: int
    gridsize: int = 1
    window: int | None = None
    step: int | None = None
    components: int = 256
    refine_width: int = 16

    def __post_init__(self) -> None:
        if self.N < 4 or self.N % 2:
            raise InputError(f"reference model: N must be an even number >= 4, found {self.N}")
        for name in ("gridsize", "components", "refine_width"):
            if getattr(self, name) < 1:
                raise InputError(f"reference model: {name} must be a positive integer, found {getattr(self, name)}")
        if self.step is not None and self.step < 1:
            raise InputError(f"reference model: step must be a positive integer, found {self.step}")
        side = self.window_side
        if side % 2 == 0 or side < 3 or (side - 1) * self.sample_step >= self.N:
            raise InputError(
                f"reference model: the Patterson window must be odd, >= 3 and fit in N={self.N} at step {self.sample_step}, found {side}"
            )

    @property
    def sample_step(self) -> int:
        """Spacing of the Patterson samples in pixels."""
        return self.step if self.step is not None else max(1, self.N // 64)

    @property
    def window_side(self) -> int:
        """The Patterson window side in samples (odd)."""
        if self.window is not None:
            return self.window
        return max(3, 2 * int(round(3 * self.N / 8 / self.sample_step)) - 1)

    @property
    def features(self) -> int:
        """Length of the Patterson feature vector: real and imaginary parts of the upper half window."""
        side = self.window_side
        return 2 * (side // 2 + 1) * side

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (what checkpoints store)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ReferenceConfig":
        """Rebuild from :meth:`to_dict`; unknown keys are an :class:`InputError`."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"reference model config: unknown keys {sorted(unknown)}")
        return cls(**dict(values))


def patterson_features(diffraction: torch.Tensor, config: ReferenceConfig) -> torch.Tensor:
    """The Patterson window of each pattern as a feature vector.

    Parameters
    ----------
    diffraction : Tensor, shape (b, N, N), float
        Diffraction amplitudes (fftshifted; zero frequency at ``(N//2, N//2)``).
    config : ReferenceConfig
        Window side and step.

    Returns
    -------
    Tensor, shape (b, config.features), float32
        Real then imaginary parts of the autocorrelation ``ifft2(X**2)`` at lags
        ``(step*i, step*j)``, ``-h <= i <= 0``, ``-h <= j <= h`` (``h = window_side // 2``).
    """
    n = diffraction.shape[-1]
    intensity = torch.fft.ifftshift(diffraction.float() ** 2, dim=(-2, -1))
    autocorrelation = torch.fft.fftshift(torch.fft.ifft2(intensity, norm="ortho"), dim=(-2, -1))
    h, s = config.window_side // 2, config.sample_step
    centre = n // 2
    rows = slice(centre - h * s, centre + 1, s)
    cols = slice(centre - h * s, centre + h * s + 1, s)
    window = autocorrelation[..., rows, cols].reshape(diffraction.shape[0], -1)
    return torch.cat([window.real, window.imag], dim=1)


class ReferenceModel(nn.Module):
    """Diffraction amplitude in, complex normalised object patch out.

    Input ``(B, C, N, N)`` float32 diffraction amplitudes (file units, fftshifted); output
    ``(B, C, N, N)`` complex64 ``A * exp(i * phi)`` with ``A = softplus(.) > 0`` over the
    central ``N/2 x N/2`` region (0 outside) and ``phi = pi * tanh(.)`` in ``(-pi, pi)``.
    Call :meth:`calibrate` with training diffraction before training (``train`` does).
    """

    def __init__(self, config: ReferenceConfig) -> None:
        super().__init__()
        self.config = config
        half = config.N // 2
        self.register_buffer("feature_mean", torch.zeros(config.features))
        self.register_buffer("whitening", torch.zeros(config.features, config.components))
        self.register_buffer("calibrated", torch.tensor(False))
        self.decoder = nn.Linear(config.components, 2 * half * half)
        w = config.refine_width
        self.refine = nn.Sequential(
            nn.Conv2d(2, w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w, 2, 3, padding=1),
        )
        nn.init.normal_(self.decoder.weight, std=0.01)
        nn.init.zeros_(self.decoder.bias)
        with torch.no_grad():
            self.decoder.bias[: half * half] = math.log(math.expm1(INITIAL_AMPLITUDE))
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    @torch.no_grad()
    def calibrate(self, diffraction: Any, chunk: int = 512) -> None:
        """Set the whitening from training diffraction, once.

        Computes the mean and covariance of :func:`patterson_features` over the first
        ``CALIBRATION_ROWS`` rows (every channel), and keeps the leading ``components``
        eigenvectors scaled by ``1/sqrt(eigenvalue)``. A calibrated model (for example one
        loaded from a checkpoint) is left unchanged.

        Parameters
        ----------
        diffraction : array-like, shape (B, N, N, C), float
            Train diffraction amplitudes in file units, read ``chunk`` rows at a time.
        """
        if bool(self.calibrated):
            return
        n = self.config.N
        shape = tuple(diffraction.shape)
        if len(shape) != 4 or shape[1:3] != (n, n):
            raise InputError(f"reference model calibration: expected diffraction (B, {n}, {n}, C), found {shape}")
        f = self.config.features
        total = np.zeros(f)
        products = np.zeros((f, f))
        count = 0
        for start in range(0, min(len(diffraction), CALIBRATION_ROWS), chunk):
            flat = to_nchw(diffraction[start : min(start + chunk, CALIBRATION_ROWS)], torch.device("cpu")).reshape(-1, n, n)
            features = patterson_features(flat, self.config).double().numpy()
            total += features.sum(axis=0)
            products += features.T @ features
            count += len(features)
        mean = total / count
        covariance = products / count - np.outer(mean, mean)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        order = np.argsort(eigenvalues)[::-1][: self.config.components]
        eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
        keep = eigenvalues > EIGENVALUE_FLOOR * max(eigenvalues[0], np.finfo(float).tiny)
        whitening = np.zeros((f, self.config.components))
        whitening[:, : len(order)] = np.where(keep, eigenvectors / np.sqrt(np.where(keep, eigenvalues, 1.0)), 0.0)
        self.feature_mean.copy_(torch.from_numpy(mean))
        self.whitening.copy_(torch.from_numpy(whitening))
        self.calibrated.fill_(True)

    def forward(self, diffraction: torch.Tensor) -> torch.Tensor:
        expected = (self.config.gridsize**2, self.config.N, self.config.N)
        if diffraction.dim() != 4 or tuple(diffraction.shape[1:]) != expected:
            raise InputError(
                f"reference model: built for input (B, {expected[0]}, {expected[1]}, {expected[2]}) "
                f"(gridsize {self.config.gridsize}, N={self.config.N}), found {tuple(diffraction.shape)}"
            )
        b, c, n, _ = diffraction.shape
        half = n // 2
        features = patterson_features(diffraction.reshape(b * c, n, n), self.config)
        components = (features - self.feature_mean) @ self.whitening
        maps = self.decoder(components).reshape(b * c, 2, half, half)
        maps = maps + self.refine(maps)
        patch = torch.polar(F.softplus(maps[:, 0]), math.pi * torch.tanh(maps[:, 1]))
        pad = (n - half) // 2
        patch = F.pad(patch, (pad, n - half - pad, pad, n - half - pad))
        return patch.reshape(b, c, n, n)
