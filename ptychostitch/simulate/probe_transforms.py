"""The probe transform pipeline: smooth, pad, edge-pad with a fitted phase, interpolate.

A pipeline is an ordered list of :class:`Step`; its canonical text form, e.g.
``"smooth:0.5|pad:64"``, is what PtychoPINN records as ``probe_transform_pipeline``
(``ptycho/workflows/grid_lines_workflow.py::apply_probe_transform_pipeline``;
``docs/simulate.md#2-probe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter, zoom
from skimage.restoration import unwrap_phase

from ptychostitch.errors import InputError

_METADATA_OPS = {
    "smooth": "smooth_complex",
    "pad": "pad_complex",
    "pad_extrapolate": "pad_extrapolate_complex",
    "interp": "interpolate_complex",
}


@dataclass(frozen=True)
class Step:
    """One transform step.

    Attributes
    ----------
    op : {"smooth", "pad", "pad_extrapolate", "interp"}
        The operation, spelled as in the pipeline text.
    value : float
        Gaussian sigma in pixels for ``smooth``; the target side in pixels otherwise.
    """

    op: str
    value: float

    @property
    def token(self) -> str:
        """The step as pipeline text, e.g. ``"smooth:0.5"`` or ``"pad:64"``."""
        return f"{self.op}:{float(self.value)}" if self.op == "smooth" else f"{self.op}:{int(self.value)}"

    def metadata(self) -> dict[str, Any]:
        """The step as PtychoPINN's ``probe_transform_steps`` entry."""
        if self.op == "smooth":
            return {"op": _METADATA_OPS[self.op], "sigma": float(self.value)}
        return {"op": _METADATA_OPS[self.op], "target_N": int(self.value)}

    def apply(self, probe: np.ndarray) -> np.ndarray:
        """Apply this step to a square complex probe; returns complex64."""
        if self.op == "smooth":
            return smooth_complex(probe, self.value)
        if self.op == "pad":
            return pad_complex(probe, int(self.value))
        if self.op == "pad_extrapolate":
            return pad_extrapolate_complex(probe, int(self.value))
        return interpolate_complex(probe, int(self.value))


def steps_for_mode(mode: str, n: int, sigma: float) -> tuple[Step, ...]:
    """Expand a scale mode into steps; the smooth step is left out when ``sigma == 0``.

    ``pad_preserve`` smooths then pads; ``pad_extrapolate`` and ``interpolate`` resize then smooth.
    """
    smooth = (Step("smooth", float(sigma)),) if sigma > 0 else ()
    if mode == "pad_preserve":
        return smooth + (Step("pad", n),)
    if mode == "pad_extrapolate":
        return (Step("pad_extrapolate", n),) + smooth
    if mode == "interpolate":
        return (Step("interp", n),) + smooth
    raise InputError(f"probe transform: mode {mode!r} has no fixed steps; give an explicit pipeline")


def parse_pipeline(text: str) -> tuple[Step, ...]:
    """Parse pipeline text such as ``"smooth:0.5|pad:128|interp:256"``."""
    steps = []
    for token in text.split("|"):
        op, _, arg = token.strip().partition(":")
        if op not in _METADATA_OPS:
            raise InputError(
                f"probe transform pipeline {text!r}: unknown step {token!r} "
                "(expected smooth:SIGMA, pad:N, pad_extrapolate:N or interp:N)"
            )
        try:
            value = float(arg) if op == "smooth" else int(arg)
        except ValueError:
            raise InputError(f"probe transform pipeline {text!r}: step {token!r} needs a number after ':'") from None
        if value < 0 or (op != "smooth" and value < 1):
            raise InputError(f"probe transform pipeline {text!r}: step {token!r} needs a positive value")
        steps.append(Step(op, value))
    return tuple(steps)


def pipeline_text(steps: tuple[Step, ...]) -> str:
    """Canonical text of a pipeline, steps joined by ``|``."""
    return "|".join(step.token for step in steps)


def smooth_complex(probe: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smooth amplitude and unwrapped phase separately (reflect, truncate 4), recombine."""
    amplitude = gaussian_filter(np.abs(probe), sigma)
    phase = gaussian_filter(unwrap_phase(np.angle(probe)), sigma)
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def _pad_widths(side: int, n: int, what: str) -> tuple[int, int]:
    if n < side:
        raise InputError(f"probe transform {what}:{n}: target is smaller than the {side}x{side} probe")
    before = (n - side) // 2
    return before, n - side - before


def pad_complex(probe: np.ndarray, n: int) -> np.ndarray:
    """Centred zero pad to ``n x n``; the original samples are unchanged."""
    before, after = _pad_widths(probe.shape[0], n, "pad")
    return np.pad(probe, ((before, after), (before, after))).astype(np.complex64)


def pad_extrapolate_complex(probe: np.ndarray, n: int) -> np.ndarray:
    """Edge-pad the amplitude to ``n x n``; replace the phase by a fitted ``a*r**2 + b`` everywhere.

    The fit is least squares on the unwrapped source phase, ``r`` measured from the source centre
    ``((h-1)/2, (h-1)/2)``; it is evaluated with ``r`` from ``((n-1)/2, (n-1)/2)`` and wrapped
    to ``[-pi, pi)``.
    """
    side = probe.shape[0]
    before, after = _pad_widths(side, n, "pad_extrapolate")
    amplitude = np.pad(np.abs(probe), ((before, after), (before, after)), mode="edge")
    phase = unwrap_phase(np.angle(probe)).astype(np.float64)
    r2 = _squared_radius(side)
    design = np.stack([r2.ravel(), np.ones(r2.size)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, phase.ravel(), rcond=None)
    fitted = a * _squared_radius(n) + b
    wrapped = np.mod(fitted + np.pi, 2 * np.pi) - np.pi
    return (amplitude * np.exp(1j * wrapped)).astype(np.complex64)


def interpolate_complex(probe: np.ndarray, n: int) -> np.ndarray:
    """Cubic (order 3) zoom of the real and imaginary parts to ``n x n``."""
    factor = n / probe.shape[0]
    real = zoom(probe.real.astype(np.float64), factor, order=3)
    imag = zoom(probe.imag.astype(np.float64), factor, order=3)
    return (real + 1j * imag).astype(np.complex64)


def _squared_radius(n: int) -> np.ndarray:
    """``(y - c)**2 + (x - c)**2`` on an ``n x n`` grid with ``c = (n-1)/2``."""
    k = np.arange(n) - (n - 1) / 2
    return k[:, None] ** 2 + k[None, :] ** 2
