"""The simulator's configuration: one frozen dataclass holding every choice that shapes a dataset.

Field names and defaults follow PtychoPINN's ``GridLinesConfig``
(``ptycho/workflows/grid_lines_workflow.py``). The grid geometry of each split is a
:class:`~ptychostitch.geometry.GridLayout`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

from ptychostitch.errors import InputError
from ptychostitch.geometry import GridLayout

PROBE_SCALE = 4.0
"""PtychoPINN's ``ModelConfig.probe_scale``: ``P_sim = probe / (PROBE_SCALE * mean(|probe| * M))``."""

IDEAL_DISK = "ideal_disk"
"""Value of :attr:`SimulationConfig.probe` that selects the built-in ideal-disk probe."""

ScaleMode = Literal["pad_preserve", "pad_extrapolate", "interpolate", "pipeline"]
"""Probe transform modes (PtychoPINN's ``apply_probe_transform_pipeline``; ``docs/simulate.md``)."""

SCALE_MODES: tuple[str, ...] = get_args(ScaleMode)
"""The values of :data:`ScaleMode`, in order."""

TRAIN_OBJECT_SEED = 1
"""Legacy ``RandomState`` seed of the train objects (PtychoPINN ``np.random.seed(1)``)."""

TEST_OBJECT_SEED = 2
"""Legacy ``RandomState`` seed of the test objects (PtychoPINN ``np.random.seed(2)``)."""


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that determines a simulated grid-lines dataset.

    Each field's help (what ``ptychostitch simulate --help`` shows) is in its ``metadata``;
    ``docs/simulate.md`` explains every option. Beyond that: ``probe`` is ``"ideal_disk"`` or an
    NPZ whose ``probeGuess`` is square and complex; ``offset`` matters only for ``gridsize > 1``;
    a ``seed`` of None draws fresh entropy, and the seed used is recorded in ``_metadata``.
    """

    N: int = field(default=64, metadata={"help": "patch (detector) side in pixels", "check": "positive"})
    gridsize: int = field(default=1, metadata={"help": "group side; gridsize**2 channels per row", "check": "positive"})
    size: int = field(default=392, metadata={"help": "object side in pixels", "check": "positive"})
    offset: int = field(default=4, metadata={"help": "spacing of the patches inside a group, px", "check": "non-negative"})
    outer_offset_train: int = field(default=8, metadata={"help": "train outer offset; scan stride is half of it", "check": "positive"})
    outer_offset_test: int = field(default=20, metadata={"help": "test outer offset; scan stride is half of it", "check": "positive"})
    nimgs_train: int = field(default=2, metadata={"help": "train objects", "check": "positive"})
    nimgs_test: int = field(default=2, metadata={"help": "test objects", "check": "positive"})
    nphotons: float = field(default=1e9, metadata={"help": "mean photons per train pattern", "check": "positive"})
    probe: str = field(
        default=IDEAL_DISK, metadata={"help": "built-in ideal disk, or an NPZ with key probeGuess", "metavar": "ideal_disk|PATH.npz"}
    )
    probe_scale_mode: ScaleMode = field(default="pad_preserve", metadata={"help": "how the probe is brought to N x N"})
    probe_smoothing_sigma: float = field(
        default=0.5, metadata={"help": "Gaussian sigma (px) of the smooth step; 0 disables it", "check": "non-negative"}
    )
    probe_mask_diameter: float | None = field(
        default=None, metadata={"help": "hard disk mask of diameter D px after the pipeline", "metavar": "D", "check": "positive"}
    )
    probe_transform_pipeline: str | None = field(
        default=None,
        metadata={"help": "explicit pipeline, e.g. 'smooth:0.5|pad:128|interp:256' (overrides mode and sigma)", "metavar": "STEPS"},
    )
    set_phi: bool = field(default=False, metadata={"help": "give the objects PtychoPINN's synthetic phase"})
    seed: int | None = field(
        default=None, metadata={"help": "seed of the Poisson noise", "check": "non-negative", "default_text": "fresh, recorded in _metadata"}
    )
    compress: bool = field(
        default=False, metadata={"help": "deflate members like savez_compressed", "default_text": "uncompressed, memory-mappable"}
    )

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
