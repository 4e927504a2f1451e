"""Sub-commands of the ``ptychostitch`` command line.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``execute(args) -> int``.
"""

from ptychostitch.commands import compare, evaluate, run, score, simulate, stitchers

COMMANDS = [simulate, run, evaluate, score, compare, stitchers]
