"""``python -m ptychostitch`` and the ``ptychostitch`` script: the command line as a process.

:func:`entry` takes over Ctrl-C (:mod:`ptychostitch.interrupts`) before the command line's
modules are imported, so that Ctrl-C at any moment, imports included, ends with one line and
status 130.
"""

import sys

from ptychostitch import interrupts


def entry() -> int:
    """Run :func:`ptychostitch.cli.main` in this process; return the exit status."""
    interrupts.install()
    try:
        try:
            from ptychostitch.cli import main

            status = main()
        finally:
            interrupts.stop_raising()
    except KeyboardInterrupt:
        status = interrupts.report("ptychostitch")
    except SystemExit as exc:  # argparse: --help, --version and usage errors exit this way
        status = _exit_status(exc.code)
    return interrupts.finish(status)


def _exit_status(code: object) -> int:
    """The status ``SystemExit(code)`` stands for; a message instead of a number is printed, status 1."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(entry())
