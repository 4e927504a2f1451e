"""The training loop for patch models, reading rows of (memory-mapped) arrays.

Data come as numpy array-likes of shape ``(B, N, N, C)`` that support row slicing
(``array[start:stop]``); only one batch is read at a time. Batches are contiguous row ranges;
their boundaries move by a random offset and their order is shuffled every epoch (the
grid-lines train split is row-shuffled by the simulator, so a contiguous range is a random
sample).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ptychostitch.errors import InputError
from ptychostitch.model.options import TrainOptions
from ptychostitch.model.outputs import as_complex_patches
from ptychostitch.model.physics import diffraction_amplitude, mae_loss, poisson_loss
from ptychostitch.model.predict import to_nchw

log = logging.getLogger(__name__)

SUPPORT_FRACTION = 0.1
"""Supervised mode compares with the targets where ``|P_sim| >= SUPPORT_FRACTION * max|P_sim|``."""


@dataclass(frozen=True)
class TrainingData:
    """The train split, as the model sees it.

    Attributes
    ----------
    diffraction : array-like, shape (B, N, N, C), float32
        Diffraction amplitudes in file units (``sqrt(counts) / s_I``, fftshifted).
    probe : ndarray, shape (N, N), complex64
        The normalised probe ``P_sim``.
    intensity_scale : float or None
        ``s_I``; required by the ``poisson`` loss.
    y_i, y_phi : array-like, shape (B, N, N, C), float32, or None
        ``Y_I`` (``Y_hat * |P_sim|``) and ``Y_phi`` (radians); required by ``supervised``.
    """

    diffraction: Any
    probe: np.ndarray
    intensity_scale: float | None = None
    y_i: Any = None
    y_phi: Any = None


@dataclass(frozen=True)
class EpochRecord:
    """One epoch: mean loss over its batches, wall and CPU seconds."""

    epoch: int
    loss: float
    wall_s: float
    cpu_s: float


@dataclass
class TrainResult:
    """The trained model and what happened."""

    model: torch.nn.Module
    history: list[EpochRecord] = field(default_factory=list)


def check_training_data(data: TrainingData, loss: str) -> None:
    """Check shapes and what ``loss`` needs, with one-line errors."""
    shape = tuple(data.diffraction.shape)
    if len(shape) != 4 or shape[1] != shape[2] or shape[0] < 1:
        raise InputError(f"train diffraction: expected shape (B, N, N, C) with B >= 1, found {shape}")
    n = shape[1]
    if tuple(np.shape(data.probe)) != (n, n):
        raise InputError(f"probe: expected shape ({n}, {n}) to match train diffraction N={n}, found {tuple(np.shape(data.probe))}")
    if loss == "poisson" and not (data.intensity_scale and data.intensity_scale > 0):
        raise InputError("training with the poisson loss: the intensity scale s_I is missing (it comes from train Y_I and nphotons)")
    if loss == "supervised":
        for name, arr in (("Y_I", data.y_i), ("Y_phi", data.y_phi)):
            if arr is None:
                raise InputError(f"supervised training: train key {name} is missing")
            if tuple(arr.shape) != shape:
                raise InputError(f"supervised training: train {name} has shape {tuple(arr.shape)}, expected {shape} like diffraction")


def _batches(n_rows: int, batch_size: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Contiguous row ranges covering ``[0, n_rows)``: boundaries moved by a random offset, order shuffled."""
    offset = int(rng.integers(batch_size)) if n_rows > batch_size else 0
    edges = [0] + list(range(offset or batch_size, n_rows, batch_size)) + [n_rows]
    ranges = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    return [ranges[i] for i in rng.permutation(len(ranges))]


def train(model: torch.nn.Module, data: TrainingData, options: TrainOptions) -> TrainResult:
    """Train ``model`` in place through the physics (or against labels) and return it.

    Parameters
    ----------
    model : nn.Module
        Maps ``(B, C, N, N)`` float32 diffraction amplitudes to complex patches (see
        ``docs/model.md``); its output is checked on every batch.
    data : TrainingData
        The train split.
    options : TrainOptions
        Loss, epochs, batch size, learning rate, seed, device.

    Returns
    -------
    TrainResult
        The model (in eval mode) and one :class:`EpochRecord` per epoch.

    Raises
    ------
    InputError
        Bad shapes, a missing label or scale, or a model output that is malformed or not finite
        (naming the epoch and batch).
    """
    check_training_data(data, options.loss)
    calibrate = getattr(model, "calibrate", None)
    if options.epochs and callable(calibrate):
        calibrate(data.diffraction)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        result = _fit(model, data, options)
    model.eval()
    return result


def _fit(model: torch.nn.Module, data: TrainingData, options: TrainOptions) -> TrainResult:
    """The epochs of :func:`train`."""
    device = torch.device(options.device)
    rng = np.random.default_rng(options.seed)
    model.to(device).train()
    probe = torch.tensor(np.asarray(data.probe), dtype=torch.complex64).to(device)
    support = probe.abs() >= SUPPORT_FRACTION * probe.abs().max()
    n_rows = len(data.diffraction)
    steps = options.epochs * math.ceil(n_rows / options.batch_size)
    optimiser = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(steps, 1), eta_min=options.learning_rate / 20)
    result = TrainResult(model)
    quiet = not log.isEnabledFor(logging.INFO)
    for epoch in range(options.epochs):
        wall, cpu = time.perf_counter(), time.process_time()
        total, count = 0.0, 0
        ranges = _batches(n_rows, options.batch_size, rng)
        bar = tqdm(ranges, desc=f"epoch {epoch + 1}/{options.epochs}", unit="batch", disable=quiet, leave=False)
        for index, (start, stop) in enumerate(bar):
            x = to_nchw(data.diffraction[start:stop], device)
            patches = as_complex_patches(model(x), tuple(x.shape), f"training epoch {epoch + 1} batch {index + 1} (rows {start}:{stop})")
            if options.loss == "supervised":
                loss = _supervised_loss(patches, data, start, stop, probe, support, device)
            else:
                predicted = diffraction_amplitude(patches, probe)
                loss = mae_loss(predicted, x) if options.loss == "mae" else poisson_loss(predicted, x, float(data.intensity_scale))
            if not torch.isfinite(loss):
                raise InputError(f"training epoch {epoch + 1} batch {index + 1} (rows {start}:{stop}): the loss is not finite")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * (stop - start)
            count += stop - start
            bar.set_postfix(loss=f"{total / count:.4g}")
        record = EpochRecord(epoch + 1, total / count, time.perf_counter() - wall, time.process_time() - cpu)
        result.history.append(record)
        log.info("epoch %d/%d: %s loss %.5g (%.1f s wall, %.1f s CPU)", record.epoch, options.epochs, options.loss, record.loss, record.wall_s, record.cpu_s)
    return result


def _supervised_loss(
    patches: torch.Tensor, data: TrainingData, start: int, stop: int, probe: torch.Tensor, support: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """MAE of amplitude ``Y_I / |P_sim|`` plus MAE of phase ``Y_phi``, inside the probe support."""
    amplitude = to_nchw(data.y_i[start:stop], device)[..., support] / probe.abs()[support]
    phase = to_nchw(data.y_phi[start:stop], device)[..., support]
    inside = patches[..., support]
    return torch.mean(torch.abs(inside.abs() - amplitude)) + torch.mean(torch.abs(inside.angle() - phase))
