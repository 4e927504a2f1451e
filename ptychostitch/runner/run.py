"""The grid-lines runner, whole: data -> model -> patch stream -> stitcher -> metrics -> artifacts.

:func:`run` trains (or loads) a torch model on a cached grid-lines train split, predicts every
test patch in one streaming pass (from the memory-mapped reassembly file whenever the test
split has positions), stitches into the ground-truth frame with the selected stitcher, scores the stitched
object (primary) and the patches (debug), and writes the artifacts. With no dataset paths it
uses the embedded default dataset, simulated once into the dataset cache
(:mod:`ptychostitch.runner.dataset_cache`) and reused.

Every option is checked before any work (:func:`_prepare`): the numbers, the stitcher (selected
on the test file, or on the embedded dataset's geometry before it is simulated), the model, the
dataset cache and the output folder. A mistake costs no simulation or training, and leaves
nothing behind.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ptychostitch.atomic import atomic_path, write_json
from ptychostitch.data import GridLinesDataset, load_gridlines, reassembly
from ptychostitch.data.predictions import PredictionsWriter
from ptychostitch.errors import InputError, quoted
from ptychostitch.model.checkpoint import load_checkpoint, save_checkpoint
from ptychostitch.model.factory import build_model, model_spec
from ptychostitch.model.options import TrainOptions
from ptychostitch.model.physics import intensity_scale
from ptychostitch.model.predict import predict_batches
from ptychostitch.model.train import TrainingData, train
from ptychostitch.model.twin import choose_orientation
from ptychostitch.options import check_numbers
from ptychostitch.patch_stream import PatchBatch
from ptychostitch.runner import distributed
from ptychostitch.runner.artifacts import write_results
from ptychostitch.runner.context import plan_stitch, simulated_context, stitch_context, stitch_options
from ptychostitch.runner.dataset_cache import cached_dataset, usable_root
from ptychostitch.runner.defaults import EMBEDDED_DATASET, RunConfig
from ptychostitch.runner.figures import write_loss_plot
from ptychostitch.runner.provenance import Stages, input_record, provenance
from ptychostitch.runner.result_folder import ResultFolder, claim
from ptychostitch.runner.resume import LAST, TrainingInterrupted, checkpoint_writer, resumed
from ptychostitch.runner.scoring import simulation_probe, stitch_and_score
from ptychostitch.runner.validation import Rows, split_rows
from ptychostitch.simulate import SimulationConfig
from ptychostitch.stitchers import Selection, StitchContext, select

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.npz"
"""The predicted patches in a run's result folder, in ``evaluate``'s format (unless ``--no-save-predictions``)."""


def run(config: RunConfig, team: Any = None) -> tuple[Path, dict[str, Any]]:
    """Run the whole pipeline; return the output folder used and the ``metrics.json`` content.

    Every option is checked first (:func:`_prepare`), then the result folder is claimed
    (:func:`~ptychostitch.runner.result_folder.claim`), so an unusable option or ``output_dir`` is
    an error before anything is simulated or trained; every file, the checkpoint and the
    reassembly file included, is written into its staging folder and committed at the end,
    ``metrics.json`` last. Under ``torchrun`` (``WORLD_SIZE`` > 1) every rank runs
    :mod:`ptychostitch.runner.sharded_run`, which calls this on rank 0 with its ``team``.
    """
    if team is None and distributed.launched():
        from ptychostitch.runner.sharded_run import run_sharded

        return run_sharded(config)
    if (config.train_npz is None) != (config.test_npz is None):
        raise InputError("give both --train-npz and --test-npz, or neither (to simulate the embedded default)")
    resume = None
    if config.resume is not None:
        config, resume = resumed(config)
    device = _device(config.device)
    stage = Stages()
    prepared = _prepare(config, device, stage)
    with claim(config.output_dir, overwrite=config.overwrite) as folder:
        document = _run(config, device, folder, prepared, stage, resume, team)
    return folder.final, document


@dataclass(frozen=True)
class _Prepared:
    """What :func:`_prepare` found: the chosen stitcher, and the splits when they were given (else the embedded dataset's config)."""

    selection: Selection
    context: StitchContext | None = None
    test: GridLinesDataset | None = None
    train: GridLinesDataset | None = None
    embedded: SimulationConfig | None = None


def _prepare(config: RunConfig, device: str, stage: Stages) -> _Prepared:
    """Check every option before any work; raise :class:`~ptychostitch.errors.InputError` (naming the option) at the first bad one.

    The numbers are checked against their declared ranges; the stitcher is selected with the
    chosen weighting and crop on the test file, or for the embedded dataset on the geometry it
    will have (:func:`~ptychostitch.runner.context.simulated_context`), and the dataset cache must
    be writable; the ``--model`` name must be well formed. Files are only opened (memory-mapped),
    never read whole.
    """
    check_numbers(config)
    choice = replace(config.stitch, device=device)
    if config.train_npz is None or config.test_npz is None:
        embedded = replace(EMBEDDED_DATASET, seed=config.seed)
        selection = select(simulated_context(embedded, choice), config.stitcher)
        model_spec(config.model, embedded.N, embedded.gridsize)
        usable_root()  # last: it creates the cache folder
        return _Prepared(selection, embedded=embedded)
    with stage("load"):
        test = load_gridlines(config.test_npz)
        plan = plan_stitch(test, choice, config.stitcher)
        train_split = _train_split(config, config.train_npz, test)
        model_spec(config.model, test.N, test.gridsize)
    return _Prepared(plan.selection, plan.context, test, train_split)


def _train_split(config: RunConfig, path: Path, test: GridLinesDataset) -> GridLinesDataset | None:
    """The train split at ``path``, unless nothing is trained (a checkpoint with ``--epochs 0``); it must match ``test``."""
    if config.checkpoint is not None and not config.epochs:
        return None
    train_split = load_gridlines(path, split="train")
    if (train_split.N, train_split.gridsize) != (test.N, test.gridsize):
        raise InputError(
            f"{quoted(path)} has N={train_split.N}, gridsize={train_split.gridsize} but {quoted(test.path)} has "
            f"N={test.N}, gridsize={test.gridsize}: train and test must match"
        )
    return train_split


def _run(
    config: RunConfig, device: str, folder: ResultFolder, prepared: _Prepared, stage: Stages, resume: Any = None, team: Any = None
) -> dict[str, Any]:
    staging = folder.staging
    test, train_split, context, selection, cached = prepared.test, prepared.train, prepared.context, prepared.selection, None
    if prepared.embedded is not None:
        with stage("simulate"):
            cached = cached_dataset(prepared.embedded, fresh=config.fresh_data)
        with stage("load"):
            test = load_gridlines(cached.paths.test)
            context = stitch_context(test, stitch_options(test, replace(config.stitch, device=device)))
            train_split = _train_split(config, cached.paths.train, test)
    assert test is not None and context is not None
    if team is not None:
        team.check(selection)
    with stage("train"), _keep_checkpoints(folder):
        model, spec, history = _model(config, test, train_split, device, resume, staging)
        probe = simulation_probe(test)
        orientation = None
        if test.positions is not None and probe is not None and len(test.frame_rows) > 1:
            orientation = choose_orientation(
                model, test.diffraction, test.positions, probe, start=test.frame_rows.start,
                batch_size=config.infer_batch_size, device=device,
            )
        twin = orientation is not None and orientation.twin
        checkpoint = save_checkpoint(
            staging / "checkpoint.pt", model, spec,
            {"loss": config.loss, "epochs": config.epochs, "history": [asdict(e) for e in history], "twin": twin},
        )
        if team is not None:
            team.share(config, device, test, selection, spec, model, twin, staging)
    with stage("predict+stitch"):
        diffraction = test.diffraction
        tmp_file = staging / reassembly.RELATIVE_PATH
        if team is not None:
            scores = team.predict_and_score(model, test, context, selection, twin, config, device)
        else:
            if test.positions is not None:
                reassembly.write_reassembly(test, tmp_file)
                diffraction = reassembly.mapped_diffraction(tmp_file, test.channels)
            patches = predict_batches(model, diffraction, batch_size=config.infer_batch_size, device=device, twin=twin)
            with _saved_predictions(staging, test, config.save_predictions) as tee:
                scores = stitch_and_score(test, context, selection, tee(patches))
    with stage("artifacts"):
        document = write_results(staging, test.YY_ground_truth, selection, scores, context.options)
        if history:
            write_loss_plot(staging / "loss.png", [e.epoch for e in history], [e.loss for e in history], [e.val_loss for e in history])
        if tmp_file.exists() and not config.keep_tmp:
            tmp_file.unlink()
    if cached is not None:
        inputs: dict[str, Any] = {"train_npz": cached.inputs["train"] if train_split is not None else None, "test_npz": cached.inputs["test"]}
    else:
        inputs = {"train_npz": None if train_split is None else input_record(train_split.path), "test_npz": input_record(test.path)}
    inputs.update(checkpoint=config.checkpoint, resume=None if config.resume is None else config.resume / LAST)
    write_json(
        staging / "run.json",
        {
            **provenance("run", inputs, replace(config, stitch=context.options, device=device), selection, stage.seconds),
            "output_dir": str(folder.final),
            "datasets": {
                "train": str(train_split.path if train_split is not None else config.train_npz),
                "test": str(test.path),
                "simulated": cached is not None,
                "cache": None if cached is None else {"folder": str(cached.folder), "simulated_now": cached.simulated},
            },
            "checkpoint": str(folder.final_path(checkpoint)),
            "model": spec.to_dict(),
            "twin_orientation": asdict(orientation) if orientation is not None else None,
            "training": [asdict(epoch) for epoch in history],
            **({} if team is None else {"distributed": team.record()}),
        },
    )
    folder.commit(document, keep=[path for path in (config.train_npz, config.test_npz, config.checkpoint) if path is not None])
    log.info("done: %s (%s)", folder.final, ", ".join(f"{k} {v:.1f} s" for k, v in stage.seconds.items()))
    return document


@contextlib.contextmanager
def _saved_predictions(staging: Path, test: GridLinesDataset, save: bool) -> Iterator[Callable[[Iterable[PatchBatch]], Iterable[PatchBatch]]]:
    """Yield the tee that writes the patch stream to ``predictions.npz`` as it passes (the identity unless ``save``).

    The one prediction pass feeds both the stitcher and the file; the file appears (atomically)
    only once the stream has been stitched whole.
    """
    if not save:
        yield lambda batches: batches
        return
    with atomic_path(staging / PREDICTIONS_FILE) as tmp, PredictionsWriter(tmp, test.n_rows, test.N, test.channels) as writer:
        yield writer.tee


@contextlib.contextmanager
def _keep_checkpoints(folder: ResultFolder) -> Iterator[None]:
    """Ctrl-C while training: keep the staged checkpoints in the folder, unfinished, to resume from."""
    try:
        yield
    except KeyboardInterrupt:
        staged = folder.staging / LAST
        if not staged.is_file():
            raise
        import torch

        epoch = int(torch.load(staged, map_location="cpu", weights_only=True)["info"]["epoch"])
        if not folder.keep_unfinished():
            raise
        raise TrainingInterrupted(folder.final, epoch) from None


def _model(
    config: RunConfig, test: GridLinesDataset, train_split: GridLinesDataset | None, device: str, resume: Any, staging: Path
) -> tuple[Any, Any, list[Any]]:
    """Build or load the model and train it unless a checkpoint is given with ``--epochs 0``."""
    if resume is not None:
        model, spec = resume.model, resume.spec
    elif config.checkpoint is not None:
        loaded = load_checkpoint(config.checkpoint, plain=model_spec(config.model, test.N, test.gridsize))
        loaded.check_data(test.N, test.gridsize, str(test.path))
        model, spec = loaded.model, loaded.spec
    else:
        spec = model_spec(config.model, test.N, test.gridsize)
        model = build_model(spec, seed=config.seed)
    if train_split is None:
        return model, spec, []
    data = _training_data(train_split, config.loss)
    rows = split_rows(train_split, config.val_fraction, config.seed)
    validation = None
    if len(rows.validation):
        data, validation = (_subset(data, chosen) for chosen in (rows.train, rows.validation))
    result = train(
        model, data, _train_options(config, device), validation=validation,
        resume=None if resume is None else resume.training, on_epoch=checkpoint_writer(staging, spec, config),
    )
    return result.model, spec, result.history


def _subset(data: TrainingData, rows: Any) -> TrainingData:
    """``data`` restricted to ``rows``."""
    return replace(data, **{name: None if getattr(data, name) is None else Rows(getattr(data, name), rows) for name in ("diffraction", "y_i", "y_phi")})


def _device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: torch sees no CUDA device here; use --device cpu or auto")
    return requested


def _training_data(split: GridLinesDataset, loss: str) -> TrainingData:
    probe = simulation_probe(split)
    if probe is None:
        raise InputError(f"{quoted(split.path)}: training needs a probe: expected key probe_simulated or probeGuess, found neither")
    scale = None
    if loss == "poisson":
        nphotons = (split.metadata.get("physics_parameters") or {}).get("nphotons")
        if nphotons is None:
            raise InputError(f"{quoted(split.path)}: the poisson loss needs _metadata physics_parameters.nphotons, found none")
        scale = intensity_scale(split.Y_I, float(nphotons))
    return TrainingData(diffraction=split.diffraction, probe=probe, intensity_scale=scale, y_i=split.Y_I, y_phi=split.Y_phi)


def _train_options(config: RunConfig, device: str) -> TrainOptions:
    """The run's training options (every :class:`TrainOptions` field is a :class:`RunConfig` field) on ``device``."""
    return TrainOptions(**{spec.name: getattr(config, spec.name) for spec in fields(TrainOptions) if spec.name != "device"}, device=device)

