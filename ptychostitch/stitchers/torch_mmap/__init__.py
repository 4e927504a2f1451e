"""``torch-mmap``: the streaming, frame-exact position stitcher, in PyTorch.

Every pixel of every patch is splatted bilinearly onto a canvas in the ground-truth frame, and
its weight onto a coverage canvas; the object is ``Σ w·O / Σ w`` where covered and 0 elsewhere,
times ``norm_Y_I``. Patch pixel ``(a, b)`` of a patch at position ``(py, px)`` lands at
``(py - (N-1)/2 + a, px - (N-1)/2 + b)`` (:mod:`ptychostitch.geometry`); a crop ``M`` keeps the
window :func:`~ptychostitch.geometry.crop_window` gives, where it lands. Weights are 1
(``uniform``) or ``|probe|**2`` cropped the same way (``probe``). Patch pixels outside the frame
are clipped, never wrapped; a patch is skipped only when none of its pixels reach the frame.

Streaming: the stitcher holds one batch of patches at a time plus the canvases (a few bytes per
frame pixel) and per-row placement tables (about 25 bytes per patch), never the whole stream.

The parts:

* :mod:`~ptychostitch.stitchers.torch_mmap.placement`: where every patch goes, from the
  positions (shared sub-pixel fractions on regular grids, else per-patch footprints);
* :mod:`~ptychostitch.stitchers.torch_mmap.canvas`: the accumulators and the division at the end;
* :mod:`~ptychostitch.stitchers.torch_mmap.kernels`: the adding, by one backend chosen once per
  stitch (numba or NumPy on the CPU, bit-identical; torch on CUDA).

Accumulation is float32: each canvas pixel receives one add per patch covering it, so its
relative rounding error is at most about ``depth × 6e-8`` (depth = patches overlapping a pixel;
typically ``sqrt(depth) × 6e-8``), well inside 1e-5 for any practical overlap. On a CPU the
result is deterministic (fixed order of adds, independent of how the stream is batched and of
the number of threads); on CUDA the order of atomic adds varies, so the last bits may vary.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ptychostitch import hookimpl
from ptychostitch.stitchers.contract import Capability, PatchBatch, StitchContext, StitchResult, frame_batches

if TYPE_CHECKING:
    from ptychostitch.stitchers.torch_mmap.accumulator import TorchMmapAccumulator

__all__ = ["TorchMmapStitcher", "register_stitchers"]


class TorchMmapStitcher:
    """Bilinear position stitcher in the ground-truth frame; the preferred stitcher."""

    name = "torch-mmap"
    priority = 100

    def capability(self, context: StitchContext) -> Capability:
        import torch  # imported when asked, so that listing the stitchers does not import torch

        opts = context.options
        if context.positions is None:
            return Capability(False, "needs scan positions, and this dataset has none (no coordinates and no grid metadata to derive them from)")
        try:
            device = torch.device(opts.device)
        except RuntimeError:
            return Capability(False, f"torch does not know the device {opts.device!r}")
        if device.type not in ("cpu", "cuda"):
            return Capability(False, f"runs on 'cpu' or 'cuda', not on device {opts.device!r}")
        if device.type == "cuda" and not torch.cuda.is_available():
            return Capability(False, f"device {opts.device!r} was requested but torch sees no CUDA device (torch.cuda.is_available() is False)")
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            return Capability(False, f"device {opts.device!r} was requested but torch sees only {torch.cuda.device_count()} CUDA device(s)")
        crop = f", central {opts.crop}x{opts.crop} crop" if opts.crop is not None else ""
        return Capability(
            True,
            f"positions known for every row and channel (gridsize {context.gridsize}); "
            f"{opts.weighting} weights{crop}, on {device.type}",
        )

    def stitch(self, context: StitchContext, batches: Iterable[PatchBatch]) -> StitchResult:
        stream = frame_batches(context, batches)
        accumulator = self.accumulator(context)
        try:
            for part in stream:
                accumulator.add(part)
            return accumulator.snapshot()
        finally:
            accumulator.close()

    def accumulator(self, context: StitchContext) -> TorchMmapAccumulator:
        """A mergeable accumulator of a stitch of ``context`` (:mod:`~ptychostitch.stitchers.accumulate`)."""
        from ptychostitch.stitchers.torch_mmap.accumulator import TorchMmapAccumulator

        return TorchMmapAccumulator(self.name, context)


@hookimpl
def register_stitchers(register) -> None:  # noqa: ANN001 - pluggy passes a callable
    register(TorchMmapStitcher())
