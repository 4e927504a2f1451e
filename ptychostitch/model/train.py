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
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ptychostitch.errors import InputError
from ptychostitch.model.options import TrainOptions
from ptychostitch.model.outputs import as_complex_patches
from ptychostitch.model.physics import diffraction_amplitude, mae_loss, poisson_loss
from ptychostitch.model.predict import to_nchw
from ptychostitch.progress import Progress, duration, rate

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
    """One epoch: mean loss over its batches, the validation loss (None without validation rows), wall and CPU seconds."""

    epoch: int
    loss: float
    wall_s: float
    cpu_s: float
    val_loss: float | None = None


EpochHook = Callable[[EpochRecord, dict[str, Any]], None]
"""Called after every epoch with its record and the training state (:func:`training_state`'s layout)."""


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


def train(
    model: torch.nn.Module,
    data: TrainingData,
    options: TrainOptions,
    *,
    validation: TrainingData | None = None,
    resume: dict[str, Any] | None = None,
    on_epoch: EpochHook | None = None,
) -> TrainResult:
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
    validation : TrainingData, optional
        Held-out rows: their loss (no gradient) is each epoch's ``val_loss``.
    resume : dict, optional
        A training state from ``on_epoch`` (or a checkpoint's ``training`` entry): training
        continues after its epoch with its weights, optimiser, schedule and random states, so
        the result equals an uninterrupted run bit for bit on CPU. With another ``epochs`` than
        the state was trained for, the cosine schedule is stretched from where it stands.
    on_epoch : callable, optional
        ``on_epoch(record, state)`` after every epoch (to write checkpoints).

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
    if validation is not None:
        check_training_data(validation, options.loss)
    calibrate = getattr(model, "calibrate", None)
    if options.epochs and callable(calibrate) and resume is None:
        calibrate(data.diffraction)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        result = _fit(model, data, options, validation, resume, on_epoch)
    model.eval()
    return result


def _fit(
    model: torch.nn.Module,
    data: TrainingData,
    options: TrainOptions,
    validation: TrainingData | None,
    resume: dict[str, Any] | None,
    on_epoch: EpochHook | None,
) -> TrainResult:
    """The epochs of :func:`train`."""
    device = torch.device(options.device)
    rng = np.random.default_rng(options.seed)
    model.to(device).train()
    loss_of = _Loss(data.probe, options.loss, device)
    n_rows = len(data.diffraction)
    steps = options.epochs * math.ceil(n_rows / options.batch_size)
    optimiser = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(steps, 1), eta_min=options.learning_rate / 20)
    result = TrainResult(model)
    first = 0
    if resume is not None:
        first = _restore(resume, model, optimiser, schedule, rng)
        schedule.T_max = max(steps, 1)
        result.history = [EpochRecord(**record) for record in resume.get("history", [])]
    trained_s = 0.0
    for epoch in range(first, options.epochs):
        wall, cpu = time.perf_counter(), time.process_time()
        total, count = 0.0, 0
        ranges = _batches(n_rows, options.batch_size, rng)
        # The epoch's own INFO line below is its summary; a terminal also gets a bar while it runs.
        with Progress(log, f"epoch {epoch + 1}/{options.epochs}", len(ranges), "batch", summary=False) as shown:
            for index, (start, stop) in enumerate(ranges):
                loss = loss_of(model, data, start, stop, f"training epoch {epoch + 1} batch {index + 1} (rows {start}:{stop})")
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
                total += loss.item() * (stop - start)
                count += stop - start
                shown.set_postfix(loss=f"{total / count:.4g}")
                shown.update()
        val_loss = _validation_loss(model, validation, loss_of, options.batch_size, epoch) if validation is not None else None
        record = EpochRecord(epoch + 1, total / count, time.perf_counter() - wall, time.process_time() - cpu, val_loss)
        result.history.append(record)
        trained_s += record.wall_s
        eta = (options.epochs - record.epoch) * trained_s / (record.epoch - first)
        log.info(
            "epoch %d/%d: %s loss %.5g%s (%.1f s wall, %.1f s CPU, %s, ETA %s)", record.epoch, options.epochs, options.loss,
            record.loss, "" if val_loss is None else f", validation {val_loss:.5g}", record.wall_s, record.cpu_s,
            rate(shown.n, shown.elapsed(), "batch"), duration(eta),
        )
        if on_epoch is not None:
            on_epoch(record, _state(record.epoch, model, optimiser, schedule, rng, result.history))
    return result


