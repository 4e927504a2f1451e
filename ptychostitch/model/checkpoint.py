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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ptychostitch.atomic import atomic_path
from ptychostitch.errors import InputError, quoted
from ptychostitch.model.factory import ModelSpec, build_model

FORMAT = "ptychostitch-checkpoint"
VERSION = 1
_SHOWN = 3
"""Keys listed per kind in a refusal (missing, unexpected, wrongly shaped)."""
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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


def load_checkpoint(path: str | os.PathLike[str], plain: ModelSpec | None = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, or a plain ``state_dict``, and rebuild its model.

    A plain ``state_dict`` (a dict of tensors, as ``torch.save(model.state_dict(), PATH)`` writes;
    ``.pt`` or ``.pth``) is loaded into the model ``plain`` describes (the run's ``--model``).

    Raises
    ------
    InputError
        Missing or unreadable file, not a checkpoint nor a state dict, or weights that do not fit
        the model (one line naming the file and the first few missing, unexpected and wrongly
        shaped keys).
    """
    source = Path(path)
    if not source.is_file():
        raise InputError(f"--checkpoint {quoted(source)}: no such file")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        text = _TERMINAL_CODES.sub("", str(exc)).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise InputError(f"--checkpoint {quoted(source)}: not a readable torch checkpoint ({first})") from None
    if _is_state_dict(payload) and plain is not None:
        model = build_model(plain)
        _load_weights(model, payload, source, plain.name)
        return Checkpoint(model, plain, {"source": "state_dict"})
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(
            f"--checkpoint {quoted(source)}: expected a {FORMAT} (saved by ptychostitch run) or a plain state_dict of tensors, found another kind of file"
        )
    if payload.get("version") != VERSION:
        raise InputError(f"--checkpoint {quoted(source)}: expected format version {VERSION}, found {payload.get('version')!r}")
    spec = ModelSpec.from_dict(payload.get("model") or {})
    model = build_model(spec)
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise InputError(f"--checkpoint {quoted(source)}: key 'state_dict' is missing")
    _load_weights(model, state, source, spec.name)
    training = payload.get("training")
    return Checkpoint(model, spec, dict(payload.get("info") or {}), training if isinstance(training, dict) else None)


def _is_state_dict(payload: Any) -> bool:
    return isinstance(payload, dict) and bool(payload) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload.items())


def _load_weights(model: nn.Module, state: Mapping[str, Any], source: Path, name: str) -> None:
    """Load ``state`` into ``model`` (eval mode), or one line listing the first few keys that do not fit."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shaped = [
        f"{key} {tuple(getattr(state[key], 'shape', ()))} (expected {tuple(tensor.shape)})"
        for key, tensor in expected.items()
        if key in state and tuple(getattr(state[key], "shape", ())) != tuple(tensor.shape)
    ]
    problems = [f"{label} {len(keys)}: {', '.join(keys[:_SHOWN])}{', ...' if len(keys) > _SHOWN else ''}"
                for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrongly shaped", shaped)) if keys]
    if problems:
        raise InputError(f"--checkpoint {quoted(source)}: weights do not fit model {name!r}: " + "; ".join(problems))
    model.load_state_dict(dict(state))
    model.eval()
