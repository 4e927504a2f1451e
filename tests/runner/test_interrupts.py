"""Ctrl-C at any moment: SIGINT sent to a real ``python -m ptychostitch`` during its imports and right at its end.

Each time: exit status 130, one line on stderr, and the result folder either complete or
without ``metrics.json``. Also in-process: a commit finishes before Ctrl-C is delivered.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ptychostitch
from ptychostitch import interrupts
from ptychostitch.runner.result_folder import MANIFEST, STAGING, claim
from ptychostitch.testing.files import write_grid_file, write_predictions

CHILD_ENV = dict(os.environ, PYTHONPATH=str(Path(ptychostitch.__file__).resolve().parents[1]))
ONE_LINE = re.compile(r"ptychostitch( evaluate)?: interrupted\n")


@pytest.fixture
def command(tmp_path: Path) -> list[str]:
    written = write_grid_file(tmp_path / "test.npz")
    pred = write_predictions(tmp_path / "pred.npz", written.true_patches)
    return [sys.executable, "-m", "ptychostitch", "evaluate", "-q", "--test-npz", str(written.path), "--predictions", str(pred),
            "--output-dir", str(tmp_path / "out")]


def wait_for(condition, what: str, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def test_ctrl_c_during_imports_is_one_line_and_130(command: list[str], tmp_path: Path) -> None:
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CHILD_ENV)
    maps = Path(f"/proc/{child.pid}/maps")

    def importing_numpy() -> bool:  # the command line's imports have begun: numpy's core is being loaded
        try:
            return "_multiarray_umath" in maps.read_text()
        except OSError:
            return child.poll() is not None

    wait_for(importing_numpy, "the child to start importing numpy")
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert ONE_LINE.fullmatch(err), err
    assert out == ""
    assert not (tmp_path / "out" / "metrics.json").exists()


@pytest.mark.parametrize("moment", ["metrics.json appears", "the last flush of stdout"])
def test_ctrl_c_right_at_the_end_is_one_line_130_and_a_complete_folder(command: list[str], tmp_path: Path, moment: str) -> None:
    read_end, write_end = os.pipe()
    filled = os.write(write_end, b"." * 65536)  # a full pipe: the child's last flush of stdout waits for us to read
    buffered = {key: value for key, value in CHILD_ENV.items() if key != "PYTHONUNBUFFERED"}  # stdout written at exit
    child = subprocess.Popen(command, stdout=write_end, stderr=subprocess.PIPE, text=True, env=buffered)
    os.close(write_end)
    out = tmp_path / "out"
    if moment == "metrics.json appears":
        wait_for(lambda: (out / "metrics.json").exists() or child.poll() is not None, "metrics.json")
    else:  # the command has finished and every library's exit handler has run: the process waits to write stdout
        wchan = Path(f"/proc/{child.pid}/wchan")
        wait_for(lambda: "pipe_write" in wchan.read_text() or child.poll() is not None, "the last flush")
    child.send_signal(signal.SIGINT)
    with os.fdopen(read_end, "rb") as pipe:
        stdout = pipe.read()
    err = child.stderr.read()
    child.wait(timeout=60)
    assert child.returncode == 130, err
    assert ONE_LINE.fullmatch(err), err
    assert stdout.startswith(b"." * filled)
    if moment == "the last flush of stdout":
        assert err == "ptychostitch: interrupted\n" and b"artifacts: " in stdout  # nothing was cut short
    assert sorted(os.listdir(out)) == sorted([MANIFEST, "comparison.png", "coverage.png", "evaluate.json", "frc.png", "metrics.json", "stitched.npz"])


def test_a_commit_finishes_before_ctrl_c_is_delivered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = claim(tmp_path / "out")
    for name in ("a.npy", "b.npy"):
        np.save(folder.staging / name, np.arange(3))
    real_replace = os.replace

    def replace_then_ctrl_c(source, target):  # noqa: ANN001, ANN202 - Ctrl-C arrives between two renames
        real_replace(source, target)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        with folder:
            folder.commit({"done": True})
    assert sorted(os.listdir(tmp_path / "out")) == sorted([MANIFEST, "a.npy", "b.npy", "metrics.json"])
    assert not (tmp_path / "out" / STAGING).exists()


def test_ctrl_c_before_the_commit_discards_the_staged_files(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("kept")
    with pytest.raises(KeyboardInterrupt):
        with claim(tmp_path / "out") as folder:
            (folder.staging / "stitched.npz").write_bytes(b"half")
            with interrupts.deferred():
                os.kill(os.getpid(), signal.SIGINT)
            raise AssertionError("Ctrl-C is delivered when the deferred block ends")
    assert os.listdir(tmp_path / "out") == ["mine.txt"]
