"""Shared fixtures: running the command line in-process, and a fresh plugin registry per test."""

from __future__ import annotations

import logging
from typing import Callable, Iterator

import pytest

from ptychostitch import plugins
from ptychostitch.cli import main
from ptychostitch.stitchers import registry


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget the process-wide plugin registry before and after the test, so it is re-read
    (without any allow/deny variables the person running the tests may have set)."""
    monkeypatch.delenv(plugins.ALLOW_ENV, raising=False)
    monkeypatch.delenv(plugins.DENY_ENV, raising=False)
    registry.reset()
    yield
    registry.reset()


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """Run ``ptychostitch ARGS...`` in-process; returns ``(exit status, stdout, stderr)``.

    ``main`` configures logging for a terminal; the root logger and warning capture are put
    back afterwards so later tests are unaffected.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def run(*argv: str) -> tuple[int, str, str]:
        status = main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    yield run
    logging.captureWarnings(False)
    root.handlers[:] = handlers
    root.setLevel(level)
