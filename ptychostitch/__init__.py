"""ptychostitch: stitch per-position patch predictions into the ground-truth frame and score them.

Data flows one way: data -> model -> patch stream -> stitcher -> metrics -> artifacts.
The parts are :mod:`ptychostitch.stitchers`, :mod:`ptychostitch.metrics` and
:mod:`ptychostitch.runner`; the coordinate convention every part uses is written down once in
:mod:`ptychostitch.geometry`.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("ptychostitch")
"""Marker for plugin hook implementations: ``@hookimpl def register_stitchers(register): ...``."""

__all__ = ["__version__", "hookimpl"]
