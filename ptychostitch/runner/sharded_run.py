"""``run`` under ``torchrun`` / ``srun``: rank 0 trains and shares the weights, every rank predicts and stitches its rows, rank 0 scores and writes.

Training is rank 0's alone; the other ranks wait for one broadcast (on the long-timeout Gloo
group of :func:`~ptychostitch.runner.distributed.wait_group`) of a :class:`Handoff`: the
effective configuration, the test file, the model's spec and ``state_dict``, the twin
orientation and the chosen stitcher, or rank 0's one-line failure. Broadcasting the trained
weights, rather than training identically on every rank, keeps training a one-process affair
(one checkpoint writer, ``--resume`` unchanged) and needs no bit-identical arithmetic across
ranks (not given across GPUs or thread counts); it costs one copy of the weights per rank.
Data-parallel training (DDP) may follow.

Prediction is sharded in whole batches of ``--infer-batch-size`` rows
(:func:`~ptychostitch.runner.distributed.shard_batches`), contiguous in rank order, so every
forward pass sees the batch one process would; each rank reads only its rows of the test file
(memory-mapped), scores their patches and accumulates them; one reduction sums the canvases
(:func:`~ptychostitch.runner.distributed.stitch_shard`). Under a distributed launch the
reassembly file is not written (each rank reads the test file itself).

``predictions.npz`` is written in place by every rank: rank 0 creates it in the staging folder,
zero-filled at its full shape with one stored ``patches`` member
(:func:`~ptychostitch.data.npz_writer.presized_npz`), beside a token file; every rank that sees
the token writes its rows, batch by batch, through ``np.memmap`` at the member's offset; after
the reduction rank 0 records the checksum (:func:`~ptychostitch.data.npz_writer.seal_npz`) and
the file is committed with the folder. Should any rank not see the token (a staging folder not
shared between nodes), the file is skipped with a warning: gathering every patch on rank 0
would undo the sharding.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ptychostitch.data.npz_writer import presized_npz, seal_npz
from ptychostitch.errors import InputError, one_line
from ptychostitch.patch_stream import PatchBatch
from ptychostitch.runner import distributed
from ptychostitch.runner.distributed import Launch, ShardInput

log = logging.getLogger(__name__)

TOKEN_FILE = ".ranks-see-this-folder"
"""The file rank 0 writes into the staging folder; a rank that sees it writes its rows of ``predictions.npz``."""


@dataclass(frozen=True)
class SharedPredictions:
    """``predictions.npz`` being written in place: the file, its ``patches`` payload's offset and shape, and the token file."""

    path: str
    offset: int
    shape: tuple[int, ...]
    token: str


@dataclass(frozen=True)
class Handoff:
    """What rank 0 broadcasts once its model is ready (or ``error``, its failure, and nothing else)."""

    error: str = ""
    config: Any = None
    device: str = "cpu"
    test_npz: str = ""
    stitcher: str = ""
    spec: Any = None
    state: Any = None
    twin: bool = False
    predictions: SharedPredictions | None = None


class Team:
    """Rank 0's side of a distributed ``run``: handed to :func:`ptychostitch.runner.run.run`, which calls it at each step."""

    def __init__(self, launch: Launch, wait: Any) -> None:
        self.launch = launch
        self.wait = wait
        self.phase = "model"  # then "stitch" (failures shared by stitch_shard), then "write"
        self.blocks: list[range] = []
        self.predictions: SharedPredictions | None = None

    def check(self, selection: Any) -> None:
        """Refuse, before anything is trained, a stitcher that cannot be sharded."""
        from ptychostitch.stitchers.accumulate import offers_accumulator

        if not offers_accumulator(selection.stitcher):
            raise distributed.refusal(selection.stitcher.name, self.launch.world_size)

    def share(self, config: Any, device: str, test: Any, selection: Any, spec: Any, model: Any, twin: bool, staging: Path) -> None:
        """Broadcast the trained model and what the other ranks need to predict and stitch their rows (and write them, into ``staging``)."""
        import torch.distributed as dist

        if config.save_predictions:
            self.predictions = _start_predictions(Path(staging), test)
        state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
        handoff = Handoff("", config, device, str(Path(test.path).resolve()), selection.stitcher.name, spec, state, twin, self.predictions)
        dist.broadcast_object_list([handoff], src=0, group=self.wait)
        self.phase = "stitch"

    def fail(self, failure: Exception) -> None:
        """Tell the other ranks of rank 0's ``failure`` in whatever they are waiting for; returns (the caller re-raises)."""
        import torch.distributed as dist

        if self.phase == "model":
            dist.broadcast_object_list([Handoff(error=one_line(str(failure)) or type(failure).__name__)], src=0, group=self.wait)
        elif self.phase == "write":
            self.phase = "done"
            try:
                distributed.share(failure, self.wait)
            except Exception:  # noqa: BLE001 - the caller re-raises the original
                return

    def predict_and_score(self, model: Any, test: Any, context: Any, selection: Any, twin: bool, config: Any, device: str) -> Any:
        """Rank 0's shard of the prediction and stitch, the reduction, and the scores of the whole."""
        from ptychostitch.runner.run import PREDICTIONS_FILE
        from ptychostitch.runner.scoring import score

        shared = _agreed(self.launch, self.predictions)
        done = distributed.stitch_shard(self.launch, lambda: _shard(self.launch, test, selection, context, model, twin, config, device, shared))
        self.phase = "write"  # from here a failure (sealing the file too) reaches the ranks waiting for rank 0 to write
        if shared is not None:
            seal_npz(shared.path)
            os.replace(shared.path, Path(shared.path).with_name(PREDICTIONS_FILE))
            Path(shared.token).unlink()
        self.blocks = [distributed.shard_batches(test.n_rows, config.infer_batch_size, k, self.launch.world_size) for k in range(self.launch.world_size)]
        return score(test, done.accumulator.finish(), done.patch, done.predictions)

    def record(self) -> dict[str, Any]:
        """The ``distributed`` section of ``run.json``."""
        return distributed.record_of(self.launch, self.blocks)


