"""What ``run`` and ``evaluate`` are asked to do, and what they do when not told: importable without torch.

:class:`RunConfig` and :class:`EvaluateConfig` declare every option once: its default here, its
command-line help in the field's ``metadata`` (the flags are generated from it by
:mod:`ptychostitch.commands.flags`). The training options come from
:class:`~ptychostitch.model.options.TrainOptions`.

The embedded default run (``ptychostitch run`` with no dataset) is tuned so that simulate + train
+ predict + stitch + score fits in 5 minutes on two CPU cores and reaches stitched SSIM >= 0.80
(amplitude) and >= 0.90 (phase); measurements in ``docs/model.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from ptychostitch.data import DEFAULT_BATCH_SIZE
from ptychostitch.model.options import LossName, TrainOptions
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

_DATA, _TRAINING, _INFERENCE = "data", "model and training", "inference and stitching"  # run's argument groups

_TRAIN_FIELDS = {spec.name: spec for spec in fields(TrainOptions)}


def _training(name: str) -> Any:
    """A field declared as :class:`TrainOptions` declares ``name``: its default and its help."""
    spec = _TRAIN_FIELDS[name]
    return field(default=spec.default, metadata={**spec.metadata, "group": _TRAINING})


def _stitcher(**metadata: Any) -> Any:
    return field(default="auto", metadata={"help": "auto (the best capable one) or a stitcher `ptychostitch stitchers` lists", "metavar": "auto|NAME", **metadata})


def _stitch(default: StitchOptions, **metadata: Any) -> Any:
    """``StitchOptions`` whose weighting and crop are flags; the device is the run's own."""
    return field(default=default, metadata={"nested": ("weighting", "crop"), **metadata})


def _overwrite(**metadata: Any) -> Any:
    return field(default=False, metadata={"help": "replace an earlier run in --output-dir instead of writing to DIR-2", **metadata})


@dataclass(frozen=True)
class RunConfig:
    """Everything ``ptychostitch run`` was asked to do (recorded in ``run.json``).

    Each field's help is in its ``metadata``. Beyond it: with ``train_npz`` and ``test_npz`` both
    None, :data:`EMBEDDED_DATASET` is simulated into ``output_dir/datasets/``; ``stitch.device``
    is replaced by the resolved ``device``; an earlier run in ``output_dir`` is never overwritten
    without ``overwrite`` (the next free ``DIR-N`` is used).
    """

    train_npz: Path | None = field(
        default=None, metadata={"help": "grid-lines train split", "metavar": "P", "default_text": "simulate the embedded dataset", "group": _DATA}
    )
    test_npz: Path | None = field(
        default=None, metadata={"help": "grid-lines test split", "metavar": "P", "default_text": "simulate the embedded dataset", "group": _DATA}
    )
    output_dir: Path = field(default=Path("ptychostitch-run"), metadata={"help": "artifacts folder", "metavar": "DIR", "group": _DATA})
    overwrite: bool = _overwrite(group=_DATA)
    resume: Path | None = field(
        default=None,
        metadata={"help": "continue the run in DIR from its last checkpoint (same options; --epochs may change)", "metavar": "DIR", "group": _DATA},
    )
    model: str = field(
        default="reference",
        metadata={
            "help": "'reference', or a factory(N, gridsize) returning an nn.Module (see docs/model.md)",
            "metavar": "NAME|module:factory",
            "group": _TRAINING,
        },
    )
    checkpoint: Path | None = field(
        default=None, metadata={"help": "load these weights; with --epochs 0 nothing is trained", "metavar": "PATH", "group": _TRAINING}
    )
    epochs: int = _training("epochs")
    batch_size: int = _training("batch_size")
    loss: LossName = _training("loss")
    learning_rate: float = _training("learning_rate")
    val_fraction: float = field(
        default=0.1,
        metadata={"help": "fraction of train rows held out for validation, as one band of the scan (see docs/model.md)", "metavar": "F",
                  "check": "non-negative", "group": _TRAINING},
    )
    seed: int = field(
        default=0,
        metadata={"help": "seed of training, the initial weights and the embedded dataset's noise", "metavar": "S", "group": _TRAINING},
    )
    infer_batch_size: int = field(
        default=128, metadata={"help": "rows per forward pass", "metavar": "B", "check": "positive", "group": _INFERENCE}
    )
    device: Literal["cpu", "cuda", "auto"] = field(
        default="cpu", metadata={"help": "torch device for training, inference and torch-based stitchers", "group": _INFERENCE}
    )
    stitcher: str = _stitcher(group=_INFERENCE)
    stitch: StitchOptions = _stitch(STITCH_OPTIONS, group=_INFERENCE)
    keep_tmp: bool = field(
        default=True,
        metadata={
            "help": "keep tmp/torch_reassembly/reassembly_test.npz",
            "negative": ("--clean-tmp", "delete the temporary reassembly file at the end"),
        },
    )


@dataclass(frozen=True)
class EvaluateConfig:
    """Everything ``ptychostitch evaluate`` was asked to do; each field's help is in its ``metadata``."""

    test_npz: Path = field(metadata={"help": "grid-lines test split (PtychoPINN schema)", "metavar": "P"})
    predictions: Path = field(
        metadata={"help": "key 'patches': complex, (n, N, N) or (n, N, N, C), one row per test row in order", "metavar": "PRED.npz"}
    )
    output_dir: Path = field(metadata={"help": "where stitched.npz, metrics.json and the PNGs go", "metavar": "DIR"})
    stitcher: str = _stitcher()
    stitch: StitchOptions = _stitch(StitchOptions())
    batch_size: int = field(
        default=DEFAULT_BATCH_SIZE, metadata={"help": "rows of predictions read at a time", "metavar": "B", "check": "positive"}
    )
    overwrite: bool = _overwrite()
