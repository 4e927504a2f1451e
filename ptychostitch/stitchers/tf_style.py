"""``tf-style``: the grid-tiling stitch of PtychoPINN's TensorFlow grid-lines pipeline.

Each scan window contributes the ``stride x stride`` block around its centre, tiled without
overlap, times ``norm_Y_I`` (PtychoPINN's
``ptycho/workflows/grid_lines_workflow.py::stitch_predictions``). Unlike PtychoPINN, groups of
``gridsize > 1`` are placed correctly: channel ``(i, j)`` of a group is cropped at rows
``gt_origin - offset*i`` (columns likewise with ``j``), so every channel covers the same tile,
and the tile is the mean of the channels. PtychoPINN tiles the channels side by side instead,
which gives a checkerboard.

Needs the regular-grid layout (grid-lines metadata); ignores positions. A crop is honoured by
refusing it when the tiles reach outside the kept centre. Tiles do not overlap, so each pixel has
one value (or the mean of a group's channels) and a weighting changes nothing: any is accepted.
:meth:`TfStyleStitcher.pixel_weights` says which patch pixels the tiles use, so that the
prediction diagnostics weigh only those.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ptychostitch import hookimpl
from ptychostitch.geometry import GridLayout, crop_window
from ptychostitch.stitchers.accumulate import SumAccumulator
from ptychostitch.stitchers.contract import Capability, PatchBatch, StitchContext, StitchResult, frame_batches, frame_part


class TfStyleStitcher:
    """Grid tiling in the ground-truth frame; the fallback when positions are unknown."""

    name = "tf-style"
    priority = 10

    def capability(self, context: StitchContext) -> Capability:
        grid = context.grid
        if grid is None:
            return Capability(False, "needs the regular-grid layout (grid-lines metadata: outer_offset_test, nimgs_test)")
        if (grid.N, grid.gridsize) != (context.N, context.gridsize):
            return Capability(False, f"grid layout is for N={grid.N}, gridsize={grid.gridsize} but patches are N={context.N}, gridsize={context.gridsize}")
        if grid.n_rows != context.n_rows:
            return Capability(False, f"grid layout has {grid.n_rows} rows ({grid.nimgs} objects x {grid.m}x{grid.m}) but the data has {context.n_rows}")
        tiled = grid.m * grid.stride
        if context.frame_shape != (tiled, tiled):
            return Capability(False, f"tiles cover {tiled}x{tiled} px but the ground-truth frame is {context.frame_shape[0]}x{context.frame_shape[1]}")
        low = grid.gt_origin - grid.offset * (grid.gridsize - 1)
        if low < 0 or grid.gt_origin + grid.stride > grid.N:
            return Capability(False, f"a {grid.stride}-px tile at patch offset {grid.gt_origin} does not fit in an N={grid.N} patch")
        start, side = crop_window(context.N, context.options.crop)
        if low < start or grid.gt_origin + grid.stride > start + side:
            return Capability(
                False, f"its {grid.stride}-px tiles reach patch pixels {low} .. {grid.gt_origin + grid.stride - 1}, outside the kept crop {start} .. {start + side - 1}"
            )
        return Capability(True, f"regular {grid.m}x{grid.m} grid, stride {grid.stride} px, gridsize {grid.gridsize}")

    def stitch(self, context: StitchContext, batches: Iterable[PatchBatch]) -> StitchResult:
        accumulator = self.accumulator(context)
        for part in frame_batches(context, batches):
            accumulator.add(part)
        return accumulator.finish()

    def pixel_weights(self, context: StitchContext) -> np.ndarray:
        """``(N, N, C)``: ``1 / C`` on each channel's tile, 0 elsewhere (only the tiles are stitched, whatever the crop)."""
        grid = context.grid
        assert grid is not None, "capability() was not checked"
        s, g = grid.stride, grid.gridsize
        starts = tile_starts(grid)
        weights = np.zeros((context.N, context.N, g * g))
        for ch in range(g * g):
            i, j = divmod(ch, g)
            weights[starts[i] : starts[i] + s, starts[j] : starts[j] + s, ch] = 1 / (g * g)
        return weights

    def accumulator(self, context: StitchContext) -> TfStyleAccumulator:
        """A mergeable accumulator of a stitch of ``context`` (:mod:`~ptychostitch.stitchers.accumulate`)."""
        return TfStyleAccumulator(self.name, context)


class TfStyleAccumulator(SumAccumulator):
    """The tiles of a tf-style stitch: each row writes its own tile, so merging adds disjoint tiles."""

    def __init__(self, name: str, context: StitchContext) -> None:
        grid = context.grid
        assert grid is not None, "capability() was not checked"
        self.name, self.context = name, context
        s, m = grid.stride, grid.m
        self.canvas = np.zeros((m, s, m, s), dtype=np.complex128)
        self.coverage = np.zeros((m, s, m, s), dtype=np.float32)

    def add(self, batch: PatchBatch, positions: np.ndarray | None = None) -> None:
        part = frame_part(self.context, batch)
        if part is None:
            return
        grid = self.context.grid
        s, m, g = grid.stride, grid.m, grid.gridsize
        starts = tile_starts(grid)
        tiles = np.zeros((len(part.patches), s, s), dtype=np.complex128)
        for ch in range(g * g):
            i, j = divmod(ch, g)
            tiles += part.patches[:, starts[i] : starts[i] + s, starts[j] : starts[j] + s, ch]
        r, c = np.divmod(part.offset + np.arange(len(part.patches)), m)
        self.canvas[r, :, c, :] = tiles / (g * g)
        self.coverage[r, :, c, :] = g * g

    def arrays(self) -> list[np.ndarray]:
        return [self.canvas, self.coverage]

    def snapshot(self) -> StitchResult:
        side = self.canvas.shape[0] * self.canvas.shape[1]
        obj = (self.canvas.reshape(side, side) * self.context.norm_Y_I).astype(np.complex64)
        return StitchResult(obj, self.coverage.reshape(side, side).copy(), self.name)


def tile_starts(grid: GridLayout) -> list[int]:
    """The first patch row (and column) of the tile of group index ``i`` = 0 .. gridsize-1."""
    return [grid.gt_origin - grid.offset * i for i in range(grid.gridsize)]


@hookimpl
def register_stitchers(register) -> None:  # noqa: ANN001 - pluggy passes a callable
    register(TfStyleStitcher())
