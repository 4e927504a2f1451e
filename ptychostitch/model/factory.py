"""Choosing a model: the built-in reference model by name, or a user's ``module:factory``.

The contract a user's factory follows is written down in ``docs/model.md``:
``factory(N: int, gridsize: int) -> torch.nn.Module``, mapping float32 diffraction amplitudes
``(B, C, N, N)`` to complex64 normalised object patches ``(B, C, N, N)`` (or a real tensor
``(B, C, N, N, 2)`` holding ``[real, imag]``), with ``C = gridsize**2``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from ptychostitch.errors import InputError
from ptychostitch.model.reference import ReferenceConfig, ReferenceModel

REFERENCE = "reference"
"""Name of the built-in model (:class:`~ptychostitch.model.reference.ReferenceModel`)."""


@dataclass(frozen=True)
class ModelSpec:
    """Which model to build, in a form a checkpoint can store (JSON-able via :meth:`to_dict`).

    Attributes
    ----------
    name : str
        ``"reference"`` or a user's ``"module:factory"``.
    N, gridsize : int
        Patch side and group side the model is built for.
    architecture : dict
        The reference model's :class:`ReferenceConfig` fields other than N and gridsize;
        empty for a user's model.
    """

    name: str
    N: int
    gridsize: int
    architecture: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description."""
        return {"name": self.name, "N": self.N, "gridsize": self.gridsize, "architecture": dict(self.architecture)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ModelSpec":
        """Rebuild from :meth:`to_dict`."""
        try:
            return cls(str(values["name"]), int(values["N"]), int(values["gridsize"]), dict(values.get("architecture") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"model description: expected keys name, N, gridsize, architecture, found {dict(values)!r} ({exc})") from None


def model_spec(name: str, N: int, gridsize: int, **architecture: Any) -> ModelSpec:
    """Describe the model ``name`` (``"reference"`` or ``"module:factory"``) for ``N`` and ``gridsize``.

    ``architecture`` overrides :class:`ReferenceConfig` defaults (reference model only).
    """
    if name != REFERENCE and ":" not in name:
        raise InputError(f"--model: expected {REFERENCE!r} or 'module:factory', found {name!r}")
    if name != REFERENCE and architecture:
        raise InputError(f"--model {name}: architecture options apply only to the {REFERENCE!r} model")
    if name == REFERENCE:
        config = ReferenceConfig.from_dict({**architecture, "N": N, "gridsize": gridsize})
        architecture = {k: v for k, v in config.to_dict().items() if k not in ("N", "gridsize")}
    return ModelSpec(name, int(N), int(gridsize), architecture)


def build_model(spec: ModelSpec, seed: int = 0) -> nn.Module:
    """Build the (untrained) model that ``spec`` describes, its initial weights drawn with ``seed``.

    The global torch random state is left as it was.

    Raises
    ------
    InputError
        The module cannot be imported, the factory is missing or fails, or it does not return
        an ``nn.Module``.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _build(spec)


def _build(spec: ModelSpec) -> nn.Module:
    """:func:`build_model` without the seeding."""
    if spec.name == REFERENCE:
        return ReferenceModel(ReferenceConfig.from_dict({**spec.architecture, "N": spec.N, "gridsize": spec.gridsize}))
    module_name, _, factory_name = spec.name.partition(":")
    if not module_name or not factory_name:
        raise InputError(f"--model {spec.name}: expected 'module:factory' with both parts")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"--model {spec.name}: cannot import module {module_name!r} ({exc})") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise InputError(f"--model {spec.name}: module {module_name!r} has no callable {factory_name!r}")
    try:
        model = factory(spec.N, spec.gridsize)
    except Exception as exc:  # noqa: BLE001 - a user's code may raise anything; report it in one line
        raise InputError(f"--model {spec.name}: factory({spec.N}, {spec.gridsize}) raised {exc!r}") from None
    if not isinstance(model, nn.Module):
        raise InputError(f"--model {spec.name}: factory({spec.N}, {spec.gridsize}) returned {type(model).__name__}, expected a torch.nn.Module")
    return model
