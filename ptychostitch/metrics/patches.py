"""Patch metrics: every predicted patch against its labels ``Y_I`` / ``Y_phi``, streamed batch by batch.

What is compared (like with like; ``docs/metrics.md#patch-metrics-exactly-what-is-compared``;
the units are PtychoPINN's, ``docs/simulate.md#4-diffraction-and-labels``). The model predicts the
normalised object ``O = Y_hat exp(i Phi)`` without the probe. The labels are
``Y_I = Y_hat |P_sim|`` (the *illuminated* amplitude: it includes the probe amplitude) and
``Y_phi = Phi`` (object phase only). ``P_sim`` is the probe the simulator used: the NPZ key
``probe_simulated``, or, when absent, ``probeGuess`` normalised as the simulator does
(``docs/simulate.md#2-probe``). So, over every pixel of every channel of every row:

* amplitude: ``e_A = |pred| |P_sim| - Y_I`` at **all** pixels (the probe weights the error where
  it illuminates, as in the labels);
* phase: ``e_phi = wrap(angle(pred) - Y_phi)`` into ``[-pi, pi)``, at the **illuminated** pixels
  only, ``|P_sim| >= illumination_threshold * max |P_sim|`` (elsewhere a phase has no meaning);

and ``mae_amp = mean |e_A|``, ``mse_amp = mean e_A**2``, ``mae_phase = mean |e_phi|``,
``mse_phase = mean e_phi**2``. No global scale, phase offset or ramp is fitted: a physics-trained
model's patches are in the labels' units and gauge. Sums are kept in float64, so the result does
not depend on the batch size beyond rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptychostitch.errors import InputError

DEFAULT_ILLUMINATION_THRESHOLD = 0.1
"""Phase is scored where ``|P_sim|`` is at least this fraction of its maximum (1 % in intensity)."""


@dataclass(frozen=True)
class PatchMetricsResult:
    """Patch metrics over every row seen.

    Attributes
    ----------
    mae_amp, mse_amp : float
        Mean absolute / squared error of ``|pred| |P_sim|`` against ``Y_I`` (label units,
        squared for MSE), over all pixels.
    mae_phase, mse_phase : float
        Mean absolute / squared wrapped phase error in radians (squared), over the illuminated
        pixels.
    rows : int
        Rows (groups) seen.
    amp_pixels, phase_pixels : int
        Pixels that entered the amplitude and the phase means (all channels).
    illumination_threshold : float
        Fraction of ``max |P_sim|`` that defines an illuminated pixel.
    """

    mae_amp: float
    mse_amp: float
    mae_phase: float
    mse_phase: float
    rows: int
    amp_pixels: int
    phase_pixels: int
    illumination_threshold: float

    def as_dict(self) -> dict[str, float]:
        """The ``patch`` section of ``metrics.json``: ``mae_amp``, ``mse_amp``, ``mae_phase``, ``mse_phase``."""
        return {"mae_amp": self.mae_amp, "mse_amp": self.mse_amp, "mae_phase": self.mae_phase, "mse_phase": self.mse_phase}


def _with_channels(array: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(array)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise InputError(f"{name}: expected shape (b, N, N) or (b, N, N, C), found {a.shape}")
    return a


class PatchMetrics:
    """Streaming accumulator of the patch metrics (see the module docstring for what is compared).

    Feed consecutive batches of the patch stream with :meth:`update` during the single
    inference pass, then read :meth:`result`.

    Parameters
    ----------
    probe : ndarray, shape (N, N), complex or real
        ``P_sim``: ``probe_simulated``, or ``probeGuess`` normalised as the simulator does
        (``docs/simulate.md#2-probe``).
        Only ``|probe|`` is used.
    illumination_threshold : float
        Phase is scored where ``|probe| >= illumination_threshold * max |probe|``.
    first_row : int
        The row the first batch starts at (a shard of the stream, see :meth:`merge`).
    """

    def __init__(
        self, probe: np.ndarray, *, illumination_threshold: float = DEFAULT_ILLUMINATION_THRESHOLD, first_row: int = 0
    ) -> None:
        amp = np.abs(np.asarray(probe)).astype(np.float64)
        if amp.ndim == 3 and amp.shape[2] == 1:
            amp = amp[:, :, 0]
        if amp.ndim != 2 or amp.shape[0] != amp.shape[1]:
            raise InputError(f"probe: expected a square (N, N) array, found shape {amp.shape}")
        if not np.isfinite(amp).all() or not amp.max() > 0:
            raise InputError("probe: amplitude must be finite and not 0 everywhere")
        if not 0.0 <= illumination_threshold < 1.0:
            raise InputError(f"illumination_threshold must be in [0, 1), got {illumination_threshold}")
        self._probe_amp = amp[:, :, None]
        self._illuminated = (amp >= illumination_threshold * amp.max())[:, :, None]
        self._threshold = float(illumination_threshold)
        self._first = int(first_row)
        self._rows = 0
        self._sums = np.zeros(4, dtype=np.float64)
        self._amp_pixels = 0
        self._phase_pixels = 0

    def update(self, start: int, pred: np.ndarray, Y_I: np.ndarray, Y_phi: np.ndarray) -> None:  # noqa: N803
        """Add one batch of consecutive rows.

        Parameters
        ----------
        start : int
            Row index of the batch's first row; batches must arrive in order, without gaps or
            repeats (the first starts at ``first_row``).
        pred : ndarray, shape (b, N, N, C) or (b, N, N), complex
            Predicted patches in model units (the normalised object, no probe).
        Y_I, Y_phi : ndarray, same shape as ``pred``, real
            The labels of the same rows (``Y_I[start:start + b]``).

        Raises
        ------
        InputError
            Out-of-order batch, shapes that do not match each other or the probe, non-finite values.
        """
        if start != self._first + self._rows:
            expected = self._first + self._rows
            raise InputError(f"patch batch starts at row {start}, expected row {expected} (batches must be consecutive)")
        p = _with_channels(pred, "predicted patches")
        amp_label = _with_channels(Y_I, "Y_I")
        phase_label = _with_channels(Y_phi, "Y_phi")
        if amp_label.shape != p.shape or phase_label.shape != p.shape:
            raise InputError(
                f"rows {start}..: predicted patches {p.shape}, Y_I {amp_label.shape} and Y_phi {phase_label.shape} differ in shape"
            )
        if p.shape[1:3] != self._probe_amp.shape[:2]:
            probe_n = self._probe_amp.shape[0]
            raise InputError(f"patches are {p.shape[1]}x{p.shape[2]} but the probe is {probe_n}x{probe_n}")
        for name, a in (("predicted patches", p), ("Y_I", amp_label), ("Y_phi", phase_label)):
            if not np.isfinite(a).all():
                raise InputError(f"{name}: non-finite (NaN or inf) values in rows {start}..{start + len(p) - 1}")
        amp_err = np.abs(p).astype(np.float64) * self._probe_amp - amp_label
        phase_err = np.angle(p).astype(np.float64) - phase_label
        phase_err = (phase_err + np.pi) % (2 * np.pi) - np.pi
        mask = np.broadcast_to(self._illuminated, p.shape[1:])
        phase_err = phase_err[:, mask]
        self._sums += (np.abs(amp_err).sum(), (amp_err**2).sum(), np.abs(phase_err).sum(), (phase_err**2).sum())
        self._amp_pixels += amp_err.size
        self._phase_pixels += phase_err.size
        self._rows += len(p)

    def merge(self, other: PatchMetrics) -> None:
        """Add the sums of ``other``, the accumulator of the rows that follow this one's (the next shard).

        Shards merged in row order give the sums of one pass up to float64 rounding.

        Raises
        ------
        InputError
            ``other`` does not start where this one ends, or scores with another threshold.
        """
        stop = self._first + self._rows
        if other._first != stop or other._threshold != self._threshold or other._probe_amp.shape != self._probe_amp.shape:
            raise InputError(f"patch metrics merged must be consecutive shards: expected one from row {stop}, found row {other._first}")
        self._sums += other._sums
        self._amp_pixels += other._amp_pixels
        self._phase_pixels += other._phase_pixels
        self._rows += other._rows

    def result(self) -> PatchMetricsResult:
        """The metrics over every row added so far.

        Raises
        ------
        InputError
            When no row was added, or no probe pixel reaches the illumination threshold.
        """
        if self._rows == 0:
            raise InputError("patch metrics: no patches were added")
        if self._phase_pixels == 0:
            raise InputError("patch metrics: no illuminated pixel for the phase")
        sums = self._sums
        return PatchMetricsResult(
            mae_amp=float(sums[0] / self._amp_pixels),
            mse_amp=float(sums[1] / self._amp_pixels),
            mae_phase=float(sums[2] / self._phase_pixels),
            mse_phase=float(sums[3] / self._phase_pixels),
            rows=self._rows,
            amp_pixels=self._amp_pixels,
            phase_pixels=self._phase_pixels,
            illumination_threshold=self._threshold,
        )


def patch_metrics(
    pred: np.ndarray,
    Y_I: np.ndarray,  # noqa: N803
    Y_phi: np.ndarray,  # noqa: N803
    probe: np.ndarray,
    *,
    illumination_threshold: float = DEFAULT_ILLUMINATION_THRESHOLD,
    batch_size: int = 256,
) -> PatchMetricsResult:
    """Patch metrics of whole arrays (which may be memory-mapped), streamed in batches.

    Parameters
    ----------
    pred : ndarray, shape (n, N, N, C) or (n, N, N), complex
        Predicted patches in model units, in row order.
    Y_I, Y_phi : ndarray, same shape, real
        The labels (``Y_I`` includes ``|P_sim|``; ``Y_phi`` is the object phase).
    probe : ndarray, shape (N, N)
        ``P_sim`` (see :class:`PatchMetrics`).
    illumination_threshold : float
        Fraction of ``max |P_sim|`` above which the phase is scored.
    batch_size : int
        Rows per batch (bounds the memory used).

    Returns
    -------
    PatchMetricsResult
        See the module docstring for exactly what is compared; ``.as_dict()`` gives the
        ``patch`` section of ``metrics.json``.
    """
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    if len(pred) != len(Y_I) or len(pred) != len(Y_phi):
        raise InputError(f"predicted patches ({len(pred)} rows), Y_I ({len(Y_I)}) and Y_phi ({len(Y_phi)}) differ in length")
    acc = PatchMetrics(probe, illumination_threshold=illumination_threshold)
    for start in range(0, len(pred), batch_size):
        stop = start + batch_size
        acc.update(start, pred[start:stop], Y_I[start:stop], Y_phi[start:stop])
    return acc.result()
