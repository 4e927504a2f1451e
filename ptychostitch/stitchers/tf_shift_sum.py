"""``tf-shift-sum``: PtychoPINN's TensorFlow position stitcher, in the ground-truth frame.

Reproduces the semantics of PtychoPINN's ``ptycho/tf_helper.py::reassemble_position`` /
``ptycho/tf_helper.py::shift_and_sum`` (TensorFlow): each patch is centre-cropped to
``M x M``, translated to its scan position by bilinear interpolation with zero fill, and the
object is ``sum(patches) / sum(ones)``, the ones going through the same translation. Three
things differ, on purpose:

Frame
    Content lands at its position in the ground-truth frame (:mod:`ptychostitch.geometry`), not
    on a canvas centred on the scan's centre of mass; pixels outside the frame are dropped, never
    wrapped.
Cost
    Each cropped patch is translated only over its own ``(M+1) x (M+1)`` bounding box (a 2x2
    bilinear stencil) and scatter-added into the frame: ``O(P * M**2)`` work and
    ``O(chunk * M**2 + H * W)`` memory, instead of padding every patch to the whole canvas.
Odd crops
    The crop keeps ``M`` pixels starting at PtychoPINN's index ``N//2 - M//2`` for every ``M``
    (:func:`ptychostitch.geometry.crop_window`, the crop rule of every stitcher). PtychoPINN
    keeps ``2*(M//2)`` pixels, so an odd ``M`` loses a row and column and then fails on a shape
    mismatch.

Precision: footprints are computed in float32 (the patches are complex64, so nothing more is
there to keep) and accumulated in a float64 frame, so the rounding error of the sums does not
grow with the overlap depth; the result is cast to complex64 at the end.

Uncovered pixels are exactly 0 (PtychoPINN divides by ``1e-9 + count``; here the division is
only done where the coverage is positive, so edge pixels with tiny bilinear weight are not
attenuated). Weights: PtychoPINN's uniform ones, or ``|probe|**2`` cropped as the patches
(a fourth difference: the weights go through the same translation as the ones). TensorFlow is imported the first time :meth:`capability` or
:meth:`stitch` needs it, never when this module is imported. With ``TF_CPP_MIN_LOG_LEVEL=3``
(what the command line sets unless ``-v``), the C++ lines TensorFlow prints while it is imported
and does not filter itself (oneDNN's notice) are discarded too: file descriptor 2 points to
``os.devnull`` during the import.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ptychostitch import hookimpl
from ptychostitch.errors import InputError
from ptychostitch.geometry import crop_window, top_left
from ptychostitch.stitchers.accumulate import SumAccumulator
from ptychostitch.stitchers.contract import Capability, PatchBatch, StitchContext, StitchResult, frame_batches, frame_part

log = logging.getLogger(__name__)

NOT_INSTALLED = "tensorflow not installed"


@dataclass(frozen=True)
class _TensorFlow:
    """The outcome of importing TensorFlow: the module, or why it could not be imported."""

    module: ModuleType | None
    problem: str


@contextlib.contextmanager
def _native_stderr_discarded(discard: bool) -> Iterator[None]:
    """With ``discard``, point file descriptor 2 (C++ code's stderr) to ``os.devnull`` while inside."""
    if not discard:
        yield
        return
    try:
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no usable descriptor 2: nothing to protect
        yield
        return
    sys.stderr.flush()
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


@functools.cache
def _tensorflow() -> _TensorFlow:
    """Import TensorFlow once per process; remember the failure reason if it does not import."""
    try:
        with _native_stderr_discarded(os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "3"):
            module = importlib.import_module("tensorflow")
        return _TensorFlow(module, "")
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] == "tensorflow":
            return _TensorFlow(None, f'{NOT_INSTALLED} (pip install "ptychostitch[tf]")')
        return _TensorFlow(None, f"tensorflow failed to import: {exc!r}")
    except Exception as exc:  # noqa: BLE001 - a broken installation is reported, not raised
        return _TensorFlow(None, f"tensorflow failed to import: {exc!r}")


