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
from ptychostitch.data.predictions import LayoutChoice
from ptychostitch.model.options import LossName, TrainOptions
from ptychostitch.simulate.config import SimulationConfig
from ptychostitch.stitchers.contract import StitchOptions

EMBEDDED_DATASET = SimulationConfig(N=64, gridsize=1, nimgs_train=1, nimgs_test=1, set_phi=True)
"""What the default run simulates (the seed is the run's ``--seed``).

N = 64, gridsize 1, ideal-disk probe, synthetic phase; one train object scanned at a 4 px stride
(6889 patterns) and one test object at a 10 px stride (1089 patterns).
"""

DEFAULT_CROP_TEXT = "N//2, the valid centre of a PtychoPINN-style decoder; --crop N keeps the whole patch"


@dataclass(frozen=True)
class StitchChoice:
    """How ``run``, ``evaluate`` and ``stitchers --test-npz`` combine patches, before the dataset is known.

    Resolved once, by :func:`ptychostitch.runner.context.stitch_options`, into the
    :class:`~ptychostitch.stitchers.StitchOptions` a stitcher is given (and ``metrics.json``
    records). The default keeps the central ``N//2 x N//2`` of each patch (PtychoPINN's position
    path keeps ``M = N//2`` by default; its decoders output 0 outside that centre) and weights
    the kept pixels by ``|probe|**2`` where the file has a probe. Why, with measurements:
    ``docs/metrics.md`` (stitching default).

    Attributes
    ----------
    weighting : {"auto", "uniform", "probe"}
        ``auto``: ``probe`` when the dataset has a probe, else ``uniform``.
    crop : int or None
        Side ``M`` of the kept centre; None means ``N//2``. ``N`` keeps the whole patch.
    device : str
        As :attr:`StitchOptions.device`.
    """

    weighting: Literal["auto", "uniform", "probe"] = field(
        default="auto", metadata={"help": "per-pixel patch weight: 1, |probe|^2, or auto (|probe|^2 where the file has a probe)", "flag": "--stitch-weighting"}
    )
    crop: int | None = field(
        default=None,
        metadata={"help": "keep only the central MxM pixels of each patch", "metavar": "M", "check": "positive", "default_text": DEFAULT_CROP_TEXT},
    )
    device: str = "cpu"

    def resolve(self, n: int, has_probe: bool) -> StitchOptions:
        """The :class:`StitchOptions` this choice means for patches of side ``n``, with or without a probe."""
        weighting = ("probe" if has_probe else "uniform") if self.weighting == "auto" else self.weighting
        return StitchOptions(weighting=weighting, crop=max(1, n // 2) if self.crop is None else self.crop, device=self.device)


STITCH_OPTIONS = StitchChoice()
"""How ``run`` and ``evaluate`` stitch when not told: the central ``N//2`` crop, probe-weighted where a probe exists."""

_DATA, _TRAINING, _INFERENCE = "data", "model and training", "inference and stitching"  # run's argument groups

_TRAIN_FIELDS = {spec.name: spec for spec in fields(TrainOptions)}


def _training(name: str) -> Any:
    """A field declared as :class:`TrainOptions` declares ``name``: its default and its help."""
    spec = _TRAIN_FIELDS[name]
    return field(default=spec.default, metadata={**spec.metadata, "group": _TRAINING})


def _stitcher(**metadata: Any) -> Any:
    return field(default="auto", metadata={"help": "auto (the best capable one) or a stitcher `ptychostitch stitchers` lists", "metavar": "auto|NAME", **metadata})


def _stitch(default: StitchChoice, **metadata: Any) -> Any:
    """A :class:`StitchChoice` whose weighting and crop are flags; the device is the run's own."""
    return field(default=default, metadata={"nested": ("weighting", "crop"), **metadata})


def _overwrite(**metadata: Any) -> Any:
    return field(default=False, metadata={"help": "replace an earlier run in --output-dir instead of writing to DIR-2", **metadata})


@dataclass(frozen=True)
class RunConfig:
    """Everything ``ptychostitch run`` was asked to do (recorded in ``run.json``).

    Each field's help is in its ``metadata``. Beyond it: with ``train_npz`` and ``test_npz`` both
    None, :data:`EMBEDDED_DATASET` comes from the dataset cache
    (:mod:`ptychostitch.runner.dataset_cache`), simulated there once; ``stitch.device``
    is replaced by the resolved ``device``; an earlier run in ``output_dir`` is never overwritten
    without ``overwrite`` (the next free ``DIR-N`` is used).
    """

    train_npz: Path | None = field(
        default=None,
        metadata={"help": "grid-lines train split", "metavar": "P", "default_text": "simulate the embedded dataset", "group": _DATA, "input": True},
    )
    test_npz: Path | None = field(
        default=None,
        metadata={"help": "grid-lines test split", "metavar": "P", "default_text": "simulate the embedded dataset", "group": _DATA, "input": True},
    )
    fresh_data: bool = field(
        default=False,
        metadata={"help": "simulate the embedded dataset again, replacing its cached copy ($PTYCHOSTITCH_CACHE, see docs/simulate.md)", "group": _DATA},
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
        default=None, metadata={"help": "load these weights; with --epochs 0 nothing is trained", "metavar": "PATH", "group": _TRAINING, "input": True}
    )
    epochs: int = _training("epochs")
    batch_size: int = _training("batch_size")
    loss: LossName = _training("loss")
    learning_rate: float = _training("learning_rate")
    val_fraction: float = field(
        default=0.1,
        metadata={"help": "fraction of train rows held out for validation, as one band of the scan (see docs/model.md)", "metavar": "F",
                  "check": "fraction", "group": _TRAINING},
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
    stitch: StitchChoice = _stitch(STITCH_OPTIONS, group=_INFERENCE)
    keep_tmp: bool = field(
        default=True,
        metadata={
            "help": "keep tmp/torch_reassembly/reassembly_test.npz",
            "negative": ("--clean-tmp", "delete the temporary reassembly file at the end"),
        },
    )
    save_predictions: bool = field(
        default=True,
        metadata={
            "help": "save the predicted patches as predictions.npz, evaluate's format, stored uncompressed",
            "negative": ("--no-save-predictions", "do not save predictions.npz"),
            "group": _INFERENCE,
        },
    )


@dataclass(frozen=True)
class EvaluateConfig:
    """Everything ``ptychostitch evaluate`` was asked to do; each field's help is in its ``metadata``."""

    test_npz: Path = field(metadata={"help": "grid-lines test split (PtychoPINN schema)", "metavar": "P", "input": True})
    predictions: Path = field(
        metadata={"help": "key 'patches': one row per test row in order, in one of the --layout layouts", "metavar": "PRED.npz", "input": True}
    )
    output_dir: Path = field(metadata={"help": "where stitched.npz, metrics.json and the PNGs go", "metavar": "DIR"})
    layout: LayoutChoice = field(
        default="auto",
        metadata={"help": "how 'patches' is stored (docs/data.md#prediction-layouts); auto: the one layout its shape and dtype fit"},
    )
    stitcher: str = _stitcher()
    stitch: StitchChoice = _stitch(STITCH_OPTIONS)
    batch_size: int = field(
        default=DEFAULT_BATCH_SIZE, metadata={"help": "rows of predictions read at a time", "metavar": "B", "check": "positive"}
    )
    overwrite: bool = _overwrite()


@dataclass(frozen=True)
class StitchersConfig:
    """What ``ptychostitch stitchers`` was asked; each field's help is in its ``metadata``.

    With ``test_npz`` each stitcher's verdict is the one ``run`` and ``evaluate`` would give with
    the same ``--stitch-weighting`` and ``--crop`` (:func:`ptychostitch.stitchers.verdict`).
    """

    test_npz: Path | None = field(
        default=None, metadata={"help": "also say whether each stitcher can run on this grid-lines test split, and why not", "metavar": "P", "input": True}
    )
    stitch: StitchChoice = _stitch(STITCH_OPTIONS)
    json: bool = field(default=False, metadata={"help": "print JSON instead of a table"})


@dataclass(frozen=True)
class ScoreConfig:
    """Everything ``ptychostitch score`` was asked to do; each field's help is in its ``metadata``."""

    test_npz: Path = field(metadata={"help": "grid-lines test split whose YY_ground_truth is the reference", "metavar": "P", "input": True})
    object: Path = field(
        metadata={
            "help": "key 'object': complex (H, W) or (H, W, 1) in the ground-truth frame; optional key 'coverage' (weights, 0 = uncovered)",
            "metavar": "OBJ.npz",
            "input": True,
        }
    )
    output_dir: Path = field(metadata={"help": "where metrics.json, score.json, stitched.npz and the PNGs go", "metavar": "DIR"})
    overwrite: bool = _overwrite()


@dataclass(frozen=True)
class CompareConfig:
    """Everything ``ptychostitch compare`` was asked to do; each field's help is in its ``metadata``."""

    folders: tuple[Path, ...] = field(metadata={"help": "result folders of run, evaluate or score (each with metrics.json)", "metavar": "DIR"})
    output_dir: Path = field(metadata={"help": "where comparison.csv, comparison.md, comparison.png and compare.json go", "metavar": "OUT"})
    overwrite: bool = _overwrite()
