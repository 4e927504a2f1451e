"""Mergeable accumulation: built-ins offer it, check_stitcher catches a broken merge, reduce over Gloo sums ranks."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from ptychostitch.stitchers import PatchBatch, get
from ptychostitch.stitchers.accumulate import accumulator, offers_accumulator
from ptychostitch.stitchers.torch_mmap import TorchMmapStitcher
from ptychostitch.testing import check_stitcher, grid_case, scattered_case


@pytest.mark.parametrize("name", ["torch-mmap", "tf-shift-sum", "tf-style"])
def test_builtins_offer_accumulators(name: str) -> None:
    assert offers_accumulator(get(name))


class _ForgetfulMerge(TorchMmapStitcher):
    name = "forgetful"

    def accumulator(self, context):  # noqa: ANN001, ANN201 - test double
        acc = super().accumulator(context)
        acc.merge = lambda other: None
        return acc


def test_check_stitcher_catches_a_merge_that_drops_rows() -> None:
    with pytest.raises(AssertionError, match="merging accumulators"):
        check_stitcher(_ForgetfulMerge())


def test_live_positions_match_context_positions() -> None:
    case = scattered_case(1)
    whole = TorchMmapStitcher().stitch(case.context, case.batches())
    live = accumulator(TorchMmapStitcher(), _without_positions(case.context))
    rows = case.context.frame_rows
    for start in reversed(range(rows.start, rows.stop)):
        live.add(PatchBatch(start, case.patches[start : start + 1]), case.context.positions[start : start + 1])
    result = live.finish()
    assert np.abs(result.object - whole.object).max() <= 1e-6 * np.abs(whole.object).max()
    assert np.array_equal(result.coverage > 0, whole.coverage > 0)


def _without_positions(context):  # noqa: ANN001, ANN202
    from dataclasses import replace

    return replace(context, positions=None)


def _reduce_worker(rank: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    case = grid_case(2)
    acc = accumulator(TorchMmapStitcher(), case.context)
    half = case.context.n_rows // 2
    lo, hi = (0, half) if rank == 0 else (half, case.context.n_rows)
    acc.add(PatchBatch(lo, case.patches[lo:hi]))
    acc.reduce()
    out[rank] = acc.finish().object
    dist.destroy_process_group()


def test_reduce_over_gloo_gives_the_whole_stitch() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.start_processes(_reduce_worker, args=(port, out), nprocs=2, start_method="spawn")
    case = grid_case(2)
    whole = TorchMmapStitcher().stitch(case.context, case.batches())
    for rank in (0, 1):
        assert np.abs(out[rank] - whole.object).max() <= 1e-6 * np.abs(whole.object).max()
