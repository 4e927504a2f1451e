"""Start-up: help, usage errors, missing input files and the stitcher list import no heavy library.

Each case runs the real entry point (:func:`ptychostitch.__main__.entry`) in a fresh interpreter
and then reads ``sys.modules``: what was imported, not how long it took (the times are
``benchmarks/cli_startup.py``'s job).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ptychostitch.cli import main
from ptychostitch.testing.files import write_grid_file

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "tensorflow", "matplotlib", "numba")

CHILD = """
import json, sys
argv, heavy = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
sys.argv = ["ptychostitch", *argv]
from ptychostitch.__main__ import entry
status = entry()
print(json.dumps({"status": status, "heavy": sorted({m.split(".")[0] for m in sys.modules} & heavy)}))
"""


def imported_by(argv: list[str], cwd: Path, **environ: str) -> tuple[int, list[str], str]:
    """Exit status, the heavy libraries imported, and stderr of ``ptychostitch ARGV`` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **environ}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(argv), json.dumps(HEAVY)], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["status"], report["heavy"], done.stderr


COMMANDS = ["simulate", "run", "evaluate", "score", "compare", "stitchers"]

CASES = [
    (["--help"], 0),
    (["--version"], 0),
    *[([command, "--help"], 0) for command in COMMANDS],
    (["run", "--epochs", "x"], 2),
    (["evaluate"], 2),
    (["no-such-command"], 2),
    (["evaluate", "--test-npz", "missing.npz", "--predictions", "missing.npz", "--output-dir", "out"], 2),
    (["score", "--test-npz", "missing.npz", "--object", "missing.npz", "--output-dir", "out"], 2),
    (["run", "--train-npz", "missing.npz", "--test-npz", "missing.npz"], 2),
    (["run", "--checkpoint", "missing.pt"], 2),
    (["stitchers", "--test-npz", "missing.npz"], 2),
    (["stitchers", "--json"], 0),
    (["stitchers"], 0),
]


@pytest.mark.parametrize("argv, status", CASES, ids=[" ".join(argv) for argv, _ in CASES])
def test_answers_without_importing_torch_tensorflow_matplotlib_or_numba(argv: list[str], status: int, tmp_path: Path) -> None:
    found, heavy, err = imported_by(argv, tmp_path)
    assert found == status, err
    assert heavy == [], f"{argv} imported {heavy}"
    if status == 2:
        assert len(err.strip().splitlines()) == 1, err


def test_the_child_sees_a_heavy_import_when_there_is_one(tmp_path: Path) -> None:
    """The check above can fail: asking torch-mmap whether it can run on a file imports torch, and is caught."""
    written = write_grid_file(tmp_path / "test.npz")
    found, heavy, err = imported_by(["stitchers", "--test-npz", str(written.path)], tmp_path, PTYCHOSTITCH_DISABLE_PLUGINS="tf-shift-sum")
    assert found == 0, err
    assert "torch" in heavy


BAD_CONTENT = [
    ["evaluate", "--test-npz", "bad.npz", "--predictions", "bad.npz", "--output-dir", "out"],
    ["score", "--test-npz", "bad.npz", "--object", "bad.npz", "--output-dir", "out"],
    ["stitchers", "--test-npz", "bad.npz"],
    ["compare", "nowhere", "--output-dir", "out"],
    ["simulate", "--output-dir", "out", "--probe", "missing.npz"],
]


@pytest.mark.parametrize("argv", BAD_CONTENT, ids=[" ".join(argv) for argv in BAD_CONTENT])
def test_input_file_errors_import_no_torch_tensorflow_matplotlib_or_numba(argv: list[str], tmp_path: Path) -> None:
    (tmp_path / "bad.npz").write_text("diffraction,Y_I\n1,2\n")  # exists, but is no NPZ
    found, heavy, err = imported_by(argv, tmp_path)
    assert found == 2 and len(err.strip().splitlines()) == 1, err
    assert heavy == [], f"{argv} imported {heavy}"


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["evaluate", "--test-npz", "{missing}", "--predictions", "{present}", "--output-dir", "out"], "--test-npz"),
        (["evaluate", "--test-npz", "{present}", "--predictions", "{missing}", "--output-dir", "out"], "--predictions"),
        (["score", "--test-npz", "{present}", "--object", "{missing}", "--output-dir", "out"], "--object"),
        (["run", "--train-npz", "{missing}"], "--train-npz"),
        (["run", "--checkpoint", "{missing}"], "--checkpoint"),
        (["stitchers", "--test-npz", "{missing}"], "--test-npz"),
    ],
)
def test_a_missing_input_file_is_one_usage_line_naming_flag_and_file(
    argv: list[str], flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    present, missing = tmp_path / "present.npz", tmp_path / "it's missing.npz"
    present.write_bytes(b"")
    with pytest.raises(SystemExit) as stopped:
        main([part.format(present=present, missing=missing) for part in argv])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"ptychostitch {argv[0]}: error: argument {flag}: {str(missing)!r}: file not found (see --help)"]
    assert not (tmp_path / "out").exists()


def test_a_folder_given_as_an_input_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["stitchers", "--test-npz", str(tmp_path)])
    assert stopped.value.code == 2
    assert f"argument --test-npz: {str(tmp_path)!r}: expected a file, found a folder" in capsys.readouterr().err
