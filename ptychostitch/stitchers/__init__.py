"""Stitchers: the ``Stitcher`` protocol, the registry of installed stitchers, and selection.

Stitchers arrive through pluggy entry points (group ``ptychostitch``, hook
``register_stitchers``); see :mod:`ptychostitch.plugins`. :func:`select` picks one for a
dataset: ``auto`` takes the highest-priority capable stitcher and logs every rejection with its
reason; an explicit name is used, or refused with its reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ptychostitch.errors import InputError
from ptychostitch.plugins import registry
from ptychostitch.stitchers.contracts import (
    Capability,
    PatchBatch,
    StitchContext,
    Stitcher,
    StitchOptions,
    StitchResult,
)

log = logging.getLogger(__name__)

__all__ = [
    "Capability",
    "PatchBatch",
    "Selection",
    "StitchContext",
    "StitchOptions",
    "StitchResult",
    "Stitcher",
    "available",
    "get",
    "select",
]


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select`.

    Attributes
    ----------
    stitcher : Stitcher
        The chosen stitcher.
    requested : str
        What was asked for: ``"auto"`` or a stitcher name.
    fallback : bool
        True when ``auto`` had to pass over a higher-priority stitcher that cannot run.
    reason : str
        Why the chosen stitcher can run.
    rejected : dict of str to str
        Every stitcher passed over, with the reason it could not run.
    """

    stitcher: Stitcher
    requested: str
    fallback: bool
    reason: str
    rejected: dict[str, str]

    def as_json(self) -> dict[str, object]:
        """The ``stitcher`` section of ``metrics.json``."""
        return {
            "name": self.stitcher.name,
            "requested": self.requested,
            "fallback": self.fallback,
            "reason": self.reason,
            "rejected": dict(self.rejected),
        }


def available() -> dict[str, Stitcher]:
    """Every registered stitcher, name to stitcher, highest priority first."""
    found = registry().stitchers
    ordered = sorted(found.values(), key=lambda r: (-r.stitcher.priority, r.stitcher.name))
    return {r.stitcher.name: r.stitcher for r in ordered}


def get(name: str) -> Stitcher:
    """The stitcher called ``name``; :class:`~ptychostitch.errors.InputError` naming the known ones."""
    stitchers = available()
    if name not in stitchers:
        known = ", ".join(stitchers) or "none"
        raise InputError(f"unknown stitcher {name!r}; registered stitchers: {known}")
    return stitchers[name]


def select(context: StitchContext, requested: str = "auto") -> Selection:
    """Choose the stitcher for ``context``.

    ``requested="auto"`` returns the highest-priority stitcher whose capability check passes and
    logs each rejection; if a higher-priority one was passed over the selection is a fallback
    and is logged as a warning. A stitcher name is used if it can run, else an
    :class:`~ptychostitch.errors.InputError` states its reason.
    """
    if requested != "auto":
        stitcher = get(requested)
        verdict = stitcher.capability(context)
        if not verdict.ok:
            raise InputError(f"stitcher {requested!r} cannot run on this dataset: {verdict.reason}")
        return Selection(stitcher, requested, False, verdict.reason, {})
    rejected: dict[str, str] = {}
    for name, stitcher in available().items():
        verdict = stitcher.capability(context)
        if verdict.ok:
            selection = Selection(stitcher, requested, bool(rejected), verdict.reason, rejected)
            if rejected:
                log.warning("falling back to stitcher %r: %s", name, "; ".join(f"{k}: {v}" for k, v in rejected.items()))
            else:
                log.info("stitcher %r selected: %s", name, verdict.reason)
            return selection
        log.info("stitcher %r cannot run: %s", name, verdict.reason)
        rejected[name] = verdict.reason
    details = "; ".join(f"{k}: {v}" for k, v in rejected.items()) or "no stitchers are registered"
    raise InputError(f"no stitcher can run on this dataset ({details})")
