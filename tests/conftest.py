"""Shared fixtures: a private dataset cache per test, running the command line in-process, logging put back after each test, a fresh plugin registry per test, and plugins installed on the fly."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from ptychostitch import plugins
from ptychostitch.cli import main
from ptychostitch.runner.dataset_cache import CACHE_ENV
from ptychostitch.stitchers import registry


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty dataset cache (``$PTYCHOSTITCH_CACHE``), so none writes to ``~/.cache``; subprocesses inherit it."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget the process-wide plugin registry before and after the test, so it is re-read
    (without any allow/deny variables the person running the tests may have set)."""
    monkeypatch.delenv(plugins.ALLOW_ENV, raising=False)
    monkeypatch.delenv(plugins.DENY_ENV, raising=False)
    registry.reset()
    yield
    registry.reset()


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    """``main`` configures logging (the root and ``ptychostitch`` loggers, warning capture); put
    it back after every test, so that a test's ``-q`` or ``-v`` does not reach the next test."""
    root, ours = logging.getLogger(), logging.getLogger("ptychostitch")
    handlers, level, our_level = root.handlers[:], root.level, ours.level
    yield
    logging.captureWarnings(False)
    root.handlers[:] = handlers
    root.setLevel(level)
    ours.setLevel(our_level)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``ptychostitch ARGS...`` in-process; returns ``(exit status, stdout, stderr)``."""

    def run(*argv: str) -> tuple[int, str, str]:
        status = main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> Iterator[Callable[..., None]]:
    """``install(dist, {entry point: module}, {module: source})`` makes a fake installed distribution.

    It is a real one: a folder on ``sys.path`` holding ``<name>-<version>.dist-info/METADATA``
    and ``entry_points.txt`` plus the plugin modules, found through ``importlib.metadata``
    exactly as an installed package is.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def _install(dist: str, entry_points: dict[str, str], sources: dict[str, str]) -> None:
        info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[ptychostitch]\n{lines}")
        for module, source in sources.items():
            (site / f"{module}.py").write_text(source)
            modules.append(module)
        importlib.invalidate_caches()

    yield _install
    for module in modules:
        sys.modules.pop(module, None)
