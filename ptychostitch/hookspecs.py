"""The hooks a ptychostitch plugin may implement.

A plugin is a module (or object) named by an entry point in the ``ptychostitch`` group. It
implements hooks with the :data:`ptychostitch.hookimpl` marker::

    from ptychostitch import hookimpl

    @hookimpl
    def register_stitchers(register):
        register(MyStitcher())
"""

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("ptychostitch")


@hookspec
def register_stitchers(register: Callable[[object], None]) -> None:
    """Register stitchers by calling ``register(stitcher)`` once for each of them.

    Each stitcher satisfies :class:`ptychostitch.stitchers.Stitcher`: a unique ``name``, an
    integer ``priority`` (higher is preferred by ``auto`` selection), ``capability(context)``
    and ``stitch(context, batches)``. A name that another installed plugin already registered is
    an error that names both distributions.
    """
