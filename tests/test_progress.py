"""``ptychostitch.progress``: a bar on a terminal, INFO lines elsewhere, nothing under ``-q``."""

from __future__ import annotations

import io
import logging
import re

import pytest

from ptychostitch.progress import Progress, count, duration, progress

log = logging.getLogger("tests.progress")


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_elsewhere_it_logs_lines_with_rate_and_eta_and_draws_no_bar(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    caplog.set_level(logging.INFO, logger=log.name)
    with Progress(log, "stitch", 4, "row", interval_s=0.0) as shown:
        for _ in range(4):
            shown.update()
        shown.set_postfix(loss="0.5")
    lines = [r.getMessage() for r in caplog.records]
    assert stderr.getvalue() == ""
    assert len(lines) == 5
    for done, line in enumerate(lines[:4], start=1):
        assert re.fullmatch(rf"stitch: {done}/4 rows \({25 * done}%\), [0-9.,e+]+ row/s, ETA [0-9.]+ s", line), line
    assert re.fullmatch(r"stitch: 4 rows in [0-9.]+ s, [0-9.,e+]+ row/s, loss 0.5", lines[4]), lines[4]


def test_elsewhere_lines_wait_for_the_interval(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    caplog.set_level(logging.INFO, logger=log.name)
    assert list(progress(range(1000), log, "count", unit="step")) == list(range(1000))
    assert [r.getMessage().split(":")[1].split(" in ")[0] for r in caplog.records] == [" 1000 steps"]


def test_without_a_summary_the_caller_logs_the_end(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    caplog.set_level(logging.INFO, logger=log.name)
    with Progress(log, "epoch 1/2", 3, "batch", summary=False) as shown:
        shown.update(3)
    assert caplog.records == []


def test_on_a_terminal_it_draws_a_bar_and_logs_nothing(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    stderr = Terminal()
    monkeypatch.setattr("sys.stderr", stderr)
    caplog.set_level(logging.INFO, logger=log.name)
    with Progress(log, "stitch", 4, "row", interval_s=0.0) as shown:
        assert shown.bar_shown
        shown.update(4)
    assert "\r" in stderr.getvalue() and "stitch" in stderr.getvalue()
    assert caplog.records == []


@pytest.mark.parametrize("stderr", [io.StringIO(), Terminal()], ids=["elsewhere", "terminal"])
def test_below_info_nothing_is_shown(stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("sys.stderr", stderr)
    caplog.set_level(logging.WARNING, logger=log.name)
    with Progress(log, "stitch", 4, "row", interval_s=0.0) as shown:
        assert not shown.bar_shown
        shown.update(4)
    assert stderr.getvalue() == "" and caplog.records == []


@pytest.mark.parametrize("seconds, text", [(3.44, "3.4 s"), (42.4, "42 s"), (185, "3 min 05 s"), (7620, "2 h 07 min")])
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize("n, unit, text", [(1, "row", "1 row"), (169, "row", "169 rows"), (2, "batch", "2 batches"), (0, "chunk", "0 chunks")])
def test_count(n: int, unit: str, text: str) -> None:
    assert count(n, unit) == text