def run_sharded(config: Any) -> tuple[Path, dict[str, Any]]:
    """``run`` on every rank of a distributed launch; rank 0 returns the folder and ``metrics.json``, the others ``(output_dir, {})``."""
    from ptychostitch.runner import run as pipeline

    launch = distributed.start()
    try:
        wait = distributed.wait_group()
        if launch.rank != 0:
            _follow(launch, wait)
            return Path(config.output_dir), {}
        team = Team(launch, wait)
        try:
            written = pipeline.run(config, team)
        except Exception as exc:
            team.fail(exc)
            raise
        distributed.share(None, wait)
        return written
    finally:
        distributed.stop()


def _follow(launch: Launch, wait: Any) -> None:
    """A rank other than 0: wait for the model, predict and stitch this rank's rows, wait for rank 0 to write."""
    import torch.distributed as dist

    box: list[Any] = [None]
    dist.broadcast_object_list(box, src=0, group=wait)
    handoff: Handoff = box[0]
    if handoff.error:
        raise InputError(f"rank 0: {handoff.error}")
    shared = _agreed(launch, handoff.predictions)
    distributed.stitch_shard(launch, lambda: _rebuilt_shard(launch, handoff, shared))
    distributed.share(None, wait)


def _start_predictions(staging: Path, test: Any) -> SharedPredictions:
    """Rank 0: the token file, and ``predictions.npz`` (under a temporary name) zero-filled at its full shape, in ``staging``."""
    from ptychostitch.data.predictions import PATCHES_KEY

    token = staging / TOKEN_FILE
    token.write_text("written by rank 0; every rank that sees it writes its rows of predictions.npz\n")
    path = staging / ".predictions.npz.ranks.tmp"
    shape = (test.n_rows, test.N, test.N, test.channels)
    offset = presized_npz(path, PATCHES_KEY, shape, np.dtype(np.complex64))
    return SharedPredictions(str(path.resolve()), offset, shape, str(token.resolve()))


def _agreed(launch: Launch, shared: SharedPredictions | None) -> SharedPredictions | None:
    """``shared`` if every rank sees its token file, else None (rank 0 warns and removes the file); collective unless ``shared`` is None."""
    import torch.distributed as dist

    if shared is None:
        return None
    seen: list[Any] = [None] * launch.world_size
    dist.all_gather_object(seen, Path(shared.token).is_file())
    if all(seen):
        return shared
    if launch.rank == 0:
        blind = ", ".join(str(rank) for rank, found in enumerate(seen) if not found)
        log.warning("predictions.npz is not written: rank %s cannot see the staging folder %s (the patches stay on their ranks); "
                    "use --no-save-predictions to silence this", blind, Path(shared.token).parent)
        Path(shared.path).unlink()
        Path(shared.token).unlink()
    return None


def _written(batches: Iterable[PatchBatch], shared: SharedPredictions) -> Iterator[PatchBatch]:
    """Yield ``batches`` unchanged, each first written into its rows of ``predictions.npz`` in place."""
    rows = np.memmap(shared.path, dtype=np.complex64, mode="r+", offset=shared.offset, shape=shared.shape)
    for batch in batches:
        rows[batch.start:batch.stop] = np.asarray(batch.patches, dtype=np.complex64)
        yield batch
    rows.flush()
    del rows


def _rebuilt_shard(launch: Launch, handoff: Handoff, shared: SharedPredictions | None) -> ShardInput:
    """The shard of a rank other than 0, from rank 0's :class:`Handoff`."""
    from ptychostitch.data import load_gridlines
    from ptychostitch.model.factory import build_model
    from ptychostitch.runner.context import plan_stitch

    config = handoff.config
    test = load_gridlines(Path(handoff.test_npz))
    plan = plan_stitch(test, replace(config.stitch, device=handoff.device), config.stitcher)
    if plan.selection.stitcher.name != handoff.stitcher:
        raise InputError(f"rank {launch.rank} chose stitcher {plan.selection.stitcher.name!r} but rank 0 chose {handoff.stitcher!r}: "
                         "install the same stitchers on every node")
    model = build_model(handoff.spec, seed=config.seed)
    model.load_state_dict(handoff.state)
    return _shard(launch, test, plan.selection, plan.context, model, handoff.twin, config, handoff.device, shared)


def _shard(
    launch: Launch, test: Any, selection: Any, context: Any, model: Any, twin: bool, config: Any, device: str, shared: SharedPredictions | None
) -> ShardInput:
    """This rank's whole batches of the test rows, predicted from the test file as they are read (and written into ``shared``, if given)."""
    from ptychostitch.model.predict import predict_batches

    rows = distributed.shard_batches(test.n_rows, config.infer_batch_size, launch.rank, launch.world_size)
    batches = predict_batches(model, test.diffraction, batch_size=config.infer_batch_size, device=device, twin=twin, rows=rows)
    if shared is not None:
        batches = _written(batches, shared)
    return ShardInput(test, selection, context, rows, batches)
