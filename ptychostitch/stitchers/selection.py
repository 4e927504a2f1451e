"""Choosing a stitcher for a dataset: ``auto`` by priority and capability, or one by name.

Each function reads the process-wide registry (:func:`ptychostitch.stitchers.registry.get_registry`)
unless it is given a :class:`~ptychostitch.stitchers.registry.Registry` of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ptychostitch.errors import InputError
from ptychostitch.stitchers import guard
from ptychostitch.stitchers.contract import StitchContext, Stitcher, check_context
from ptychostitch.stitchers.registry import Registry, get_registry

log = logging.getLogger(__name__)


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
        True when ``auto`` had to pass over a stitcher ranked ahead of the chosen one (higher
        priority, or equal priority and an earlier name) because it cannot run.
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


def available(*, registry: Registry | None = None) -> dict[str, Stitcher]:
    """Every registered stitcher, name to stitcher: highest priority first, ties by name."""
    found = (registry if registry is not None else get_registry()).stitchers
    ordered = sorted(found.values(), key=lambda r: (-r.stitcher.priority, r.stitcher.name))
    return {r.stitcher.name: r.stitcher for r in ordered}


def get(name: str, *, registry: Registry | None = None) -> Stitcher:
    """The stitcher called ``name``; :class:`~ptychostitch.errors.InputError` naming the known ones."""
    stitchers = available(registry=registry)
    if name not in stitchers:
        known = ", ".join(stitchers) or "none"
        raise InputError(f"unknown stitcher {name!r}; registered stitchers: {known}")
    return stitchers[name]


def select(context: StitchContext, requested: str = "auto", *, registry: Registry | None = None) -> Selection:
    """Choose the stitcher for ``context``.

    ``requested="auto"`` returns the highest-priority stitcher whose capability check passes
    (ties broken by name) and logs each rejection with its reason; when a stitcher ahead of it
    was passed over the selection is a fallback, logged as a warning. A stitcher name is used
    if it can run, else an :class:`~ptychostitch.errors.InputError` states its reason. A
    capability check that raises, exits, or answers with something other than a
    :class:`Capability` (:func:`ptychostitch.stitchers.guard.capability`) counts as "cannot run"
    with that failure as the reason; for a stitcher requested by name it is a
    :class:`~ptychostitch.errors.PluginFault`.

    A malformed ``context`` (:func:`~ptychostitch.stitchers.contract.check_context`) is an
    :class:`~ptychostitch.errors.InputError` before any stitcher is asked.
    """
    check_context(context)
    if requested != "auto":
        stitcher = get(requested, registry=registry)
        verdict, fault = guard.capability(stitcher, context, registry=registry)
        if fault is not None:
            raise fault
        if not verdict.ok:
            raise InputError(f"stitcher {requested!r} cannot run on this dataset: {verdict.reason}")
        log.info("stitcher %r selected as requested: %s", requested, verdict.reason)
        return Selection(stitcher, requested, False, verdict.reason, {})
    rejected: dict[str, str] = {}
    for name, stitcher in available(registry=registry).items():
        verdict, _ = guard.capability(stitcher, context, registry=registry)
        if verdict.ok:
            if rejected:
                passed_over = "; ".join(f"{k}: {v}" for k, v in rejected.items())
                log.warning("falling back to stitcher %r (%s): %s", name, verdict.reason, passed_over)
            else:
                log.info("stitcher %r selected: %s", name, verdict.reason)
            return Selection(stitcher, requested, bool(rejected), verdict.reason, rejected)
        log.info("stitcher %r cannot run: %s", name, verdict.reason)
        rejected[name] = verdict.reason
    details = "; ".join(f"{k}: {v}" for k, v in rejected.items()) or "no stitchers are registered"
    raise InputError(f"no stitcher can run on this dataset ({details})")
