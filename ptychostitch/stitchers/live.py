"""Live stitching from Python: frames and their positions as they arrive, a snapshot at any moment, late positions held back.

:class:`LiveStitch` sits on a stitcher's mergeable accumulator (:mod:`ptychostitch.stitchers.accumulate`)
started without positions, so each batch brings its own. Frames (rows of the patch stream)
are numbered by the caller; they may arrive in any order, each once. A frame whose position
is not known yet (any NaN among its channels' positions) is **held**: its patches are kept
(in memory, one copy per held frame) until :meth:`LiveStitch.place` gives its position, or
:meth:`LiveStitch.drop` (or :meth:`LiveStitch.finish`) counts it as **dropped**; it is never
part of a snapshot while held. A scan restart is a new :class:`LiveStitch`.

The stitchers whose accumulators take positions batch by batch are torch-mmap (the default)
and tf-shift-sum; tf-style needs the regular grid of a whole scan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ptychostitch.errors import InputError
from ptychostitch.stitchers.accumulate import accumulator
from ptychostitch.stitchers.contract import PatchBatch, StitchContext, Stitcher, StitchOptions, StitchResult
from ptychostitch.stitchers.selection import get

DEFAULT_STITCHER = "torch-mmap"


def live_context(
    frame_shape: tuple[int, int],
    N: int,  # noqa: N803 - the field's name in StitchContext
    gridsize: int = 1,
    *,
    probe: np.ndarray | None = None,
    norm_Y_I: float = 1.0,  # noqa: N803
    options: StitchOptions | None = None,
) -> StitchContext:
    """The context of a live stitch into a ``frame_shape`` frame: patches ``N`` px, ``gridsize**2`` channels, no positions yet.

    ``probe`` is needed for probe weighting (``StitchOptions(weighting="probe")``);
    ``norm_Y_I`` multiplies the object, as in a grid-lines file.
    """
    return StitchContext(N=N, gridsize=gridsize, n_rows=0, frame_shape=tuple(frame_shape), frame_rows=range(0),
                         probe=probe, norm_Y_I=norm_Y_I, options=options or StitchOptions())


@dataclass(frozen=True)
class LiveCounts:
    """Frames so far: ``added`` (in the object), ``held`` (waiting for a position), ``dropped``."""

    added: int
    held: int
    dropped: int


@dataclass(frozen=True)
class LiveResult:
    """What :meth:`LiveStitch.finish` returns: the object, the final counts and the dropped frames' indices (sorted)."""

    result: StitchResult
    counts: LiveCounts
    dropped: tuple[int, ...]


class LiveStitch:
    """A stitch fed frame batches as they arrive.

    Parameters
    ----------
    context : StitchContext
        The frame, patch size, channels, probe and options (:func:`live_context` builds one);
        its positions, if any, are ignored: every batch brings its own.
    stitcher : str or Stitcher
        A stitcher whose accumulator takes per-batch positions (torch-mmap, tf-shift-sum).

    Examples
    --------
    >>> live = LiveStitch(live_context((256, 256), N=64))            # doctest: +SKIP
    >>> live.add(first_index, patches, positions)                    # doctest: +SKIP
    >>> image = live.snapshot().object                               # doctest: +SKIP
    """

    def __init__(self, context: StitchContext, stitcher: str | Stitcher = DEFAULT_STITCHER) -> None:
        chosen = get(stitcher) if isinstance(stitcher, str) else stitcher
        self.context = replace(context, positions=None, grid=None, n_rows=0, frame_rows=range(0))
        acc = accumulator(chosen, self.context)
        if acc is None:
            raise InputError(f"stitcher {chosen.name!r} offers no accumulator, so it cannot stitch live")
        self._acc: Any = acc
        self._added: set[int] = set()
        self._held: dict[int, np.ndarray] = {}
        self._dropped: set[int] = set()

    @property
    def counts(self) -> LiveCounts:
        """How many frames are in the object, held and dropped."""
        return LiveCounts(len(self._added), len(self._held), len(self._dropped))

    @property
    def held(self) -> tuple[int, ...]:
        """The indices of the frames waiting for their position, sorted."""
        return tuple(sorted(self._held))

    def add(self, first: int, patches: np.ndarray, positions: np.ndarray) -> None:
        """Add frames ``first, first + 1, ...``: ``patches`` ``(b, N, N, C)`` complex, ``positions`` ``(b, C, 2)`` ``(y, x)``.

        Frames with a NaN position are held until :meth:`place` or :meth:`drop`.

        Raises
        ------
        InputError
            A frame seen before, shapes that do not match, or an infinite position.
        """
        patches, positions = np.asarray(patches), np.asarray(positions, np.float64)
        n, channels = self.context.N, self.context.channels
        if patches.ndim != 4 or patches.shape[1:] != (n, n, channels) or positions.shape != (len(patches), channels, 2):
            raise InputError(f"live frames: expected patches (b, {n}, {n}, {channels}) and positions (b, {channels}, 2), "
                             f"found {patches.shape} and {positions.shape}")
        indices = range(first, first + len(patches))
        for index in indices:
            self._unseen(index)
        unknown = np.isnan(positions).any(axis=(1, 2))
        for k in np.flatnonzero(unknown):
            self._held[indices[k]] = np.array(patches[k], copy=True)
        known = np.flatnonzero(~unknown)
        if len(known):
            self._acc.add(PatchBatch(first, patches[known]), positions[known])
            self._added.update(indices[k] for k in known)

    def place(self, index: int, position: np.ndarray) -> None:
        """Give held frame ``index`` its position ``(C, 2)``; it joins the object.

        Raises
        ------
        InputError
            ``index`` is not held, or the position is not finite.
        """
        if index not in self._held:
            raise InputError(f"live frame {index} is not held (held: {len(self._held)} frames), so it cannot be placed")
        position = np.asarray(position, np.float64).reshape(1, self.context.channels, 2)
        if not np.isfinite(position).all():
            raise InputError(f"live frame {index}: a placed position must be finite, found {position.tolist()}")
        self._acc.add(PatchBatch(index, self._held[index][None]), position)
        del self._held[index]
        self._added.add(index)

    def drop(self, index: int) -> None:
        """Count held frame ``index`` as dropped and forget its patches.

        Raises
        ------
        InputError
            ``index`` is not held.
        """
        if self._held.pop(index, None) is None:
            raise InputError(f"live frame {index} is not held, so it cannot be dropped")
        self._dropped.add(index)

    def snapshot(self) -> StitchResult:
        """The object of the frames added so far (held frames are not in it); the stitch goes on."""
        return self._acc.snapshot()

    def finish(self) -> LiveResult:
        """The object, with every frame still held counted as dropped; the stitch is over."""
        for index in list(self._held):
            self.drop(index)
        result = self._acc.finish()
        return LiveResult(result, self.counts, tuple(sorted(self._dropped)))

    def _unseen(self, index: int) -> None:
        if index in self._added or index in self._held or index in self._dropped:
            raise InputError(f"live frame {index} arrived twice (each frame once; a scan restart is a new LiveStitch)")