@functools.cache
def _footprint_kernel(tf: Any) -> Callable[..., Any]:
    """Build the traced kernel: bilinear footprints of a chunk of crops, as flat frame indices.

    Traced once per process (every dimension of the signature is dynamic).
    """

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None], tf.complex64),
            tf.TensorSpec([None, 2], tf.int64),
            tf.TensorSpec([None, 2], tf.float64),
            tf.TensorSpec([2], tf.int64),
            tf.TensorSpec([None, None], tf.float32),
        ]
    )
    def footprints(crops: Any, origin: Any, frac: Any, shape: Any, weights: Any) -> tuple[Any, Any]:
        """Translate each crop over its ``(M+1)^2`` box; keep only the in-frame pixels.

        Parameters
        ----------
        crops : (k, M, M) complex64
            Cropped patches.
        origin : (k, 2) int64
            Frame pixel ``(y0, x0)`` of footprint pixel ``(0, 0)``: ``floor`` of the crop's
            top-left coordinate.
        frac : (k, 2) float64
            Fractional part ``(fy, fx)`` of that coordinate, each in ``[0, 1)``.
        shape : (2,) int64
            ``(H, W)`` of the frame.
        weights : (M, M) float32
            Per-pixel weight of every crop (ones, or ``|probe|**2`` cropped the same way).

        Returns
        -------
        index : (K,) int64
            Flat frame index ``y * W + x`` of every in-frame footprint pixel.
        values : (K, 3) float64
            Its translated (weighted real, weighted imaginary, weight) contributions: computed in float32 (the
            patches carry float32 precision), returned as float64 for the accumulation.
        """
        w = tf.broadcast_to(weights[None], tf.shape(crops, out_type=tf.int32))
        data = tf.stack([tf.math.real(crops) * w, tf.math.imag(crops) * w, w], axis=-1)
        data = tf.pad(data, [[0, 0], [1, 1], [1, 1], [0, 0]])
        side = tf.shape(crops, out_type=tf.int64)[1] + 1
        f = tf.cast(frac, tf.float32)
        fy = f[:, 0, None, None, None]
        fx = f[:, 1, None, None, None]
        # Footprint pixel u takes crop pixel u with weight 1-f and crop pixel u-1 with weight f
        # (zero outside the crop): content moves by +f, as PtychoPINN's translation does.
        rows = (1.0 - fy) * data[:, 1:, :, :] + fy * data[:, :-1, :, :]
        box = (1.0 - fx) * rows[:, :, 1:, :] + fx * rows[:, :, :-1, :]
        steps = tf.range(side, dtype=tf.int64)
        y = origin[:, 0, None] + steps
        x = origin[:, 1, None] + steps
        inside = tf.logical_and(
            tf.logical_and(y >= 0, y < shape[0])[:, :, None],
            tf.logical_and(x >= 0, x < shape[1])[:, None, :],
        )
        flat = y[:, :, None] * shape[1] + x[:, None, :]
        return tf.boolean_mask(flat, inside), tf.cast(tf.boolean_mask(box, inside), tf.float64)

    return footprints


class TfShiftSumStitcher:
    """Bilinear shift-and-sum in TensorFlow, placed in the ground-truth frame.

    Parameters
    ----------
    chunk_pixels : int
        Footprint pixels translated per kernel call; a chunk holds
        ``max(1, chunk_pixels // (M+1)**2)`` patches, which bounds memory at about
        ``100 * chunk_pixels`` bytes whatever the size of the incoming batches.
    """

    name = "tf-shift-sum"
    priority = 50

    def __init__(self, chunk_pixels: int = 2**19) -> None:
        if chunk_pixels < 1:
            raise ValueError(f"chunk_pixels must be positive, found {chunk_pixels}")
        self.chunk_pixels = chunk_pixels

    def capability(self, context: StitchContext) -> Capability:
        found = _tensorflow()
        if found.module is None:
            return Capability(False, found.problem)
        options = context.options
        if context.positions is None:
            return Capability(False, "needs scan positions (coords_offsets or xcoords/ycoords)")
        crop = context.N if options.crop is None else options.crop
        return Capability(
            True,
            f"{len(context.frame_rows) * context.channels} positioned patches, crop {crop} px, bilinear, {options.weighting} weights",
        )

    def stitch(self, context: StitchContext, batches: Iterable[PatchBatch]) -> StitchResult:
        stream = frame_batches(context, batches)
        accumulator = self.accumulator(context)
        for part in stream:
            accumulator.add(part)
        return accumulator.finish()

    def accumulator(self, context: StitchContext) -> TfShiftSumAccumulator:
        """A mergeable accumulator of a stitch of ``context`` (:mod:`~ptychostitch.stitchers.accumulate`)."""
        tf = _tensorflow().module
        if tf is None:
            raise InputError(f"stitcher {self.name!r} cannot run: {_tensorflow().problem}")
        return TfShiftSumAccumulator(self, tf, context)


