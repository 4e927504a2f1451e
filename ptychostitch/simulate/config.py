"""The simulator's configuration: one frozen dataclass holding every choice that shapes a dataset.

Field names and defaults follow PtychoPINN's ``GridLinesConfig`` (reference
``gridlines-data.md`` §1). The grid geometry of each split is a :class:`~ptychostitch.geometry.GridLayout`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ptychostitch.errors import InputError
from ptychostitch.geometry import GridLayout

PROBE_SCALE = 4.0
"""PtychoPINN's ``ModelConfig.probe_scale``: ``P_sim = probe / (PROBE_SCALE * mean(|probe| * M))``."""

IDEAL_DISK = "ideal_disk"
"""Value of :attr:`SimulationConfig.probe` that selects the built-in ideal-disk probe."""

SCALE_MODES = ("pad_preserve", "pad_extrapolate", "interpolate", "pipeline")
"""Probe transform modes (reference §4.2)."""

TRAIN_OBJECT_SEED = 1
"""Legacy ``RandomState`` seed of the train objects (PtychoPINN ``np.random.seed(1)``)."""

TEST_OBJECT_SEED = 2
"""Legacy ``RandomState`` seed of the test objects (PtychoPINN ``np.random.seed(2)``)."""


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that determines a simulated grid-lines dataset.

    Attributes
    ----------
    N : int
        Patch (detector) side in pixels.
    gridsize : int
        Group side; each row holds ``gridsize**2`` channels.
    size : int
        Object side in pixels.
    offset : int
        Spacing in pixels between the inner patches of a group (``gridsize > 1`` only).
    outer_offset_train, outer_offset_test : int
        PtychoPINN's ``outer_offset``; the scan stride is half of it, in pixels.
    nimgs_train, nimgs_test : int
        Independent random objects per split.
    nphotons : float
        Expected photons per diffraction pattern, averaged over the train split.
    probe : str
        ``"ideal_disk"`` or the path of an NPZ holding key ``probeGuess`` (square, complex).
    probe_scale_mode : {"pad_preserve", "pad_extrapolate", "interpolate", "pipeline"}
        How the probe is brought to ``N x N`` (reference §4.2).
    probe_smoothing_sigma : float
        Gaussian sigma in pixels of the ``smooth`` step; 0 leaves the probe unsmoothed.
    probe_mask_diameter : float or None
        Diameter in pixels of a hard disk mask applied after the transform pipeline.
    probe_transform_pipeline : str or None
        Explicit pipeline such as ``"smooth:0.5|pad:128|interp:256"``; overrides mode and sigma.
    set_phi : bool
        Give the objects PtychoPINN's synthetic phase (reference §3.3).
    seed : int or None
        Seed of the Poisson noise; None draws fresh entropy (recorded in the metadata).
    compress : bool
        Write deflate-compressed members like PtychoPINN's ``savez_compressed``; the default
        stores them uncompressed so readers can memory-map them.
    """

    N: int = 64
    gridsize: int = 1
    size: int = 392
    offset: int = 4
    outer_offset_train: int = 8
    outer_offset_test: int = 20
    nimgs_train: int = 2
    nimgs_test: int = 2
    nphotons: float = 1e9
    probe: str = IDEAL_DISK
    probe_scale_mode: str = "pad_preserve"
    probe_smoothing_sigma: float = 0.5
    probe_mask_diameter: float | None = None
    probe_transform_pipeline: str | None = None
    set_phi: bool = False
    seed: int | None = None
    compress: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.nphotons) and self.nphotons > 0):
            raise InputError(f"simulate: nphotons must be a positive finite number, found {self.nphotons}")
        if self.probe_scale_mode not in SCALE_MODES:
            raise InputError(
                f"simulate: probe_scale_mode must be one of {', '.join(SCALE_MODES)}, found {self.probe_scale_mode!r}"
            )
        if not (math.isfinite(self.probe_smoothing_sigma) and self.probe_smoothing_sigma >= 0):
            raise InputError(f"simulate: probe_smoothing_sigma must be >= 0, found {self.probe_smoothing_sigma}")
        if self.probe_mask_diameter is not None and not self.probe_mask_diameter > 0:
            raise InputError(f"simulate: probe_mask_diameter must be positive, found {self.probe_mask_diameter}")
        if self.probe_scale_mode == "pipeline" and not self.probe_transform_pipeline:
            raise InputError("simulate: probe_scale_mode 'pipeline' needs probe_transform_pipeline, found none")
        if self.seed is not None and self.seed < 0:
            raise InputError(f"simulate: seed must be a non-negative integer, found {self.seed}")
        self.train_layout  # noqa: B018 - GridLayout validates the geometry
        test = self.test_layout
        if test.gt_origin < 0 or test.gt_side < 1 or test.gt_origin + test.gt_side > self.size:
            raise InputError(
                f"simulate: N={self.N} with test stride {test.stride} px gives no ground-truth crop inside the "
                f"{self.size}-px object; N must exceed outer_offset_test/2"
            )

    @property
    def train_layout(self) -> GridLayout:
        """Scan grid of the train split."""
        return self._layout(self.outer_offset_train, self.nimgs_train)

    @property
    def test_layout(self) -> GridLayout:
        """Scan grid of the test split."""
        return self._layout(self.outer_offset_test, self.nimgs_test)

    def _layout(self, outer_offset: int, nimgs: int) -> GridLayout:
        return GridLayout(
            size=self.size, N=self.N, gridsize=self.gridsize, offset=self.offset,
            outer_offset=outer_offset, nimgs=nimgs,
        )
