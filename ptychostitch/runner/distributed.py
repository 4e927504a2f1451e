"""Sharded stitching under ``torchrun`` / ``srun``: each rank reads and accumulates a contiguous block of rows; rank 0 scores and writes.

A launch is distributed when ``WORLD_SIZE`` > 1 (set by ``torchrun`` or by ``srun`` with the
variables of docs/distributed.md). The process group is Gloo on CPU and NCCL on CUDA, with a
timeout (``PTYCHOSTITCH_DIST_TIMEOUT`` seconds, default 600) so that no collective waits for
ever. Rows are sharded in contiguous blocks of ``frame_rows``: each rank reads one contiguous
slice of the memory-mapped file (sequential pages) and every rank's canvas is the whole frame,
so the one reduction is the canvas size whatever the sharding; spatial stripes would make
the canvases smaller but need a scan-order-dependent split and a halo exchange.

Every collective step is preceded by :func:`agree`: each rank says whether it failed (one line)
and all ranks raise the first failure, so one rank's bad input ends every rank with its reason.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ptychostitch.errors import InputError, one_line

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 600
DEFAULT_WAIT_TIMEOUT_S = 86400


@dataclass(frozen=True)
class Launch:
    """This process's place in a distributed launch."""

    rank: int
    world_size: int
    backend: str


def launched() -> bool:
    """Whether this process was started by a multi-process launcher (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start() -> Launch:
    """Join the process group (Gloo on CPU, NCCL when CUDA is available), with a timeout."""
    import torch
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    timeout = datetime.timedelta(seconds=float(os.environ.get("PTYCHOSTITCH_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)))
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=timeout)
    return Launch(dist.get_rank(), dist.get_world_size(), backend)


def stop() -> None:
    """Leave the process group."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def shard(rows: range, rank: int, world_size: int) -> range:
    """Rank ``rank``'s contiguous block of ``rows``: sizes differ by at most one, in rank order."""
    n = len(rows)
    lo, hi = rows.start + n * rank // world_size, rows.start + n * (rank + 1) // world_size
    return range(lo, hi)


