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
from typing import Any

from ptychostitch.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 600


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


def agree(problem: str) -> None:
    """Share every rank's failure (``""`` for none); raise the first on every rank, naming its rank."""
    import torch.distributed as dist

    problems: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(problems, problem)
    for rank, found in enumerate(problems):
        if found:
            raise InputError(found if rank == dist.get_rank() else f"rank {rank}: {found}")


def evaluate_sharded(config: Any) -> tuple[Any, dict[str, Any]]:
    """``evaluate`` under a distributed launch: shard, accumulate, reduce, and on rank 0 score and write.

    Stitchers without an accumulator (the per-pixel median) are refused: their result depends
    on every patch of a pixel at once, so sharding them would mean gathering all patches to one
    rank, which is the single-process stitch with extra traffic. Patch metrics are not computed
    under a distributed launch (``patch`` is null in ``metrics.json``).
    """
    from dataclasses import replace
    from pathlib import Path

    from ptychostitch.atomic import write_json
    from ptychostitch.data import load_gridlines, read_predictions
    from ptychostitch.runner.artifacts import write_results
    from ptychostitch.runner.context import plan_stitch
    from ptychostitch.runner.provenance import provenance, record_name
    from ptychostitch.runner.result_folder import claim
    from ptychostitch.runner.scoring import score
    from ptychostitch.stitchers.accumulate import accumulator

    launch = start()
    try:
        problem, acc, rows = "", None, range(0)
        try:
            dataset = load_gridlines(config.test_npz)
            predictions = read_predictions(config.predictions, dataset, batch_size=config.batch_size, layout=config.layout)
            plan = plan_stitch(dataset, config.stitch, config.stitcher)
            acc = accumulator(plan.selection.stitcher, plan.context)
            if acc is None:
                raise InputError(
                    f"stitcher {plan.selection.stitcher.name!r} offers no mergeable accumulator, so it cannot run under a "
                    f"distributed launch of {launch.world_size} ranks; run it in one process or choose another --stitcher"
                )
            rows = shard(plan.context.frame_rows, launch.rank, launch.world_size)
            for batch in predictions.batches(rows=rows):
                acc.add(batch)
        except InputError as exc:
            problem = str(exc).splitlines()[0]
        agree(problem)
        acc.reduce()
        log.info("rank %d of %d: rows %s accumulated and reduced", launch.rank, launch.world_size, rows)
        document: dict[str, Any] = {}
        final = Path(config.output_dir)
        if launch.rank == 0:
            result = acc.finish()
            with claim(config.output_dir, overwrite=config.overwrite) as folder:
                scores = score(dataset, result, None)
                document = write_results(folder.staging, dataset.YY_ground_truth, plan.selection, scores, plan.context.options)
                inputs = {"test_npz": config.test_npz, "predictions": config.predictions}
                record = provenance("evaluate", inputs, replace(config, stitch=plan.context.options), plan.selection, {})
                write_json(folder.staging / record_name("evaluate"), {**record, "distributed": {
                    "world_size": launch.world_size, "backend": launch.backend,
                    "shards": [list(map(int, (r.start, r.stop))) for r in (shard(plan.context.frame_rows, k, launch.world_size) for k in range(launch.world_size))],
                }})
                folder.commit(document, keep=(config.test_npz, config.predictions))
            final = folder.final
        else:
            acc.close()
        agree("")
        return final, document
    finally:
        stop()