class TfShiftSumAccumulator(SumAccumulator):
    """The float64 ``(Σ Re, Σ Im, Σ ones)`` frame of a tf-shift-sum stitch, filled batch by batch."""

    def __init__(self, stitcher: TfShiftSumStitcher, tf: Any, context: StitchContext) -> None:
        self.name, self.tf, self.context = stitcher.name, tf, context
        self.start, self.m = crop_window(context.N, context.options.crop)
        h, w = context.frame_shape
        self.kernel = _footprint_kernel(tf)
        self.canvas = tf.Variable(tf.zeros((h * w, 3), tf.float64))
        self.shape = tf.constant([h, w], tf.int64)
        self.chunk = max(1, stitcher.chunk_pixels // (self.m + 1) ** 2)
        weights = np.ones((self.m, self.m), np.float32)
        if context.options.weighting == "probe":
            window = np.asarray(context.probe)[self.start : self.start + self.m, self.start : self.start + self.m]
            weights = (np.abs(window) ** 2).astype(np.float32)
        self.weights = tf.constant(weights)
        self.placed = 0

    def add(self, batch: PatchBatch, positions: np.ndarray | None = None) -> None:
        tf, start, m, n = self.tf, self.start, self.m, self.context.N
        if positions is None:
            part = frame_part(self.context, batch)
            if part is None:
                return
            patches = part.patches
            assert self.context.positions is not None, "capability() was not checked"
            positions = self.context.positions[part.start : part.stop]
        else:
            patches = np.asarray(batch.patches)
            if np.shape(positions) != (len(patches), self.context.channels, 2) or not np.all(np.isfinite(positions)):
                raise InputError(f"batch positions must be finite, shape {(len(patches), self.context.channels, 2)}, found {np.shape(positions)}")
        crops = patches[:, start : start + m, start : start + m, :]
        crops = np.moveaxis(crops, -1, 1).reshape(-1, m, m).astype(np.complex64, copy=False)
        corner = top_left(np.asarray(positions, np.float64).reshape(-1, 2), n) + start
        origin = np.floor(corner)
        frac = corner - origin
        for k in range(0, len(crops), self.chunk):
            index, values = self.kernel(
                tf.constant(crops[k : k + self.chunk]),
                tf.constant(origin[k : k + self.chunk].astype(np.int64)),
                tf.constant(frac[k : k + self.chunk]),
                self.shape,
                self.weights,
            )
            self.canvas.scatter_add(tf.IndexedSlices(values, index))
        self.placed += len(crops)

    def arrays(self) -> list[np.ndarray]:
        self.mirror = np.array(self.canvas.numpy())
        return [self.mirror]

    def written(self) -> None:
        self.canvas.assign(self.mirror)

    def snapshot(self) -> StitchResult:
        h, w = self.context.frame_shape
        sums = self.canvas.numpy().reshape(h, w, 3)
        coverage = sums[..., 2].astype(np.float32)
        covered = coverage > 0
        obj = np.zeros((h, w), np.complex128)
        obj[covered] = (sums[covered, 0] + 1j * sums[covered, 1]) / sums[covered, 2]
        log.info("%s: placed %d patches (crop %d px) into a %dx%d frame", self.name, self.placed, self.m, h, w)
        return StitchResult((obj * self.context.norm_Y_I).astype(np.complex64), coverage, self.name)


@hookimpl
def register_stitchers(register) -> None:  # noqa: ANN001 - pluggy passes a callable
    register(TfShiftSumStitcher())
