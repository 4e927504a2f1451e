"""ptychostitch-median: an example third-party stitcher plugin for ptychostitch.

It registers one stitcher, ``median`` (see :mod:`ptychostitch_median.stitcher`), through the
entry point ``median = ptychostitch_median`` in group ``ptychostitch`` (its ``setup.cfg``).
Its priority, 5, is below the built-in ``tf-style`` (10), so ``--stitcher auto`` takes it only
where ``tf-style`` cannot run (a scattered scan); ask for it with ``--stitcher median``.
"""

from typing import Callable

from ptychostitch import hookimpl
from ptychostitch_median.stitcher import MedianStitcher

__version__ = "0.1.0"

__all__ = ["MedianStitcher", "register_stitchers"]


@hookimpl
def register_stitchers(register: Callable[[object], None]) -> None:
    """Register the ``median`` stitcher with ptychostitch."""
    register(MedianStitcher())
