"""Launching ``python -m ptychostitch`` in subprocesses: under ``torchrun`` with 2 Gloo ranks, or as one process with the ranks' settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

TIMEOUT_S = 240
Launcher = Callable[..., subprocess.CompletedProcess]


def _environment() -> dict[str, str]:
    """This checkout first on the path, short collective timeouts, and one thread (what ``torchrun`` gives each rank)."""
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PTYCHOSTITCH_DIST_TIMEOUT": "60",
            "PTYCHOSTITCH_DIST_WAIT_TIMEOUT": "120", "OMP_NUM_THREADS": "1"}


def _launch(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=_environment(), capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


@pytest.fixture
def torchrun() -> Launcher:
    """``torchrun(*args, cwd=...)``: ``python -m torch.distributed.run --standalone --nproc-per-node 2 -m ptychostitch ARGS``."""

    def launch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return _launch([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "ptychostitch", *args], cwd)

    return launch


STOP_AFTER_FIRST_EPOCH = """
import sys
from ptychostitch.cli import main
from ptychostitch.runner import run as pipeline
real = pipeline.checkpoint_writer
def stop_after_first(*args):
    write = real(*args)
    def hook(record, state):
        write(record, state)
        raise KeyboardInterrupt
    return hook
pipeline.checkpoint_writer = stop_after_first
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def one_process_stopped() -> Launcher:
    """``one_process_stopped(*args, cwd=...)``: ``python -m ptychostitch ARGS`` (a ``run``) interrupted, as by Ctrl-C, after its first epoch."""

    def launch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return _launch([sys.executable, "-c", STOP_AFTER_FIRST_EPOCH, *args], cwd)

    return launch


@pytest.fixture
def one_process() -> Launcher:
    """``one_process(*args, cwd=...)``: ``python -m ptychostitch ARGS`` with the environment of a rank (one thread)."""

    def launch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return _launch([sys.executable, "-m", "ptychostitch", *args], cwd)

    return launch


RANK_1_ELSEWHERE = """
import dataclasses
import sys
from ptychostitch.__main__ import entry
from ptychostitch.runner import sharded_run
real = sharded_run._agreed
def elsewhere(launch, shared):
    if shared is not None and launch.rank == 1:
        shared = dataclasses.replace(shared, token=shared.token + ".on-another-node")
    return real(launch, shared)
sharded_run._agreed = elsewhere
sys.exit(entry())  # as the ptychostitch script ends a process: os._exit, no teardown of Gloo's threads
"""


@pytest.fixture
def torchrun_rank_1_elsewhere(tmp_path: Path) -> Launcher:
    """``torchrun`` of ``ptychostitch ARGS`` in which rank 1 looks for rank 0's token file where it is not, as on a node that does not share the staging folder."""
    script = tmp_path / "rank_1_elsewhere.py"
    script.write_text(RANK_1_ELSEWHERE)

    def launch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return _launch([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script), *args], cwd)

    return launch
