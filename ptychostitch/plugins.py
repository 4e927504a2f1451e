"""Plugin loading: the ``ptychostitch`` entry-point group, read once, lazily.

Every stitcher, the built-in ones included, arrives through an entry point in the group
``ptychostitch`` whose target implements :func:`ptychostitch.hookspecs.register_stitchers`.

Environment variables (entry-point names, comma-separated)
    ``PTYCHOSTITCH_PLUGINS=name1,name2``
        Load only these entry points. Set but empty, it loads none (not even the built-ins).
    ``PTYCHOSTITCH_DISABLE_PLUGINS=name1,name2``
        Never load these entry points. It wins over ``PTYCHOSTITCH_PLUGINS``.

Failures
    A plugin that fails to import, implements a hook that does not exist (a misspelt
    ``register_stitchers``) or none at all (a missing ``@hookimpl``), raises in its hook, or
    registers something that is not a stitcher is reported with a :class:`PluginWarning` and
    skipped; the others still load. Two stitchers with one name, or one entry-point name
    provided twice, is a :class:`~ptychostitch.errors.PluginError` that names both
    distributions.

The process-wide :func:`registry` is loaded on first use and kept; :func:`reset` forgets it so
the next call reads the installed plugins again (for tests, or after installing a plugin in a
running interpreter). Code that wants its own view builds one with :meth:`Registry.load`.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

import pluggy

from ptychostitch import hookspecs
from ptychostitch.errors import PluginError

if TYPE_CHECKING:
    from ptychostitch.stitchers.contracts import Stitcher

log = logging.getLogger(__name__)

GROUP = "ptychostitch"
ALLOW_ENV = "PTYCHOSTITCH_PLUGINS"
DENY_ENV = "PTYCHOSTITCH_DISABLE_PLUGINS"
RESERVED_NAMES = frozenset({"auto"})
"""Stitcher names a plugin may not take: ``--stitcher auto`` means automatic selection."""


class PluginWarning(UserWarning):
    """A plugin could not be loaded and was skipped."""


@dataclass(frozen=True)
class Registered:
    """A stitcher and where it came from.

    Attributes
    ----------
    stitcher : Stitcher
        The registered object.
    entry_point : str
        Name of the entry point (in group ``ptychostitch``) whose hook registered it; the name
        the ``PTYCHOSTITCH_PLUGINS`` / ``PTYCHOSTITCH_DISABLE_PLUGINS`` variables use.
    distribution : str
        The installed distribution that declares that entry point.
    """

    stitcher: "Stitcher"
    entry_point: str
    distribution: str


@dataclass
class Registry:
    """The stitchers the installed plugins provide, keyed by stitcher name.

    Build one with :meth:`load`; :func:`registry` keeps the process-wide instance.

    Attributes
    ----------
    stitchers : dict of str to Registered
        Stitcher name to the stitcher and its origin.
    skipped : dict of str to str
        Entry-point name to why it was not loaded (blocked by a variable, or failed).
    """

    stitchers: dict[str, Registered] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> "Registry":
        """Discover entry points, honour the allow/deny variables and collect the stitchers.

        Parameters
        ----------
        environ : mapping, optional
            Where to read ``PTYCHOSTITCH_PLUGINS`` and ``PTYCHOSTITCH_DISABLE_PLUGINS``;
            ``os.environ`` by default.

        Raises
        ------
        PluginError
            Two stitchers share a name, or two entry points share a name.
        """
        env = os.environ if environ is None else environ
        allow = _names(env.get(ALLOW_ENV))
        deny = _names(env.get(DENY_ENV)) or set()
        manager = pluggy.PluginManager(GROUP)
        manager.add_hookspecs(hookspecs)
        reg = cls()
        sources: dict[str, str] = {}
        entry_points = _entry_points()
        for ep in entry_points:
            dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
            if ep.name in deny:
                reg.skipped[ep.name] = f"listed in {DENY_ENV}"
                continue
            if allow is not None and ep.name not in allow:
                reg.skipped[ep.name] = f"not listed in {ALLOW_ENV}"
                continue
            if ep.name in sources:
                raise PluginError(
                    f"entry point {ep.name!r} in group {GROUP!r} is provided twice: by distribution "
                    f"{sources[ep.name]!r} and by distribution {dist!r}; uninstall one, or block both "
                    f"with {DENY_ENV}={ep.name}"
                )
            try:
                plugin = ep.load()
                manager.register(plugin, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the others
                reg._skip(ep.name, f"plugin {ep.name!r} from {dist} failed to load: {exc!r}")
                continue
            try:
                manager.check_pending()
            except pluggy.PluginValidationError as exc:
                manager.unregister(name=ep.name)
                reg._skip(ep.name, f"plugin {ep.name!r} from {dist} implements an unknown hook: {exc}")
                continue
            if not manager.get_hookcallers(plugin):
                manager.unregister(name=ep.name)
                reg._skip(
                    ep.name,
                    f"plugin {ep.name!r} from {dist} implements no ptychostitch hook "
                    f"(is its register_stitchers decorated with @ptychostitch.hookimpl?)",
                )
                continue
            sources[ep.name] = dist
        if allow:
            missing = sorted(allow - {ep.name for ep in entry_points})
            if missing:
                log.warning("%s names entry points that are not installed: %s", ALLOW_ENV, ", ".join(missing))
        for impl in manager.hook.register_stitchers.get_hookimpls():
            dist = sources[impl.plugin_name]
            found: list[object] = []
            arguments = {"register": found.append}
            try:
                impl.function(*(arguments[name] for name in impl.argnames))
            except Exception as exc:  # noqa: BLE001
                reg._skip(impl.plugin_name, f"plugin {impl.plugin_name!r} from {dist} failed in register_stitchers: {exc!r}")
                continue
            for stitcher in found:
                reg._add(stitcher, impl.plugin_name, dist)
        return reg

    def _skip(self, name: str, message: str) -> None:
        self.skipped[name] = message
        warnings.warn(message + "; skipped", PluginWarning, stacklevel=3)

    def _add(self, stitcher: object, entry_point: str, dist: str) -> None:
        problem = why_not_a_stitcher(stitcher)
        if problem:
            self._skip(entry_point, f"plugin {entry_point!r} from {dist} registered {stitcher!r}, which {problem}")
            return
        name = stitcher.name  # type: ignore[attr-defined]
        if name in self.stitchers:
            other = self.stitchers[name]
            raise PluginError(
                f"stitcher name {name!r} is registered twice: by distribution {other.distribution!r} "
                f"(entry point {other.entry_point!r}) and by distribution {dist!r} (entry point {entry_point!r}); "
                f"uninstall one, or block one with {DENY_ENV}=<entry point>"
            )
        self.stitchers[name] = Registered(stitcher, entry_point, dist)  # type: ignore[arg-type]


_REGISTRY: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, loaded from the environment on first use and then kept."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry.load()
    return _REGISTRY


def reset() -> None:
    """Forget the process-wide registry; the next :func:`registry` call loads the plugins again."""
    global _REGISTRY
    _REGISTRY = None


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def why_not_a_stitcher(obj: object) -> str:
    """Why ``obj`` does not satisfy the ``Stitcher`` protocol, or ``""`` when it does."""
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name.strip():
        return "has no non-empty string `name`"
    if name in RESERVED_NAMES:
        return f"uses the reserved name {name!r}"
    priority = getattr(obj, "priority", None)
    if not isinstance(priority, int) or isinstance(priority, bool):
        return f"has no integer `priority` (found {priority!r})"
    for method in ("capability", "stitch"):
        if not callable(getattr(obj, method, None)):
            return f"has no `{method}` method"
    return ""


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=GROUP), key=lambda ep: ep.name)