class _Loss:
    """The training loss of one batch of rows, checked to be finite."""

    def __init__(self, probe: np.ndarray, loss: str, device: torch.device) -> None:
        self.probe = torch.tensor(np.asarray(probe), dtype=torch.complex64).to(device)
        self.support = self.probe.abs() >= SUPPORT_FRACTION * self.probe.abs().max()
        self.loss, self.device = loss, device

    def __call__(self, model: torch.nn.Module, data: TrainingData, start: int, stop: int, where: str) -> torch.Tensor:
        x = to_nchw(data.diffraction[start:stop], self.device)
        patches = as_complex_patches(model(x), tuple(x.shape), where)
        if self.loss == "supervised":
            loss = _supervised_loss(patches, data, start, stop, self.probe, self.support, self.device)
        else:
            predicted = diffraction_amplitude(patches, self.probe)
            loss = mae_loss(predicted, x) if self.loss == "mae" else poisson_loss(predicted, x, float(data.intensity_scale))
        if not torch.isfinite(loss):
            raise InputError(f"{where}: the loss is not finite")
        return loss


def _validation_loss(model: torch.nn.Module, validation: TrainingData, loss_of: _Loss, batch_size: int, epoch: int) -> float:
    """Mean loss over the validation rows, without gradients, in eval mode (no random numbers drawn)."""
    model.eval()
    total, n_rows = 0.0, len(validation.diffraction)
    with torch.no_grad():
        for start in range(0, n_rows, batch_size):
            stop = min(start + batch_size, n_rows)
            total += loss_of(model, validation, start, stop, f"validation after epoch {epoch + 1} (rows {start}:{stop})").item() * (stop - start)
    model.train()
    return total / n_rows


def _state(epoch: int, model: torch.nn.Module, optimiser: Any, schedule: Any, rng: np.random.Generator, history: list[EpochRecord]) -> dict[str, Any]:
    """Everything needed to continue after ``epoch``: weights, optimiser, schedule, random states, history."""
    return {
        "epoch": epoch,
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "optimizer": optimiser.state_dict(),
        "scheduler": schedule.state_dict(),
        "rng": {"torch": torch.random.get_rng_state(), "numpy": rng.bit_generator.state, "python": random.getstate()},
        "history": [vars(record).copy() for record in history],
    }


def _restore(state: dict[str, Any], model: torch.nn.Module, optimiser: Any, schedule: Any, rng: np.random.Generator) -> int:
    """Load a :func:`_state` into the live objects; return the epoch it was taken after."""
    try:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["scheduler"])
        torch.random.set_rng_state(state["rng"]["torch"])
        rng.bit_generator.state = state["rng"]["numpy"]
        random.setstate(state["rng"]["python"])
        return int(state["epoch"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"resume: the training state does not fit this model or is incomplete ({str(exc).splitlines()[0]})") from None


def _supervised_loss(
    patches: torch.Tensor, data: TrainingData, start: int, stop: int, probe: torch.Tensor, support: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """MAE of amplitude ``Y_I / |P_sim|`` plus MAE of phase ``Y_phi``, inside the probe support."""
    amplitude = to_nchw(data.y_i[start:stop], device)[..., support] / probe.abs()[support]
    phase = to_nchw(data.y_phi[start:stop], device)[..., support]
    inside = patches[..., support]
    return torch.mean(torch.abs(inside.abs() - amplitude)) + torch.mean(torch.abs(inside.angle() - phase))
