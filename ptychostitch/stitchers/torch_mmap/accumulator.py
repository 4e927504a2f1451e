"""torch-mmap's mergeable accumulator: the canvases of one stitch, filled batch by batch in any row order.

With positions in the context, every patch is placed as :class:`Placement` plans it for the
whole stream (so accumulators of any split of the stream, started on the same context, have the
same canvases and merge by adding them). Without positions (live use), each batch brings its
own and its patches are splatted as per-patch footprints.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ptychostitch.errors import InputError
from ptychostitch.stitchers.accumulate import SumAccumulator
from ptychostitch.stitchers.contract import PatchBatch, StitchContext, StitchResult, check_context, frame_part
from ptychostitch.stitchers.torch_mmap import kernels
from ptychostitch.stitchers.torch_mmap.canvas import Canvas
from ptychostitch.stitchers.torch_mmap.placement import Placement


class TorchMmapAccumulator(SumAccumulator):
    """The canvases of a torch-mmap stitch of ``context``, named ``name`` in its results."""

    def __init__(self, name: str, context: StitchContext) -> None:
        check_context(context)
        self.name = name
        self.context = context
        self.backend = kernels.choose(torch.device(context.options.device))
        plan_context = context if context.positions is not None else _batch_context(context, np.zeros((0, context.channels, 2)))
        self.plan = Placement.build(plan_context, shared_fractions=self.backend.shared_fractions and context.positions is not None)
        self.canvas = Canvas(self.plan, self.backend)

    def add(self, batch: PatchBatch, positions: np.ndarray | None = None) -> None:
        context = self.context
        if positions is None:
            if context.positions is None:
                raise InputError("this accumulator was started without positions, so every batch must bring its own")
            part = frame_part(context, batch)
            if part is None:
                return
            patches, where = part.patches, self.plan.rows(part.offset, part.offset + len(part.patches))
        else:
            patches = np.asarray(batch.patches)
            expected = (len(patches), context.channels, 2)
            if np.shape(positions) != expected or not np.all(np.isfinite(positions)):
                raise InputError(f"batch positions must be finite, shape {expected}, found shape {np.shape(positions)}")
            own = Placement.build(_batch_context(context, np.asarray(positions, np.float64)), shared_fractions=False)
            where = own.rows(0, len(patches))
        start, size = self.plan.crop_start, self.plan.size
        crop = patches[:, start : start + size, start : start + size]
        flat = np.ascontiguousarray(np.moveaxis(crop, -1, 1), dtype=np.complex64).reshape(-1, size, size)
        with torch.inference_mode():
            self.canvas.add(flat, where)

    def arrays(self) -> list[np.ndarray]:
        planes = self.canvas.planes
        if not isinstance(planes, np.ndarray):
            raise InputError("merging or reducing torch-mmap accumulators needs CPU canvases (device 'cpu')")
        return [planes, *self.canvas.shared_values, *self.canvas.shared_weights]

    def snapshot(self) -> StitchResult:
        obj, coverage = self.canvas.result(self.context.norm_Y_I)
        return StitchResult(obj, coverage, self.name)

    def close(self) -> None:
        self.backend.close()


def _batch_context(context: StitchContext, positions: np.ndarray) -> StitchContext:
    rows = len(positions)
    return dataclasses.replace(context, n_rows=rows, frame_rows=range(rows), positions=positions)
