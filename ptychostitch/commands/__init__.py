"""Sub-commands of the ``ptychostitch`` command line.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``execute(args) -> int``.
"""

from ptychostitch.commands import evaluate, simulate, stitchers

COMMANDS = [simulate, evaluate, stitchers]
