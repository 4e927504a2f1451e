"""A stitcher's own code, called isolated: whatever it raises or exits with, and whatever it returns, is checked.

Every stitcher, the built-in ones too, is plugin code (:mod:`ptychostitch.plugins`). Its
``capability`` and ``stitch`` run here and nowhere else:

- :func:`capability`: a check that raises, calls ``sys.exit`` or answers with something other
  than a :class:`~ptychostitch.stitchers.contract.Capability` means "cannot run", with the
  failure as the reason; the failure is also returned as a
  :class:`~ptychostitch.errors.PluginFault` for a caller that asked for this stitcher by name;
- :func:`pixel_weights`: the optional weights a stitcher says it gives each patch pixel, checked
  like a result;
- :func:`stitch`: a stitch that raises or exits, stops reading the patch stream early or
  returns an invalid result (:func:`result_problem`) is a :class:`~ptychostitch.errors.PluginFault`
  naming the stitcher, its entry point and its distribution. What the patch stream itself raises
  (bad input upstream, Ctrl-C) is not the stitcher's fault: it passes through unchanged, even
  when the stitcher catches it.
"""

from __future__ import annotations

import logging
from typing import Iterable, Iterator

import numpy as np

from ptychostitch.errors import PLUGIN_FAILURES, PluginFault
from ptychostitch.stitchers.contract import Capability, PatchBatch, StitchContext, Stitcher, StitchResult
from ptychostitch.stitchers.registry import Registry, get_registry

log = logging.getLogger(__name__)


def origin(stitcher: Stitcher, registry: Registry | None = None) -> str:
    """Where ``stitcher`` comes from, in words: its entry point and distribution."""
    for found in (registry if registry is not None else get_registry()).stitchers.values():
        if found.stitcher is stitcher:
            return f"entry point {found.entry_point!r} of distribution {found.distribution!r}"
    return "not registered by any installed distribution"


def capability(
    stitcher: Stitcher, context: StitchContext, *, registry: Registry | None = None
) -> tuple[Capability, PluginFault | None]:
    """``stitcher.capability(context)``, and the fault when the check itself failed.

    A failing check (it raised, exited or answered with something other than a
    :class:`Capability`) gives ``Capability(False, why)`` and the :class:`PluginFault`.
    """
    try:
        verdict = stitcher.capability(context)
    except KeyboardInterrupt:
        raise
    except PLUGIN_FAILURES as exc:
        log.debug("capability check of stitcher %r failed", stitcher.name, exc_info=True)
        reason = f"its capability check {_failure(exc)}"
    else:
        if isinstance(verdict, Capability):
            return verdict, None
        reason = f"its capability check returned {verdict!r} instead of a Capability"
    return Capability(False, reason), _fault(stitcher, registry, reason)


def stitch(
    stitcher: Stitcher, context: StitchContext, batches: Iterable[PatchBatch], *, registry: Registry | None = None
) -> StitchResult:
    """``stitcher.stitch(context, batches)``, isolated and with its result checked.

    Raises
    ------
    PluginFault
        The stitch raised or exited, did not read the whole stream, or returned an invalid result.
    BaseException
        Whatever ``batches`` itself raised (an :class:`~ptychostitch.errors.InputError`,
        :class:`KeyboardInterrupt`, ...), unchanged.
    """
    stream = _Stream(batches)
    try:
        result = stitcher.stitch(context, stream)
    except KeyboardInterrupt:
        raise
    except PLUGIN_FAILURES as exc:
        if stream.error is not None:
            raise stream.error from None
        raise _fault(stitcher, registry, f"its stitch {_failure(exc)}") from exc
    if stream.error is not None:
        raise stream.error
    if not stream.finished:
        raise _fault(stitcher, registry, f"its stitch stopped reading the patch stream at row {stream.rows} of {context.n_rows}")
    problem = result_problem(result, context)
    if problem:
        raise _fault(stitcher, registry, f"its stitch returned {problem}")
    return result


