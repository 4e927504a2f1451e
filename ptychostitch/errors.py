"""Exceptions that reach a person as one line on stderr, never as a traceback, the exit codes they get, and :func:`say`, which writes that line.

Exit codes of every command: :data:`EXIT_OK` (0), :data:`EXIT_INTERNAL` (1, a bug in
ptychostitch), :data:`EXIT_INPUT` (2, :class:`InputError`: bad input or usage),
:data:`EXIT_PLUGIN_FAULT` (3, :class:`PluginFault`: a stitcher's own code failed or returned
something invalid) and :data:`EXIT_INTERRUPTED` (130, Ctrl-C).
"""

from __future__ import annotations

import os
import sys

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_PLUGIN_FAULT = 3
EXIT_INTERRUPTED = 130

PLUGIN_FAILURES: tuple[type[BaseException], ...] = (Exception, SystemExit, GeneratorExit)
"""Everything third-party plugin code may raise that must not end a command by itself, exits
included. :class:`KeyboardInterrupt` is left out on purpose: Ctrl-C always ends the command."""


class InputError(Exception):
    """Bad input or usage: a missing file, a wrong key or shape, an impossible request.

    The message is a single line that names what was wrong (file, key, expected and found).
    The command line prints it and exits with status 2.
    """


class PluginError(InputError):
    """The installed plugins cannot be combined (for example two stitchers share one name)."""


class PluginFault(Exception):
    """A plugin's stitcher failed: its ``stitch`` raised or exited, or returned an invalid result.

    Not the user's bad input: the command line prints the one-line message (which names the
    stitcher, its entry point and its distribution) and exits with :data:`EXIT_PLUGIN_FAULT`.
    """


def quoted(path: str | os.PathLike[str]) -> str:
    """``path`` in quotes, with newlines and other control characters escaped: one line, always."""
    return repr(os.fspath(path))


def one_line(text: str) -> str:
    """``text`` with every line break and other control character escaped, so it prints as one line."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def say(line: str) -> None:
    """Write ``line`` and its newline to stderr in one write (the command line's last word: an error, an interrupt).

    One write, so that the lines of ranks sharing a stderr never run together.
    """
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
