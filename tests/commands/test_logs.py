"""Logs when stderr is not a terminal (SLURM, ``nohup``): no bars, one line per epoch and stage; ``-q`` and ``-v`` scope.

Each case runs ``python -m ptychostitch`` in a fresh process with stderr to a pipe, on a tiny
simulated dataset, and reads what it wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.simulate import SimulationConfig, simulate

REPO = Path(__file__).resolve().parents[2]
TINY = SimulationConfig(N=16, gridsize=1, size=64, outer_offset_train=4, outer_offset_test=8, nimgs_train=1, nimgs_test=1, set_phi=True, seed=0)
LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR) (\S+): ", re.MULTILINE)
BAR_MARKS = ("\r", "\x1b[", "█", "%|")
"""What a tqdm bar leaves in a file: carriage returns, cursor moves, blocks, ``NN%|``."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    paths = simulate(TINY, tmp_path_factory.mktemp("tiny"))
    return paths.train, paths.test


def ptychostitch(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m ptychostitch ARGV`` with stdout and stderr to pipes (not terminals)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-m", "ptychostitch", *argv], capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def run(tiny: tuple[Path, Path], out: Path, *extra: str) -> str:
    """stderr of a tiny ``run``."""
    train, test = tiny
    return ptychostitch("run", "--train-npz", str(train), "--test-npz", str(test), "--output-dir", str(out), *extra, cwd=out.parent).stderr


def test_redirected_stderr_has_no_bars_and_one_line_per_epoch_and_stage(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    err = run(tiny, tmp_path / "out", "--epochs", "2")
    for mark in BAR_MARKS:
        assert mark not in err, f"{mark!r} in stderr"
    for epoch in (1, 2):
        found = re.findall(rf"^INFO ptychostitch\.model\.train: epoch {epoch}/2: .*, [0-9.,]+ batch/s, ETA [^,)]+ s\)$", err, re.MULTILINE)
        assert len(found) == 1, err
    rows = np.load(tiny[1])["diffraction"].shape[0]
    stitched = re.findall(rf"^INFO ptychostitch\.runner\.scoring: predict \+ stitch \(\S+\): {rows} rows in [^,]+ s, [0-9.,]+ row/s$", err, re.MULTILINE)
    assert len(stitched) == 1, err
    assert {"load", "train", "predict+stitch", "artifacts"} <= set(re.findall(r"stage (\S+) took", err))


def test_quiet_logs_no_info(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    err = run(tiny, tmp_path / "out", "--epochs", "1", "-q")
    assert not re.search(r"^(INFO|DEBUG) ", err, re.MULTILINE), err
    for mark in BAR_MARKS:
        assert mark not in err
    assert (tmp_path / "out" / "metrics.json").is_file()


def test_verbose_debugs_ptychostitch_only(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    err = run(tiny, tmp_path / "out", "--epochs", "1", "-v")
    levels = {}
    for level, name in LOG_LINE.findall(err):
        levels.setdefault(level, set()).add(name)
    assert any(name.startswith("ptychostitch.") for name in levels.get("DEBUG", ())), err[-2000:]
    others = {name for level in ("DEBUG", "INFO") for name in levels.get(level, ()) if name.split(".")[0] != "ptychostitch"}
    assert not others, f"debug or info lines of other libraries: {sorted(others)}"
    assert (tmp_path / "out" / "comparison.png").is_file()  # matplotlib drew (and could have logged)


def test_tensorflow_is_silent_unless_verbose(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    done = ptychostitch("stitchers", "--test-npz", str(tiny[1]), cwd=tmp_path)
    assert re.search(r"^tf-shift-sum .* can run: ", done.stdout, re.MULTILINE), done.stdout  # TensorFlow was imported
    assert done.stderr == "", done.stderr
