"""Stitchers: the ``Stitcher`` protocol, the registry of installed stitchers, and selection.

- :mod:`~ptychostitch.stitchers.contract`: what a stitcher is given (:class:`StitchContext`,
  :class:`StitchOptions`, the patch stream of :class:`PatchBatch` es), what it returns
  (:class:`StitchResult`, :class:`Capability`), the :class:`Stitcher` protocol itself, and the
  checks every stitcher shares (:func:`check_context`; :func:`frame_batches` yields the
  :class:`FrameBatch` es of ``frame_rows``);
- :mod:`~ptychostitch.stitchers.registry`: the stitchers that plugins register through pluggy
  entry points (group ``ptychostitch``, hook ``register_stitchers``; :mod:`ptychostitch.plugins`);
- :mod:`~ptychostitch.stitchers.selection`: :func:`select` picks one for a dataset: ``auto`` takes
  the highest-priority capable stitcher and logs every rejection with its reason; an explicit name
  is used, or refused with its reason; :func:`verdict` is the answer both give, naming the
  option at fault when another ``--stitch-weighting`` or ``--crop`` would work;
- :mod:`~ptychostitch.stitchers.accumulate`: the optional mergeable accumulators (split, merge,
  reduce across ranks, snapshot);
- :mod:`~ptychostitch.stitchers.live`: :class:`LiveStitch`, frames stitched as they arrive (late
  positions held back, dropped frames counted; :func:`live_context`);
- the built-in stitchers, each registered through the same entry-point group.
"""

from ptychostitch.stitchers.contract import (
    Capability,
    FrameBatch,
    PatchBatch,
    StitchContext,
    Stitcher,
    StitchOptions,
    StitchResult,
    check_context,
    frame_batches,
)
from ptychostitch.stitchers.live import LiveStitch, live_context
from ptychostitch.stitchers.selection import Selection, available, get, select, verdict

__all__ = [
    "Capability",
    "FrameBatch",
    "LiveStitch",
    "PatchBatch",
    "Selection",
    "StitchContext",
    "StitchOptions",
    "StitchResult",
    "Stitcher",
    "available",
    "check_context",
    "frame_batches",
    "get",
    "live_context",
    "select",
    "verdict",
]
