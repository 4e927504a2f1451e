"""The ``ptychostitch`` command line: one sub-command per module in :mod:`ptychostitch.commands`.

Exit status: 0 on success, 2 on bad input or usage (one line on stderr, no traceback), 1 on an
internal error, 3 when a plugin's stitcher fails (one line naming it and its distribution), 130
when interrupted (see :mod:`ptychostitch.errors`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from ptychostitch import __version__, interrupts
from ptychostitch.commands import COMMANDS
from ptychostitch.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_PLUGIN_FAULT, InputError, PluginFault, one_line, say

log = logging.getLogger("ptychostitch")

TF_LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
"""The variable TensorFlow reads, when it is imported, for how much of its C++ logging to print."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit 2."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A log handler that writes to whatever ``sys.stderr`` is when a record is emitted."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        """``StreamHandler`` assigns a stream; this handler always follows ``sys.stderr``."""


def _verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", default=default, help="log debugging detail")
    group.add_argument("-q", "--quiet", action="store_true", default=default, help="log warnings and errors only, no progress bars")


def configure_logging(*, verbose: bool, quiet: bool) -> None:
    """Log to stderr: ptychostitch's loggers at INFO (DEBUG with ``verbose``, WARNING with ``quiet``), others at WARNING.

    Other libraries' debug and info lines (matplotlib's font manager, numba's compiler) stay out
    even under ``-v``. Unless ``verbose``, TensorFlow's C++ logging is silenced too: the variable
    it reads when it is imported, ``TF_CPP_MIN_LOG_LEVEL``, is set to 3 where the environment
    does not set it already.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", handlers=[_StderrHandler()], force=True)
    logging.getLogger("ptychostitch").setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logging.captureWarnings(True)
    if not verbose:
        os.environ.setdefault(TF_LOG_LEVEL_ENV, "3")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every sub-command attached; ``-v``/``-q`` work before or after the command."""
    parser = _Parser(prog="ptychostitch", description=__doc__.splitlines()[0])
    _verbosity(parser, False)
    parser.add_argument("--version", action="version", version=f"ptychostitch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMANDS:
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        _verbosity(command, argparse.SUPPRESS)
        module.add_arguments(command)
        command.set_defaults(execute=module.execute)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    configure_logging(verbose=args.verbose, quiet=args.quiet)
    prefix = f"ptychostitch {args.command}"
    try:
        return int(args.execute(args) or 0)
    except InputError as exc:
        say(f"{prefix}: error: {one_line(str(exc))}")
        return EXIT_INPUT
    except PluginFault as exc:
        log.debug("plugin fault", exc_info=True)
        say(f"{prefix}: plugin fault: {one_line(str(exc))}")
        return EXIT_PLUGIN_FAULT
    except KeyboardInterrupt:
        return interrupts.report(prefix)
    except Exception as exc:  # noqa: BLE001 - the last line of defence prints one line
        log.debug("internal error", exc_info=True)
        say(f"{prefix}: internal error: {one_line(repr(exc))} (run with -v for the traceback)")
        return EXIT_INTERNAL
