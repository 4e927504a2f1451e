"""Checkpoints: a model's weights plus a JSON-able description, loaded without unpickling code.

A checkpoint is a ``torch.save`` of a plain dict (written atomically)::

    {"format": "ptychostitch-checkpoint", "version": 1,
     "model": ModelSpec.to_dict(),          # name, N, gridsize, architecture
     "info": {...},                          # JSON-able: loss, epochs, history, orientation, ...
     "state_dict": model.state_dict()}

and is read back with ``torch.load(..., weights_only=True)``, which accepts only tensors and
plain containers.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ptychostitch.atomic import atomic_path
from ptychostitch.errors import InputError
from ptychostitch.model.factory import ModelSpec, build_model

FORMAT = "ptychostitch-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes
    ----------
    model : nn.Module
        The model, built from ``spec`` with the saved weights, in eval mode.
    spec : ModelSpec
        Which model it is and what it was built for.
    info : dict
        Whatever the writer recorded (training loss, epochs, history, orientation).
    training : dict or None
        The training state to resume from (:func:`ptychostitch.model.train.train`'s ``resume``), when saved.
    """

    model: nn.Module
    spec: ModelSpec
    info: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] | None = None

    def check_data(self, N: int, gridsize: int, what: str) -> None:
        """Stop with one line if the checkpoint was built for another patch size or gridsize."""
        if (self.spec.N, self.spec.gridsize) != (N, gridsize):
            raise InputError(
                f"checkpoint: model {self.spec.name!r} was built for N={self.spec.N}, gridsize={self.spec.gridsize} "
                f"but {what} has N={N}, gridsize={gridsize}"
            )


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    spec: ModelSpec,
    info: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model``'s weights and description to ``path`` atomically; return the path.

    ``info`` must hold only JSON-able values (numbers, strings, lists, dicts, None); ``training``
    (a training state: tensors, numbers, strings and containers) is stored under ``"training"``.
    """
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "model": spec.to_dict(),
        "info": dict(info or {}),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    if training is not None:
        payload["training"] = dict(training)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` and rebuild its model.

    Raises
    ------
    InputError
        Missing or unreadable file, not a ptychostitch checkpoint, or weights that do not fit
        the described model (one line naming the file and what differs).
    """
    source = Path(path)
    if not source.is_file():
        raise InputError(f"--checkpoint {source}: no such file")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"--checkpoint {source}: not a readable torch checkpoint ({first})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"--checkpoint {source}: expected a {FORMAT} (saved by ptychostitch run), found another kind of file")
    if payload.get("version") != VERSION:
        raise InputError(f"--checkpoint {source}: expected format version {VERSION}, found {payload.get('version')!r}")
    spec = ModelSpec.from_dict(payload.get("model") or {})
    model = build_model(spec)
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise InputError(f"--checkpoint {source}: key 'state_dict' is missing")
    missing = sorted(set(model.state_dict()) - set(state))
    unexpected = sorted(set(state) - set(model.state_dict()))
    if missing or unexpected:
        raise InputError(f"--checkpoint {source}: weights do not fit model {spec.name!r} (missing {missing[:3]}, unexpected {unexpected[:3]})")
    for key, tensor in model.state_dict().items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise InputError(
                f"--checkpoint {source}: weight {key!r} has shape {tuple(state[key].shape)}, model {spec.name!r} expects {tuple(tensor.shape)}"
            )
    model.load_state_dict(state)
    model.eval()
    training = payload.get("training")
    return Checkpoint(model, spec, dict(payload.get("info") or {}), training if isinstance(training, dict) else None)
