"""What a configuration will write, before anything is simulated: every member's shape and dtype.

The writer takes its ``.npy`` headers from this plan, so the plan is the one statement of the
file layout (``docs/simulate.md#output-keys``): ``B`` rows of ``N x N x C`` patches per split,
``C = gridsize**2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ptychostitch.geometry import GridLayout
from ptychostitch.simulate.config import TEST_OBJECT_SEED, TRAIN_OBJECT_SEED, SimulationConfig

PATCH_MEMBERS = ("diffraction", "Y_I", "Y_phi")
"""Per-row patch members, ``(B, N, N, C)`` float32, streamed in chunks."""

COORD_MEMBERS = ("coords_nominal", "coords_true", "coords_offsets")
"""Per-row coordinate members, ``(B, 1, 2, C)`` float32."""


@dataclass(frozen=True)
class Member:
    """Shape and dtype of one NPZ member."""

    shape: tuple[int, ...]
    dtype: np.dtype


@dataclass(frozen=True)
class SplitPlan:
    """One split (``train`` or ``test``) of a dataset.

    Attributes
    ----------
    name : {"train", "test"}
    layout : GridLayout
        The split's scan grid.
    object_seed : int
        Legacy ``RandomState`` seed of its objects.
    members : Mapping[str, Member]
        Every member the file will hold, in writing order. ``_metadata`` is a 0-d unicode
        array whose length is known only when written (dtype ``<U0`` here).
    """

    name: str
    layout: GridLayout
    object_seed: int
    members: Mapping[str, Member]


def plan_split(config: SimulationConfig, name: str) -> SplitPlan:
    """Plan the ``train`` or ``test`` split of ``config``."""
    is_test = name == "test"
    layout = config.test_layout if is_test else config.train_layout
    rows, n, c = layout.n_rows, config.N, layout.channels
    f32, c64 = np.dtype(np.float32), np.dtype(np.complex64)
    members: dict[str, Member] = {key: Member((rows, n, n, c), f32) for key in PATCH_MEMBERS}
    members.update({key: Member((rows, 1, 2, c), f32) for key in COORD_MEMBERS})
    members["YY_full"] = Member((layout.nimgs, config.size, config.size, 1), c64)
    members["probeGuess"] = Member((n, n), c64)
    members["probe_simulated"] = Member((n, n), c64)
    if is_test:
        members["YY_ground_truth"] = Member((layout.gt_side, layout.gt_side, 1), c64)
        members["norm_Y_I"] = Member((), np.dtype(np.float64))
    members["_metadata"] = Member((), np.dtype(np.str_))
    return SplitPlan(
        name=name,
        layout=layout,
        object_seed=TEST_OBJECT_SEED if is_test else TRAIN_OBJECT_SEED,
        members=MappingProxyType(members),
    )


def plan(config: SimulationConfig) -> dict[str, SplitPlan]:
    """Plans of both splits, ``{"train": ..., "test": ...}``."""
    return {name: plan_split(config, name) for name in ("train", "test")}
