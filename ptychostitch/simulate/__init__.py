"""Grid-lines simulator: PtychoPINN-compatible train/test NPZs without TensorFlow.

Usage::

    from ptychostitch.simulate import SimulationConfig, simulate
    paths = simulate(SimulationConfig(N=64, gridsize=1, seed=0), "out")
    paths.train, paths.test   # out/datasets/N64/gs1/{train,test}.npz

:func:`plan` gives every member's shape and dtype without simulating. The modules:
``config`` (the dataclass), ``objects`` (lines objects), ``probe`` and ``probe_transforms``,
``patches`` (grid extraction), ``forward`` (diffraction and noise), ``split`` (one split's
objects and rows), ``metadata``, ``plan``, ``simulator``; files are written with
:mod:`ptychostitch.data.npz_writer`.
See ``docs/simulate.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ptychostitch.simulate.config import SimulationConfig
from ptychostitch.simulate.plan import Member, SplitPlan, plan

if TYPE_CHECKING:
    from ptychostitch.simulate.simulator import DatasetPaths, dataset_paths, simulate

_LAZY = ("DatasetPaths", "dataset_paths", "simulate")
"""Names of :mod:`~ptychostitch.simulate.simulator`, imported on first use: the configuration and
the plan (and so the flags of ``simulate --help``) are importable without SciPy."""

__all__ = ["DatasetPaths", "Member", "SimulationConfig", "SplitPlan", "dataset_paths", "plan", "simulate"]


def __getattr__(name: str) -> Any:
    """``ptychostitch.simulate.<name>``: import the simulator when one of its names is first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.simulator"), name)
    globals()[name] = value
    return value
