"""How rows are split across ranks: contiguous blocks in rank order, whole prediction batches for ``run``."""

from __future__ import annotations

import pytest

from ptychostitch.runner.distributed import shard, shard_batches, shards


@pytest.mark.parametrize(("n_rows", "world_size"), [(10, 3), (7, 7), (3, 5), (0, 2)])
def test_row_blocks_cover_every_row_once_in_rank_order(n_rows: int, world_size: int) -> None:
    blocks = shards(range(n_rows), world_size)
    assert [row for block in blocks for row in block] == list(range(n_rows))
    sizes = [len(block) for block in blocks]
    assert max(sizes) - min(sizes) <= 1
    assert shard(range(5, 5 + n_rows), 0, world_size).start == 5


@pytest.mark.parametrize(("n_rows", "batch", "world_size"), [(169, 16, 2), (100, 50, 3), (33, 8, 4), (5, 16, 2)])
def test_batch_blocks_hold_whole_batches(n_rows: int, batch: int, world_size: int) -> None:
    blocks = [shard_batches(n_rows, batch, rank, world_size) for rank in range(world_size)]
    assert [row for block in blocks for row in block] == list(range(n_rows))
    assert all(block.start % batch == 0 for block in blocks if len(block))
    batches = [-(-len(block) // batch) for block in blocks]
    assert max(batches) - min(batches) <= 1
    one_process = [range(a, min(a + batch, n_rows)) for a in range(0, n_rows, batch)]
    per_rank = [range(a, min(a + batch, block.stop)) for block in blocks for a in range(block.start, block.stop, batch)]
    assert per_rank == one_process  # every rank's forward passes are batches one process makes
