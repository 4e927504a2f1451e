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

from ptychostitch.simulate.config import SimulationConfig
from ptychostitch.simulate.plan import Member, SplitPlan, plan
from ptychostitch.simulate.simulator import DatasetPaths, dataset_paths, simulate

__all__ = ["DatasetPaths", "Member", "SimulationConfig", "SplitPlan", "dataset_paths", "plan", "simulate"]
