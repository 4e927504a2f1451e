"""The embedded default run (``ptychostitch run`` with no dataset): what to simulate and how to stitch.

Tuned so that simulate + train + predict + stitch + score fits in 5 minutes on two CPU cores
and reaches stitched SSIM >= 0.80 (amplitude) and >= 0.90 (phase); measurements in
``docs/model.md``. Training uses :class:`~ptychostitch.runner.train.TrainOptions` defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptychostitch.stitchers.contracts import StitchOptions


@dataclass(frozen=True)
class EmbeddedDataset:
    """The grid-lines dataset ``ptychostitch run`` simulates when given no dataset.

    Field names follow the ``ptychostitch simulate`` options. One train object scanned at a
    4 px stride (6889 patterns) and one test object at a 10 px stride (1089 patterns).
    """

    N: int = 64
    gridsize: int = 1
    size: int = 392
    offset: int = 4
    outer_offset_train: int = 8
    outer_offset_test: int = 20
    nimgs_train: int = 1
    nimgs_test: int = 1
    nphotons: float = 1e9
    probe: str = "ideal_disk"
    set_phi: bool = True


EMBEDDED_DATASET = EmbeddedDataset()
"""What the default run simulates."""

STITCH_OPTIONS = StitchOptions(weighting="probe", crop=None)
"""How the default run stitches: whole patches averaged with weights ``|probe|**2``.

The model is only constrained where the probe illuminates the object; probe weighting scored
best of the weightings and crops tried (``docs/model.md``).
"""
