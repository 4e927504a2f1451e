"""Ctrl-C at any moment: one line on stderr, exit status 130, and short critical sections that finish first.

Two parts:

- :func:`deferred`: a block during which Ctrl-C waits (a result folder's commit uses it, so a
  folder is either complete or holds no ``metrics.json``); the interrupt is delivered as soon as
  the block ends.
- The process's own handling, for ``python -m ptychostitch`` and the ``ptychostitch`` script
  (:mod:`ptychostitch.__main__`): :func:`install` before anything heavy is imported, so that
  Ctrl-C during imports is one line too; :func:`stop_raising` as the command ends and
  :func:`finish` once it has its status. From then on Ctrl-C is only recorded (no traceback
  from some library's exit handler), and the last exit handler ends the process with 130 if
  Ctrl-C came at any point, after saying so.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from typing import Any, Iterator

from ptychostitch.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, say


class _Process:
    """What this process knows about Ctrl-C (one instance, :data:`_PROCESS`)."""

    def __init__(self) -> None:
        self.installed = False
        self.raising = True
        self.interrupted = False
        self.reported = False
        self.status = EXIT_INTERNAL

    def on_sigint(self, signum: int, frame: Any) -> None:
        self.interrupted = True
        if self.raising:
            raise KeyboardInterrupt

    def last_word(self) -> None:
        """The last exit handler: flush the output (Ctrl-C meanwhile is recorded), then say so and end.

        ``os._exit`` ends the process here, so no module teardown after it can be interrupted.
        """
        _flush()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.interrupted:
            report("ptychostitch")
            _flush()
        os._exit(EXIT_INTERRUPTED if self.interrupted else self.status)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


_PROCESS = _Process()


def report(prefix: str) -> int:
    """Print ``PREFIX: interrupted`` on stderr (once in a process that :func:`install` ed); return 130."""
    if not _PROCESS.reported:
        _PROCESS.reported = _PROCESS.installed
        with contextlib.suppress(Exception):
            say(f"{prefix}: interrupted")
    return EXIT_INTERRUPTED


def install() -> None:
    """Make this process handle Ctrl-C itself (call first thing in the process entry point).

    Ctrl-C raises :class:`KeyboardInterrupt` as usual until :func:`stop_raising`. The exit handler
    registered here is registered before any library's, so it runs after all of them.
    """
    _PROCESS.installed = True
    signal.signal(signal.SIGINT, _PROCESS.on_sigint)
    atexit.register(_PROCESS.last_word)


def stop_raising() -> None:
    """From now on Ctrl-C is only recorded: the command has ended (or is ending)."""
    _PROCESS.raising = False


def finish(status: int) -> int:
    """The command ended with ``status``; return the status to exit with (130 if Ctrl-C came at any point)."""
    stop_raising()
    _PROCESS.status = status
    if _PROCESS.interrupted:
        return report("ptychostitch")
    return status


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block ends, then deliver it as the handler before would have.

    Only the main thread receives Python signal handlers; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            _deliver(previous)


def _deliver(handler: Any) -> None:
    if handler in (signal.default_int_handler, signal.SIG_DFL, None):
        raise KeyboardInterrupt
    if callable(handler):
        handler(signal.SIGINT, None)
