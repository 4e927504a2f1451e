"""Checkpoints during training, and ``run --resume DIR``.

Every epoch ``checkpoints/last.pt`` is written (atomically) into the run's staging folder, and
``checkpoints/best.pt`` whenever the validation loss (the training loss without validation rows)
is the lowest so far; both hold the model, optimiser, schedule and random states and the run's
configuration. Ctrl-C during training keeps what was staged in ``DIR`` (its checkpoints, and the
simulated datasets) without ``metrics.json``, so ``DIR`` stays an unfinished folder, and
``run --resume DIR`` continues from ``DIR/checkpoints/last.pt``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable

from ptychostitch.errors import InputError, quoted
from ptychostitch.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ptychostitch.model.factory import ModelSpec
from ptychostitch.model.train import EpochRecord
from ptychostitch.runner.defaults import RunConfig
from ptychostitch.runner.provenance import json_values

LAST = Path("checkpoints") / "last.pt"
BEST = Path("checkpoints") / "best.pt"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, after ``epoch`` epochs were checkpointed in ``folder``."""

    def __init__(self, folder: Path, epoch: int) -> None:
        super().__init__(f"interrupted after epoch {epoch}")
        self.folder, self.epoch = folder, epoch


def config_record(config: RunConfig) -> dict[str, Any]:
    """``config`` as JSON values (paths as strings)."""
    return json_values(config)


def resumed(config: RunConfig) -> tuple[RunConfig, Checkpoint]:
    """The configuration recorded in ``config.resume``'s last checkpoint, with ``config.epochs`` if given, and that checkpoint.

    ``config.epochs`` is None when ``--epochs`` was not given (the recorded epochs are kept).
    """
    folder = Path(config.resume)  # type: ignore[arg-type]
    path = folder / LAST
    if not path.is_file():
        raise InputError(f"--resume {quoted(folder)}: expected {quoted(path)} (written by ptychostitch run during training), found none")
    checkpoint = load_checkpoint(path)
    recorded = checkpoint.info.get("config")
    if checkpoint.training is None or not isinstance(recorded, dict):
        raise InputError(f"{quoted(path)}: expected a training state and the run's config, found a checkpoint without them")
    paths = {name: None if recorded.get(name) is None else Path(recorded[name]) for name in ("train_npz", "test_npz", "checkpoint")}
    values = {**recorded, **paths, "stitch": dataclasses.replace(RunConfig().stitch, **recorded["stitch"]), "output_dir": folder, "overwrite": True, "resume": folder,
              "fresh_data": False}
    values["epochs"] = recorded["epochs"] if config.epochs is None else config.epochs
    names = {spec.name for spec in dataclasses.fields(RunConfig)}
    return RunConfig(**{k: v for k, v in values.items() if k in names}), checkpoint


def checkpoint_writer(staging: Path, spec: ModelSpec, config: RunConfig) -> Callable[[EpochRecord, dict[str, Any]], None]:
    """The ``on_epoch`` hook of training: ``last.pt`` every epoch, ``best.pt`` on a new lowest loss."""
    best = [math.inf]
    record_config = config_record(dataclasses.replace(config, resume=None))

    def write(record: EpochRecord, state: dict[str, Any]) -> None:
        info = {"config": record_config, "epoch": record.epoch, "loss": record.loss, "val_loss": record.val_loss}
        model = _Weights(state["model"])
        save_checkpoint(staging / LAST, model, spec, info, state)  # type: ignore[arg-type]
        score = record.loss if record.val_loss is None else record.val_loss
        if score < best[0]:
            best[0] = score
            save_checkpoint(staging / BEST, model, spec, info, state)  # type: ignore[arg-type]

    return write


class _Weights:
    """A stand-in model for :func:`save_checkpoint`: just a state dict."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    def state_dict(self) -> dict[str, Any]:
        return self._state
