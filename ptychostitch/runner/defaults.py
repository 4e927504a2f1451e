"""The embedded default run (``ptychostitch run`` with no dataset): what to simulate and how to stitch.

Tuned so that simulate + train + predict + stitch + score fits in 5 minutes on two CPU cores
and reaches stitched SSIM >= 0.80 (amplitude) and >= 0.90 (phase); measurements in
``docs/model.md``. Training uses :class:`~ptychostitch.model.train.TrainOptions` defaults.
"""

from __future__ import annotations

from ptychostitch.simulate.config import SimulationConfig
from ptychostitch.stitchers.contract import StitchOptions

EMBEDDED_DATASET = SimulationConfig(N=64, gridsize=1, nimgs_train=1, nimgs_test=1, set_phi=True)
"""What the default run simulates (the seed is the run's ``--seed``).

N = 64, gridsize 1, ideal-disk probe, synthetic phase; one train object scanned at a 4 px stride
(6889 patterns) and one test object at a 10 px stride (1089 patterns).
"""

STITCH_OPTIONS = StitchOptions(weighting="probe", crop=None)
"""How the default run stitches: whole patches averaged with weights ``|probe|**2``.

The model is only constrained where the probe illuminates the object; probe weighting scored
best of the weightings and crops tried (``docs/model.md``).
"""