def shard_batches(n_rows: int, batch_size: int, rank: int, world_size: int) -> range:
    """Rank ``rank``'s rows when whole batches of ``batch_size`` rows are sharded (see :func:`shard`).

    A rank's forward passes then see the very batches one process would, so its patches are the
    one-process patches.
    """
    blocks = shard(range(-(-n_rows // batch_size)), rank, world_size)
    return range(min(blocks.start * batch_size, n_rows), min(blocks.stop * batch_size, n_rows))


def wait_group() -> Any:
    """A Gloo group for the long waits (other ranks while rank 0 trains or writes): timeout ``PTYCHOSTITCH_DIST_WAIT_TIMEOUT`` s.

    Collective: every rank calls it. The default is a day; a rank that dies ends the launch
    through its launcher (``torchrun`` stops every rank when one fails), so the timeout only
    bounds a rank that hangs.
    """
    import torch.distributed as dist

    seconds = float(os.environ.get("PTYCHOSTITCH_DIST_WAIT_TIMEOUT", DEFAULT_WAIT_TIMEOUT_S))
    return dist.new_group(backend="gloo", timeout=datetime.timedelta(seconds=seconds))


def agree(problem: str, group: Any = None) -> None:
    """Share every rank's failure (``""`` for none); raise the first on every rank, naming its rank."""
    import torch.distributed as dist

    problems: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(problems, problem, group=group)
    for rank, found in enumerate(problems):
        if found:
            raise InputError(found if rank == dist.get_rank() else f"rank {rank}: {found}")


def share(failure: BaseException | None, group: Any = None) -> None:
    """:func:`agree` on ``failure`` (None for none); the rank that failed raises its own exception (its exit status)."""
    try:
        agree("" if failure is None else one_line(str(failure)) or type(failure).__name__, group)
    except InputError:
        if failure is not None:
            raise failure from None
        raise


def refusal(stitcher: str, world_size: int) -> InputError:
    """The error of a stitcher without a mergeable accumulator under a distributed launch."""
    return InputError(
        f"stitcher {stitcher!r} offers no mergeable accumulator, so it cannot run under a distributed launch of "
        f"{world_size} ranks; run it in one process or choose another --stitcher"
    )


@dataclass(frozen=True)
class ShardInput:
    """What one rank stitches: its rows of ``dataset`` as ``batches``, for ``selection`` on ``context``."""

    dataset: Any
    selection: Any
    context: Any
    rows: range
    batches: Iterable[Any]


@dataclass(frozen=True)
class ShardOutput:
    """Rank 0's (None elsewhere): the reduced accumulator, to finish, and the patch metrics and prediction diagnostics of every rank's rows merged in rank order."""

    accumulator: Any
    patch: Any
    predictions: Any = None


def stitch_shard(launch: Launch, prepare: Callable[[], ShardInput]) -> ShardOutput:
    """Every rank: ``prepare`` its shard, accumulate it (scoring its patches), reduce; collective.

    A failure on any rank (in ``prepare`` too) is shared before the reduction, so every rank
    ends with it. Patch metrics and prediction diagnostics are merged in rank order
    (consecutive shards; rank 0 logs the diagnostics' warnings), the canvases
    summed by :meth:`~ptychostitch.stitchers.accumulate.Accumulator.reduce`. Rank 0 gets the
    reduced accumulator and finishes it after this last collective (a failure there is shared
    with :func:`on_rank0`); the other ranks' accumulators are closed.
    """
    import torch.distributed as dist

    from ptychostitch.progress import Progress
    from ptychostitch.runner.scoring import patch_accumulator, prediction_stats, scored, warn_about_predictions
    from ptychostitch.stitchers.accumulate import accumulator

    failure: BaseException | None = None
    acc = patch = stats = None
    try:
        part = prepare()
        acc = accumulator(part.selection.stitcher, part.context)
        if acc is None:
            raise refusal(part.selection.stitcher.name, launch.world_size)
        patch = patch_accumulator(part.dataset, part.rows.start, warn=launch.rank == 0)
        stats = prediction_stats(part.selection.stitcher, part.context)
        desc = f"predict + stitch ({part.selection.stitcher.name}, rank 0 of {launch.world_size})"
        with Progress(log, desc, len(part.rows), "row", show=launch.rank == 0) as bar:
            for batch in scored(part.batches, part.dataset, patch, bar, stats, part.context.frame_rows):
                acc.add(batch)
    except Exception as exc:  # noqa: BLE001 - shared with every rank, then re-raised here
        failure = exc
    share(failure)
    acc.reduce()
    log.info("rank %d of %d: rows %s accumulated and reduced", launch.rank, launch.world_size, part.rows)
    parts: list[Any] = [None] * launch.world_size
    dist.all_gather_object(parts, (patch, stats))
    merged = failure = None
    try:  # on every rank, so that a failure (no illuminated pixel) is every rank's
        if parts[0][0] is not None:
            for later, _ in parts[1:]:
                parts[0][0].merge(later)
            merged = parts[0][0].result()
    except Exception as exc:  # noqa: BLE001 - shared with every rank, then re-raised here
        failure = exc
    share(failure)
    if launch.rank != 0:
        acc.close()
        return ShardOutput(None, None)
    for _, later in parts[1:]:
        parts[0][1].merge(later)
    predictions = parts[0][1].result()
    warn_about_predictions(predictions, part.context)
    return ShardOutput(acc, merged, predictions)


def evaluate_sharded(config: Any) -> tuple[Any, dict[str, Any]]:
    """``evaluate`` under a distributed launch: shard, accumulate, reduce, and on rank 0 score and write.

    Stitchers without an accumulator (the per-pixel median) are refused: their result depends
    on every patch of a pixel at once, so sharding them would mean gathering all patches to one
    rank, which is the single-process stitch with extra traffic. Every row is sharded (rows of
    other objects too), so the patch metrics cover what one process scores.
    """
    from dataclasses import replace
    from pathlib import Path

    from ptychostitch.atomic import write_json
    from ptychostitch.data import load_gridlines, read_predictions
    from ptychostitch.runner.artifacts import write_results
    from ptychostitch.runner.context import plan_stitch
    from ptychostitch.runner.provenance import Stages, provenance, record_name
    from ptychostitch.runner.result_folder import claim
    from ptychostitch.runner.scoring import score

    launch = start()
    try:
        wait = wait_group()
        prepared: list[ShardInput] = []

        def prepare() -> ShardInput:
            dataset = load_gridlines(config.test_npz)
            predictions = read_predictions(config.predictions, dataset, batch_size=config.batch_size, layout=config.layout)
            plan = plan_stitch(dataset, config.stitch, config.stitcher)
            rows = shard(range(dataset.n_rows), launch.rank, launch.world_size)
            prepared.append(ShardInput(dataset, plan.selection, plan.context, rows, predictions.batches(rows=rows)))
            return prepared[0]

        stage = Stages()  # rank 0's are recorded
        with stage("load+stitch"):
            done = stitch_shard(launch, prepare)

        def write() -> tuple[Path, dict[str, Any]]:
            part = prepared[0]
            with claim(config.output_dir, overwrite=config.overwrite) as folder:
                with stage("score"):
                    scores = score(part.dataset, done.accumulator.finish(), done.patch, done.predictions)
                with stage("artifacts"):
                    document = write_results(folder.staging, part.dataset.YY_ground_truth, part.selection, scores, part.context.options)
                inputs = {"test_npz": config.test_npz, "predictions": config.predictions}
                record = provenance("evaluate", inputs, replace(config, stitch=part.context.options), part.selection, stage.seconds)
                section = record_of(launch, shards(range(part.dataset.n_rows), launch.world_size))
                write_json(folder.staging / record_name("evaluate"), {**record, "distributed": section})
                folder.commit(document, keep=(config.test_npz, config.predictions))
            return folder.final, document

        written = on_rank0(launch, wait, write)
        return written if written is not None else (Path(config.output_dir), {})
    finally:
        stop()


def on_rank0(launch: Launch, group: Any, work: Callable[[], Any]) -> Any:
    """Rank 0 does ``work`` (its value returned there, None elsewhere) while the others wait on ``group`` for its outcome."""
    failure: BaseException | None = None
    value = None
    if launch.rank == 0:
        try:
            value = work()
        except Exception as exc:  # noqa: BLE001 - shared with every rank, then re-raised here
            failure = exc
    share(failure, group)
    return value


def shards(rows: range, world_size: int) -> list[range]:
    """Every rank's block of ``rows`` (:func:`shard`), in rank order."""
    return [shard(rows, rank, world_size) for rank in range(world_size)]


def record_of(launch: Launch, blocks: list[range]) -> dict[str, Any]:
    """The ``distributed`` section of a provenance record: ``world_size``, ``backend``, every rank's ``[start, stop)`` rows."""
    return {"world_size": launch.world_size, "backend": launch.backend, "shards": [[block.start, block.stop] for block in blocks]}
