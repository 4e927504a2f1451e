"""Plugin loading: the ``ptychostitch`` entry-point group, read once, lazily.

Every stitcher, the built-in ones included, arrives through an entry point in the group
``ptychostitch`` whose target implements :func:`ptychostitch.hookspecs.register_stitchers`.

Environment variables
    ``PTYCHOSTITCH_PLUGINS=name1,name2``
        Load only these entry points (by entry-point name).
    ``PTYCHOSTITCH_DISABLE_PLUGINS=name1,name2``
        Never load these entry points.

A plugin that fails to import, or whose hook raises, is reported with a
:class:`PluginWarning` and skipped; the others still load. Two stitchers with one name is a
:class:`~ptychostitch.errors.PluginError` that names both distributions.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import warnings
from dataclasses import dataclass, field

import pluggy

from ptychostitch import hookspecs
from ptychostitch.errors import PluginError

log = logging.getLogger(__name__)

GROUP = "ptychostitch"
ALLOW_ENV = "PTYCHOSTITCH_PLUGINS"
DENY_ENV = "PTYCHOSTITCH_DISABLE_PLUGINS"


class PluginWarning(UserWarning):
    """A plugin could not be loaded and was skipped."""


@dataclass(frozen=True)
class Registered:
    """A stitcher and where it came from."""

    stitcher: object
    entry_point: str
    distribution: str


@dataclass
class Registry:
    """The stitchers the installed plugins provide, keyed by stitcher name.

    Build one with :meth:`load`; :func:`registry` keeps the process-wide instance.
    """

    stitchers: dict[str, Registered] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, environ: "os._Environ[str] | dict[str, str] | None" = None) -> "Registry":
        """Discover entry points, honour the allow/deny variables and collect the stitchers."""
        env = os.environ if environ is None else environ
        allow = _names(env.get(ALLOW_ENV))
        deny = _names(env.get(DENY_ENV)) or set()
        manager = pluggy.PluginManager(GROUP)
        manager.add_hookspecs(hookspecs)
        reg = cls()
        sources: dict[str, str] = {}
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            if allow is not None and ep.name not in allow:
                reg.skipped[ep.name] = f"not listed in {ALLOW_ENV}"
                continue
            if ep.name in deny:
                reg.skipped[ep.name] = f"listed in {DENY_ENV}"
                continue
            if ep.name in sources:
                if sources[ep.name] != dist:
                    raise PluginError(
                        f"entry point {ep.name!r} in group {GROUP!r} is provided twice: by distribution "
                        f"{sources[ep.name]!r} and by distribution {dist!r}"
                    )
                continue  # the same distribution seen twice on sys.path
            try:
                manager.register(ep.load(), name=ep.name)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the others
                reg._skip(ep.name, f"plugin {ep.name!r} from {dist} failed to load: {exc!r}")
                continue
            sources[ep.name] = dist
        for impl in manager.hook.register_stitchers.get_hookimpls():
            dist = sources.get(impl.plugin_name, "unknown distribution")
            found: list[object] = []
            try:
                impl.function(register=found.append)
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
        name = getattr(stitcher, "name", None)
        if not isinstance(name, str) or not name:
            self._skip(entry_point, f"plugin {entry_point!r} from {dist} registered a stitcher without a name")
            return
        if name in self.stitchers:
            other = self.stitchers[name]
            raise PluginError(
                f"stitcher name {name!r} is registered twice: by distribution {other.distribution!r} "
                f"(entry point {other.entry_point!r}) and by distribution {dist!r} (entry point {entry_point!r})"
            )
        self.stitchers[name] = Registered(stitcher, entry_point, dist)


_REGISTRY: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, loaded on first use (idempotent)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry.load()
    return _REGISTRY


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=GROUP), key=lambda ep: ep.name)
