"""Progress of long loops: a tqdm bar on a terminal, a few INFO log lines anywhere else.

Every loop that reports progress goes through :class:`Progress` (or :func:`progress`), which
decides once, when it starts, how to show it:

- nothing, when its logger does not report INFO (``-q``);
- a tqdm bar on stderr, when stderr is a terminal (the bar is removed when the loop ends);
- otherwise (stderr redirected to a file or a pipe: SLURM, ``nohup``, CI) log lines on the given
  logger, never a bar or a carriage return: one line every :data:`INTERVAL_S` seconds while the
  loop runs (done so far, rate, ETA), and one line when it ends (count, time, rate), unless the
  caller logs its own line for the loop (``summary=False``, as training does per epoch).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")

INTERVAL_S = 60.0
"""Seconds between two progress lines of one loop when stderr is not a terminal."""


def stderr_is_terminal() -> bool:
    """Whether ``sys.stderr`` (as it is now) is an interactive terminal."""
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        return False


def count(n: int, unit: str) -> str:
    """``"1 row"``, ``"169 rows"``, ``"2 batches"``."""
    if n == 1:
        return f"{n} {unit}"
    return f"{n} {unit}es" if unit.endswith(("s", "x", "ch", "sh")) else f"{n} {unit}s"


def rate(steps: float, seconds: float, unit: str) -> str:
    """``"82.5 row/s"``, ``"1,024 chunk/s"``."""
    value = steps / seconds
    return f"{value:,.0f} {unit}/s" if value >= 100 else f"{value:.3g} {unit}/s"


def duration(seconds: float) -> str:
    """``seconds`` for a log line: ``"42 s"``, ``"3 min 05 s"``, ``"2 h 07 min"``."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


class Progress:
    """The progress of one loop of ``total`` steps (None when unknown), shown as the module says.

    Parameters
    ----------
    logger : logging.Logger
        Whose INFO level decides whether anything is shown, and which writes the lines.
    description : str
        What the loop does (the bar's label, the start of each line).
    total : int or None
        Steps the loop will take.
    unit : str
        What one step is (``"batch"``, ``"row"``).
    summary : bool
        Log one line when the loop ends (when stderr is not a terminal).
    interval_s : float
        Seconds between two lines while the loop runs (when stderr is not a terminal).
    show : bool
        False to show nothing whatever the level (a rank other than 0 of a distributed launch).
    """

    def __init__(
        self, logger: logging.Logger, description: str, total: int | None, unit: str = "it", *, summary: bool = True, interval_s: float = INTERVAL_S, show: bool = True
    ) -> None:
        self.log, self.description, self.total, self.unit = logger, description, total, unit
        self.summary, self.interval_s = summary, interval_s
        self.enabled = show and logger.isEnabledFor(logging.INFO)
        self.n = 0
        self.postfix: dict[str, str] = {}
        self.start = self._last = time.perf_counter()
        self._closed = False
        self._bar: Any = None
        if self.enabled and stderr_is_terminal():
            self._bar = tqdm(total=total, desc=description, unit=unit, leave=False, file=sys.stderr, dynamic_ncols=True)

    @property
    def bar_shown(self) -> bool:
        """Whether this loop is shown as a terminal bar (and so logs no lines)."""
        return self._bar is not None

    def elapsed(self) -> float:
        """Seconds since the loop started."""
        return time.perf_counter() - self.start

    def update(self, steps: int = 1) -> None:
        """Count ``steps`` more steps done; log a line when :attr:`interval_s` has passed since the last."""
        self.n += steps
        if self._bar is not None:
            self._bar.update(steps)
            return
        now = time.perf_counter()
        if self.enabled and now - self._last >= self.interval_s:
            self._last = now
            self.log.info("%s: %s", self.description, self._running(now - self.start))

    def set_postfix(self, **values: object) -> None:
        """Show ``name value`` pairs after the counts (on the bar, or in the next line)."""
        self.postfix = {name: str(value) for name, value in values.items()}
        if self._bar is not None:
            self._bar.set_postfix(self.postfix, refresh=False)

    def close(self) -> None:
        """End the loop: remove the bar, or log the summary line."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self.summary:
            elapsed = self.elapsed()
            self.log.info("%s: %s in %s%s%s", self.description, count(self.n, self.unit), duration(elapsed), self._rate(elapsed), self._extra())

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rate(self, elapsed: float) -> str:
        return f", {rate(self.n, elapsed, self.unit)}" if elapsed > 0 and self.n else ""

    def _extra(self) -> str:
        return "".join(f", {name} {value}" for name, value in self.postfix.items())

    def _running(self, elapsed: float) -> str:
        done = f"{self.n}/{count(self.total, self.unit)} ({100 * self.n / self.total:.0f}%)" if self.total else count(self.n, self.unit)
        eta = ""
        if self.total and self.n and elapsed > 0:
            eta = f", ETA {duration((self.total - self.n) * elapsed / self.n)}"
        return f"{done}{self._rate(elapsed)}{eta}{self._extra()}"


def progress(
    iterable: Iterable[T], logger: logging.Logger, description: str, total: int | None = None, unit: str = "it", *, summary: bool = True
) -> Iterator[T]:
    """Yield the items of ``iterable``, counting each as one step of a :class:`Progress`."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with Progress(logger, description, total, unit, summary=summary) as shown:
        for item in iterable:
            yield item
            shown.update()
