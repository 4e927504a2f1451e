"""Plugin loading: the ``ptychostitch`` entry-point group, read through one pluggy ``PluginManager``.

Every plugin, the built-in stitchers included, is an entry point in the group ``ptychostitch``
whose target implements hooks of :mod:`ptychostitch.hookspecs`. :func:`load_plugins` imports the
entry points the environment allows and registers them; what the hooks provide is collected by
the caller (for stitchers, :mod:`ptychostitch.stitchers.registry`).

Environment variables (entry-point names, comma-separated)
    ``PTYCHOSTITCH_PLUGINS=name1,name2``
        Load only these entry points. Set but empty, it loads none (not even the built-ins).
    ``PTYCHOSTITCH_DISABLE_PLUGINS=name1,name2``
        Never load these entry points. It wins over ``PTYCHOSTITCH_PLUGINS``.

Failures
    A plugin that fails to import (it raises anything, ``sys.exit`` included), implements a
    hook that does not exist (a misspelt ``register_stitchers``) or none at all (a missing
    ``@hookimpl``) is reported with a :class:`PluginWarning` and skipped; the others still load. One entry-point name provided by
    two distributions is a :class:`~ptychostitch.errors.PluginError` naming both.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Mapping

import pluggy

from ptychostitch import hookspecs
from ptychostitch.errors import PLUGIN_FAILURES, PluginError

log = logging.getLogger(__name__)

GROUP = "ptychostitch"
ALLOW_ENV = "PTYCHOSTITCH_PLUGINS"
DENY_ENV = "PTYCHOSTITCH_DISABLE_PLUGINS"


class PluginWarning(UserWarning):
    """A plugin could not be loaded and was skipped."""


@dataclass
class LoadedPlugins:
    """The outcome of :func:`load_plugins`.

    Attributes
    ----------
    manager : pluggy.PluginManager
        Every loaded plugin, registered under its entry-point name.
    distributions : dict of str to str
        Entry-point name of each loaded plugin to the distribution that declares it.
    skipped : dict of str to str
        Entry-point name to why it was not loaded (blocked by a variable, or failed).
    """

    manager: pluggy.PluginManager
    distributions: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def skip(self, name: str, message: str) -> None:
        """Record that entry point ``name`` is skipped, and warn with ``message``."""
        self.skipped[name] = message
        warnings.warn(message + "; skipped", PluginWarning, stacklevel=3)


def load_plugins(environ: Mapping[str, str] | None = None) -> LoadedPlugins:
    """Import and register the entry points of group ``ptychostitch`` that the environment allows.

    Parameters
    ----------
    environ : mapping, optional
        Where to read ``PTYCHOSTITCH_PLUGINS`` and ``PTYCHOSTITCH_DISABLE_PLUGINS``;
        ``os.environ`` by default.

    Raises
    ------
    PluginError
        Two distributions provide one entry-point name.
    """
    env = os.environ if environ is None else environ
    allow = _names(env.get(ALLOW_ENV))
    deny = _names(env.get(DENY_ENV)) or set()
    manager = pluggy.PluginManager(GROUP)
    manager.add_hookspecs(hookspecs)
    loaded = LoadedPlugins(manager)
    entry_points = entry_points_of_group()
    for ep in entry_points:
        dist = distribution_of(ep)
        if ep.name in deny:
            loaded.skipped[ep.name] = f"listed in {DENY_ENV}"
            continue
        if allow is not None and ep.name not in allow:
            loaded.skipped[ep.name] = f"not listed in {ALLOW_ENV}"
            continue
        if ep.name in loaded.distributions:
            raise PluginError(
                f"entry point {ep.name!r} in group {GROUP!r} is provided twice: by distribution "
                f"{loaded.distributions[ep.name]!r} and by distribution {dist!r}; uninstall one, or block both "
                f"with {DENY_ENV}={ep.name}"
            )
        try:
            plugin = ep.load()
            manager.register(plugin, name=ep.name)
        except PLUGIN_FAILURES as exc:  # a broken plugin must not break the others
            loaded.skip(ep.name, f"plugin {ep.name!r} from {dist} failed to load: {exc!r}")
            continue
        try:
            manager.check_pending()
        except pluggy.PluginValidationError as exc:
            manager.unregister(name=ep.name)
            loaded.skip(ep.name, f"plugin {ep.name!r} from {dist} implements an unknown hook: {exc}")
            continue
        if not manager.get_hookcallers(plugin):
            manager.unregister(name=ep.name)
            loaded.skip(
                ep.name,
                f"plugin {ep.name!r} from {dist} implements no ptychostitch hook "
                f"(is its register_stitchers decorated with @ptychostitch.hookimpl?)",
            )
            continue
        loaded.distributions[ep.name] = dist
    if allow:
        missing = sorted(allow - {ep.name for ep in entry_points})
        if missing:
            log.warning("%s names entry points that are not installed: %s", ALLOW_ENV, ", ".join(missing))
    return loaded


def entry_points_of_group() -> list[importlib.metadata.EntryPoint]:
    """Every installed entry point of group ``ptychostitch``, by name (nothing is imported)."""
    return sorted(importlib.metadata.entry_points(group=GROUP), key=lambda ep: ep.name)


def distribution_of(ep: importlib.metadata.EntryPoint) -> str:
    """The name of the distribution that declares ``ep``."""
    return ep.dist.name if ep.dist is not None else "an unknown distribution"


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}