def pixel_weights(stitcher: Stitcher, context: StitchContext, default: np.ndarray, *, registry: Registry | None = None) -> np.ndarray:
    """The weight ``stitcher`` gives each patch pixel: its optional ``pixel_weights(context)``, else ``default``.

    A stitcher that uses only some pixels of a patch (tiles, say) says which with
    ``pixel_weights``, so that the prediction diagnostics weigh the pixels it really stitches.

    Raises
    ------
    PluginFault
        ``pixel_weights`` raised or exited, or returned something other than finite weights
        ``>= 0`` of shape ``(N, N)`` or ``(N, N, C)``.
    """
    own = getattr(stitcher, "pixel_weights", None)
    if not callable(own):
        return default
    try:
        weights = own(context)
    except KeyboardInterrupt:
        raise
    except PLUGIN_FAILURES as exc:
        raise _fault(stitcher, registry, f"its pixel_weights {_failure(exc)}") from exc
    shapes = ((context.N, context.N), (context.N, context.N, context.channels))
    if not isinstance(weights, np.ndarray) or weights.shape not in shapes or weights.dtype.kind not in "fiub":
        found = f"shape {weights.shape}, dtype {weights.dtype}" if isinstance(weights, np.ndarray) else type(weights).__name__
        raise _fault(stitcher, registry, f"its pixel_weights returned {found}, expected real weights of shape {shapes[0]} or {shapes[1]}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise _fault(stitcher, registry, "its pixel_weights returned NaN, infinite or negative weights")
    return weights


def result_problem(result: object, context: StitchContext) -> str:
    """What is wrong with ``result`` as the stitch of ``context`` (``""`` if nothing).

    A valid result is a :class:`StitchResult` whose ``object`` is a complex array and whose
    ``coverage`` is a floating-point array, both numpy arrays of ``context.frame_shape``, finite,
    with coverage ``>= 0``.
    """
    if not isinstance(result, StitchResult):
        return f"a {type(result).__name__}, expected a StitchResult"
    for label, array in (("object", result.object), ("coverage", result.coverage)):
        if not isinstance(array, np.ndarray):
            return f"{label} as a {type(array).__name__}, expected a numpy array"
        if array.shape != tuple(context.frame_shape):
            return f"{label} of shape {array.shape}, expected the ground-truth frame {tuple(context.frame_shape)}"
    if result.object.dtype.kind != "c":
        return f"object of dtype {result.object.dtype}, expected a complex array (a real object has lost its phase)"
    if result.coverage.dtype.kind != "f":
        return f"coverage of dtype {result.coverage.dtype}, expected floating-point weights"
    for label, array in (("object", result.object), ("coverage", result.coverage)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            return f"{label} with {bad} NaN or infinite pixels"
    negative = int(np.count_nonzero(result.coverage < 0))
    if negative:
        return f"coverage with {negative} negative pixels"
    return ""


class _Stream:
    """The patch stream as a stitcher reads it: once, recording how far and what the stream itself raised."""

    def __init__(self, batches: Iterable[PatchBatch]) -> None:
        self._batches = batches
        self._opened = False
        self.error: BaseException | None = None
        self.finished = False
        self.rows = 0

    def __iter__(self) -> Iterator[PatchBatch]:
        if self._opened:
            raise RuntimeError("the patch stream was read twice; it can be read only once")
        self._opened = True
        return self._read()

    def _read(self) -> Iterator[PatchBatch]:
        source: Iterator[PatchBatch] | None = None
        while True:
            try:
                source = iter(self._batches) if source is None else source
                batch = next(source)
            except StopIteration:
                self.finished = True
                return
            except BaseException as exc:
                self.error = exc
                raise
            self.rows = batch.stop
            yield batch


def _fault(stitcher: Stitcher, registry: Registry | None, what: str) -> PluginFault:
    return PluginFault(f"stitcher {getattr(stitcher, 'name', '?')!r} ({origin(stitcher, registry)}) failed: {what}")


def _failure(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    return f"raised {exc!r}"
