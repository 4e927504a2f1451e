"""Mergeable accumulation: the optional part of the stitcher contract that lets a stitch be split, merged and reduced across ranks.

A stitcher that offers it has a method ``accumulator(context)`` returning an
:class:`Accumulator`. A stitch then is ``start`` (the call), any number of :meth:`Accumulator.add`
in any row order, optional :meth:`~Accumulator.merge` of accumulators started on the same
context, :meth:`~Accumulator.reduce` across the ranks of a ``torch.distributed`` process group,
and :meth:`~Accumulator.finish` (or :meth:`~Accumulator.snapshot`, which leaves the
accumulator usable). Stitchers without it keep working: :func:`accumulator` returns None for
them, and a caller stitches the stream whole.

:class:`SumAccumulator` implements merge and reduce once for accumulators whose state is a list
of arrays that add (numerator and weight canvases): merging adds them; reducing is one
``all_reduce(SUM)`` per array, floats in float64 and counts in int64, so the sum of float32
canvases from up to thousands of ranks is exact (hence independent of the reduction order)
before it is rounded back.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from ptychostitch.errors import InputError
from ptychostitch.stitchers.contract import PatchBatch, StitchContext, Stitcher, StitchResult


@runtime_checkable
class Accumulator(Protocol):
    """A stitch in progress: add batches, merge, reduce, finish."""

    def add(self, batch: PatchBatch, positions: np.ndarray | None = None) -> None:
        """Add one batch of rows, in any order relative to other batches (each row once).

        ``positions`` ``(b, C, 2)`` gives the batch's own positions (live use: the context
        has none); without it the rows' positions are taken from the context.
        """
        ...

    def merge(self, other: Accumulator) -> None:
        """Add what ``other`` (started on the same context) accumulated into this one."""
        ...

    def reduce(self, group: Any = None) -> None:
        """Sum the accumulators of every rank of the ``torch.distributed`` group (collective call)."""
        ...

    def snapshot(self) -> StitchResult:
        """The object of what was added so far; the accumulator stays usable."""
        ...

    def finish(self) -> StitchResult:
        """The object, releasing what the accumulator holds; it is not used again."""
        ...


def accumulator(stitcher: Stitcher, context: StitchContext) -> Accumulator | None:
    """Start an accumulator of ``stitcher`` on ``context``, or None when the stitcher offers none."""
    start = getattr(stitcher, "accumulator", None)
    return start(context) if callable(start) else None


def offers_accumulator(stitcher: Stitcher) -> bool:
    """Whether ``stitcher`` offers mergeable accumulation."""
    return callable(getattr(stitcher, "accumulator", None))


class SumAccumulator:
    """Merge and reduce for accumulators whose state is arrays that add; subclasses give the rest.

    Subclasses implement ``arrays()`` (the state, NumPy arrays, modified in place by merge and
    reduce), :meth:`add`, :meth:`snapshot` and optionally :meth:`written` and :meth:`close`.
    """

    def arrays(self) -> list[np.ndarray]:
        """The additive state."""
        raise NotImplementedError

    def written(self) -> None:
        """Called after merge or reduce wrote into the arrays ``arrays()`` returned (for state kept elsewhere)."""

    def close(self) -> None:
        """Release resources held besides the arrays."""

    def finish(self) -> StitchResult:
        result = self.snapshot()
        self.close()
        return result

    def merge(self, other: SumAccumulator) -> None:
        mine, theirs = self.arrays(), other.arrays()
        if type(other) is not type(self) or [a.shape for a in mine] != [b.shape for b in theirs]:
            raise InputError("accumulators merged must come from the same stitcher on the same context")
        for a, b in zip(mine, theirs):
            a += b
        self.written()

    def reduce(self, group: Any = None) -> None:
        import torch
        import torch.distributed as dist

        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend(group) == "nccl" else torch.device("cpu")
        for a in self.arrays():
            real = a.view(a.real.dtype) if np.iscomplexobj(a) else a
            wide = np.int64 if real.dtype.kind in "iu" else np.float64
            tensor = torch.from_numpy(np.ascontiguousarray(real, dtype=wide)).to(device)
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)
            real[...] = tensor.cpu().numpy()
        self.written()
