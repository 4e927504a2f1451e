"""The registry of installed stitchers: what the plugins' ``register_stitchers`` hooks provide.

:meth:`Registry.load` loads the plugins (:func:`ptychostitch.plugins.load_plugins`), calls every
``register_stitchers`` implementation and checks each registered object against the stitcher
contract (:func:`~ptychostitch.stitchers.contract.why_not_a_stitcher`). A hook that raises or
exits, or registers something that is not a stitcher, is warned about and skipped. Two
stitchers with one name is a :class:`~ptychostitch.errors.PluginError` naming both distributions.

The process-wide registry (:func:`get_registry`) is loaded on first use and kept; :func:`reset`
forgets it so the next call reads the installed plugins again (for tests, or after installing a
plugin in a running interpreter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ptychostitch.errors import PLUGIN_FAILURES, PluginError
from ptychostitch.plugins import DENY_ENV, LoadedPlugins, load_plugins
from ptychostitch.stitchers.contract import Stitcher, why_not_a_stitcher


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

    stitcher: Stitcher
    entry_point: str
    distribution: str


@dataclass
class Registry:
    """The stitchers the installed plugins provide, keyed by stitcher name.

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
        """Load the plugins the environment allows and collect their stitchers.

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
        plugins = load_plugins(environ)
        reg = cls(skipped=plugins.skipped)
        for impl in plugins.manager.hook.register_stitchers.get_hookimpls():
            dist = plugins.distributions[impl.plugin_name]
            found: list[object] = []
            arguments = {"register": found.append}
            try:
                impl.function(*(arguments[name] for name in impl.argnames))
            except PLUGIN_FAILURES as exc:  # one broken plugin must not break the others
                plugins.skip(impl.plugin_name, f"plugin {impl.plugin_name!r} from {dist} failed in register_stitchers: {exc!r}")
                continue
            for stitcher in found:
                reg._add(plugins, stitcher, impl.plugin_name, dist)
        return reg

    def _add(self, plugins: LoadedPlugins, stitcher: object, entry_point: str, dist: str) -> None:
        try:
            problem = why_not_a_stitcher(stitcher)
        except PLUGIN_FAILURES as exc:  # its attributes are plugin code too
            problem = f"raised {exc!r} when its attributes were read"
        if problem:
            plugins.skip(entry_point, f"plugin {entry_point!r} from {dist} registered {stitcher!r}, which {problem}")
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


def get_registry() -> Registry:
    """The process-wide registry, loaded from the environment on first use and then kept."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry.load()
    return _REGISTRY


def reset() -> None:
    """Forget the process-wide registry; the next :func:`get_registry` call loads the plugins again."""
    global _REGISTRY
    _REGISTRY = None
