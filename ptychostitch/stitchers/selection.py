"""Choosing a stitcher for a dataset: ``auto`` by priority and capability, or one by name.

A refusal says whether an option is at fault (:func:`verdict`): when the stitcher could run on
the same dataset with another ``--stitch-weighting`` or ``--crop``, the reason names the option
and the values that would work; otherwise it is the dataset. ``select`` and ``ptychostitch
stitchers --test-npz`` give the same verdicts, because both ask :func:`verdict`.

Each function reads the process-wide registry (:func:`ptychostitch.stitchers.registry.get_registry`)
unless it is given a :class:`~ptychostitch.stitchers.registry.Registry` of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace

from ptychostitch.errors import InputError, PluginFault
from ptychostitch.options import flag_name
from ptychostitch.stitchers import guard
from ptychostitch.stitchers.contract import WEIGHTINGS, Capability, StitchContext, Stitcher, StitchOptions, check_context
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
        found, fault = verdict(stitcher, context, registry=registry)
        if fault is not None:
            raise fault
        if not found.ok:
            raise InputError(f"stitcher {requested!r} cannot run on this dataset: {found.reason}")
        log.info("stitcher %r selected as requested: %s", requested, found.reason)
        return Selection(stitcher, requested, False, found.reason, {})
    rejected: dict[str, str] = {}
    for name, stitcher in available(registry=registry).items():
        found, _ = verdict(stitcher, context, registry=registry)
        if found.ok:
            if rejected:
                passed_over = "; ".join(f"{k}: {v}" for k, v in rejected.items())
                log.warning("falling back to stitcher %r (%s): %s", name, found.reason, passed_over)
            else:
                log.info("stitcher %r selected: %s", name, found.reason)
            return Selection(stitcher, requested, bool(rejected), found.reason, rejected)
        log.info("stitcher %r cannot run: %s", name, found.reason)
        rejected[name] = found.reason
    details = "; ".join(f"{k}: {v}" for k, v in rejected.items()) or "no stitchers are registered"
    raise InputError(f"no stitcher can run on this dataset ({details})")


def verdict(stitcher: Stitcher, context: StitchContext, *, registry: Registry | None = None) -> tuple[Capability, PluginFault | None]:
    """Whether ``stitcher`` can run on ``context``; a refusal says which option is at fault and what would work.

    The stitcher's own answer (:func:`ptychostitch.stitchers.guard.capability`); the reason of a
    refusal becomes

    - ``with --stitch-weighting W: why; it can with --stitch-weighting V`` when the stitcher
      would run with another weighting (one the dataset allows), the crop unchanged;
    - else ``with --crop M: why; it can with --crop A..B`` when it would run with other crops
      (``1 .. N`` are tried), the weighting unchanged;
    - else the stitcher's own reason: the dataset is at fault, not an option.

    A capability check that failed (the fault is returned too) is never retried with other options.
    """
    found, fault = guard.capability(stitcher, context, registry=registry)
    if found.ok or fault is not None:
        return found, fault
    options = context.options
    crop = context.N if options.crop is None else options.crop
    weightings = [w for w in WEIGHTINGS if w != options.weighting and (w != "probe" or _has_probe(context))]
    crops = [m for m in range(1, context.N + 1) if m != crop]
    for name, shown, values in (("weighting", options.weighting, weightings), ("crop", crop, crops)):
        working = [value for value in values if _can_run(stitcher, replace(context, options=replace(options, **{name: value})), registry)]
        if working:
            flag = _flag(name)
            return Capability(False, f"with {flag} {shown}: {found.reason}; it can with {flag} {_values(working)}"), None
    return found, None


def _can_run(stitcher: Stitcher, context: StitchContext, registry: Registry | None) -> bool:
    found, fault = guard.capability(stitcher, context, registry=registry)
    return found.ok and fault is None


def _has_probe(context: StitchContext) -> bool:
    return context.probe is not None and tuple(getattr(context.probe, "shape", ())) == (context.N, context.N)


def _flag(name: str) -> str:
    """The command-line flag of the :class:`StitchOptions` field ``name``, as its metadata declares it."""
    return flag_name(next(spec for spec in fields(StitchOptions) if spec.name == name))


def _values(values: list[object]) -> str:
    """``values`` in words: integers as runs (``1..8, 20..64``), anything else joined by ``or``."""
    if not all(isinstance(value, int) for value in values):
        return " or ".join(str(value) for value in values)
    runs: list[list[int]] = []
    for value in sorted(values):  # type: ignore[type-var]
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])  # type: ignore[list-item]
    return ", ".join(str(lo) if lo == hi else f"{lo}..{hi}" for lo, hi in runs)
