"""The illumination: the ideal-disk or a custom probe, its transform pipeline and normalisation.

``probeGuess`` is the transformed (and optionally masked) probe, not normalised; the simulator
uses ``P_sim = probeGuess / (4 * mean(|probeGuess| * M))`` with ``M`` the disk ``r < N//4``
(PtychoPINN's ``ptycho/probe.py::set_probe_guess``; ``docs/simulate.md#2-probe``), saved as
``probe_simulated``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.signal.windows import gaussian

from ptychostitch.data.npz import open_npz
from ptychostitch.errors import InputError, quoted
from ptychostitch.simulate.config import IDEAL_DISK, PROBE_SCALE, SimulationConfig
from ptychostitch.simulate.probe_transforms import Step, parse_pipeline, pipeline_text, steps_for_mode

DEFAULT_PROBE_SCALE = 0.7
"""PtychoPINN's legacy ``default_probe_scale``: the ideal disk's window has std ``N / (0.7 * pi**2)``."""

PROBE_KEY = "probeGuess"
"""Key of the probe in a custom probe NPZ."""


@dataclass(frozen=True)
class Probe:
    """The probe of a simulation.

    Attributes
    ----------
    guess : ndarray, shape (N, N), complex64
        Transformed and masked probe, not normalised (saved as ``probeGuess``).
    simulated : ndarray, shape (N, N), complex64
        ``guess / normaliser``, the illumination actually simulated (``probe_simulated``).
    normaliser : float
        ``PROBE_SCALE * mean(|guess| * M)`` over all ``N*N`` pixels.
    steps : tuple of Step
        The transform pipeline that was applied.
    """

    guess: np.ndarray
    simulated: np.ndarray
    normaliser: float
    steps: tuple[Step, ...]

    @property
    def pipeline(self) -> str:
        """Canonical pipeline text, e.g. ``"smooth:0.5|pad:64"``."""
        return pipeline_text(self.steps)


def ideal_disk(n: int) -> np.ndarray:
    """PtychoPINN's ideal-disk probe of side ``n`` (``ptycho/probe.py::get_default_probe``).

    The disk is where the outer product of a normalised Gaussian window (std ``n/(0.7*pi**2)``)
    exceeds 0.5, smoothed with a sigma-1 Gaussian, plus ``1e-9``. Real, returned as complex64.
    """
    window = gaussian(n, std=n / (DEFAULT_PROBE_SCALE * np.pi**2), sym=True)
    window /= window.max()
    disk = (np.outer(window, window) > 0.5).astype(np.float64)
    return (gaussian_filter(disk, sigma=1) + 1e-9).astype(np.complex64)


def load_probe(path: str | os.PathLike[str]) -> np.ndarray:
    """Read ``probeGuess`` from an NPZ; a square 2-D complex or real array.

    Read through :func:`ptychostitch.data.open_npz`: never unpickled, and its declared shape is
    checked before anything is read.
    """
    try:
        archive = open_npz(path)
    except InputError as exc:
        raise InputError(f"{exc} (the probe file, key '{PROBE_KEY}')") from exc
    info = archive.info(PROBE_KEY)
    if len(info.shape) != 2 or info.shape[0] != info.shape[1] or info.shape[0] < 1:
        raise InputError(f"{quoted(path)}: key '{PROBE_KEY}' must be a square 2-D array, found shape {info.shape}")
    if info.dtype.kind not in "biufc":
        raise InputError(f"{quoted(path)}: key '{PROBE_KEY}' must be numeric, found dtype {info.dtype}")
    probe = archive.read(PROBE_KEY)
    if not np.all(np.isfinite(probe)):
        raise InputError(f"{quoted(path)}: key '{PROBE_KEY}' holds NaN or infinite values")
    return probe.astype(np.complex64)


def disk_mask(n: int, diameter: float) -> np.ndarray:
    """``1`` where ``(y-c)**2 + (x-c)**2 <= (diameter/2)**2`` with ``c = (n-1)/2``; float64 ``(n, n)``."""
    k = np.arange(n) - (n - 1) / 2
    return (k[:, None] ** 2 + k[None, :] ** 2 <= (diameter / 2) ** 2).astype(np.float64)


def normalisation_mask(n: int) -> np.ndarray:
    """PtychoPINN's ``get_probe_mask``: ``r < n//4`` with coordinates ``k - n//2 + 0.5``; bool ``(n, n)``."""
    k = np.arange(n) - n // 2 + 0.5
    return np.sqrt(k[:, None] ** 2 + k[None, :] ** 2) < n // 4


def normalise(probe: np.ndarray) -> tuple[np.ndarray, float]:
    """``(P_sim, normaliser)`` with ``normaliser = PROBE_SCALE * mean(|probe| * M)`` (``docs/simulate.md#2-probe``)."""
    normaliser = float(PROBE_SCALE * np.mean(np.abs(probe).astype(np.float64) * normalisation_mask(probe.shape[0])))
    if not normaliser > 0:
        raise InputError("probe: zero amplitude inside the central disk r < N/4; cannot normalise it")
    return (probe / normaliser).astype(np.complex64), normaliser


def build_probe(config: SimulationConfig) -> Probe:
    """Source, transform, mask and normalise the probe a configuration asks for."""
    source = ideal_disk(config.N) if config.probe == IDEAL_DISK else load_probe(config.probe)
    if config.probe_transform_pipeline:
        steps = parse_pipeline(config.probe_transform_pipeline)
    else:
        steps = steps_for_mode(config.probe_scale_mode, config.N, config.probe_smoothing_sigma)
    guess = source
    for step in steps:
        guess = step.apply(guess)
    if guess.shape != (config.N, config.N):
        raise InputError(
            f"probe transform pipeline {pipeline_text(steps)!r}: result is {guess.shape[0]}x{guess.shape[1]}, expected N={config.N}"
        )
    if config.probe_mask_diameter is not None:
        guess = (guess * disk_mask(config.N, config.probe_mask_diameter)).astype(np.complex64)
    simulated, normaliser = normalise(guess)
    return Probe(guess=guess, simulated=simulated, normaliser=normaliser, steps=steps)
