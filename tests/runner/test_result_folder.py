"""Result folders: claimed atomically (two processes racing), overwritten cleanly, killed between the last two writes, unusable.

``metrics.json`` is the last file written and its presence means the folder is complete; an
overwrite leaves only the new run's files and a failure half-way leaves the earlier run intact.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ptychostitch
from ptychostitch.errors import InputError
from ptychostitch.metrics import eval_reconstruction
from ptychostitch.runner import result_folder
from ptychostitch.runner.result_folder import MANIFEST, STAGING, claim
from ptychostitch.testing.files import write_grid_file, write_npz, write_predictions

CHILD_ENV = dict(os.environ, PYTHONPATH=str(Path(ptychostitch.__file__).resolve().parents[1]))


def evaluate_args(test_npz: Path, pred: Path, out: Path, *extra: str) -> list[str]:
    return ["evaluate", "-q", "--test-npz", str(test_npz), "--predictions", str(pred), "--output-dir", str(out), *extra]


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """A test split with ground truth, one without, and predictions: true patches, noisy ones, some NaN."""
    written = write_grid_file(tmp_path / "test.npz")
    arrays = {k: v for k, v in written.arrays.items() if k != "YY_ground_truth"}
    noise = np.random.default_rng(3).normal(size=written.true_patches.shape)
    nan = written.true_patches.copy()
    nan[-1] = np.nan
    return {
        "test": written.path,
        "no_truth": write_npz(tmp_path / "no_truth.npz", arrays),
        "true": write_predictions(tmp_path / "true.npz", written.true_patches),
        "noisy": write_predictions(tmp_path / "noisy.npz", (written.true_patches * np.exp(0.3j * noise)).astype(np.complex64)),
        "nan": write_predictions(tmp_path / "nan.npz", nan),
    }


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too), relative path to bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_claims_take_the_next_free_name_while_a_folder_is_held(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, second = claim(out), claim(out)
    assert (first.final, second.final) == (out, tmp_path / "out-2")
    assert first.staging.parent == out and first.staging.is_dir()
    (first.staging / "sub").mkdir()
    (first.staging / "sub" / "a.txt").write_text("a")
    assert first.final_path(first.staging / "sub" / "a.txt") == out / "sub" / "a.txt"
    assert first.commit({"n": 1}) == out
    assert sorted(contents(out)) == [MANIFEST, "metrics.json", "sub/a.txt"]
    assert json.loads((out / MANIFEST).read_text()) == {"files": ["sub/a.txt", "metrics.json"]}
    assert claim(out).final == tmp_path / "out-3"  # out holds a run, out-2 is held
    second.abandon()
    assert not (tmp_path / "out-2").exists()  # the claim made it and left it empty
    assert claim(out).final == tmp_path / "out-2"


def test_two_processes_racing_for_one_folder_get_two_folders(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    children = [
        subprocess.Popen([sys.executable, "-m", "ptychostitch", *evaluate_args(inputs["test"], inputs[name], out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CHILD_ENV)
        for name in ("true", "noisy")
    ]
    results = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], results
    printed = sorted(line for stdout, _ in results for line in stdout.splitlines() if line.startswith("artifacts: "))
    assert printed == [f"artifacts: {out}-2/ (metrics.json, stitched.npz, coverage.png, comparison.png, frc.png)",
                       f"artifacts: {out}/ (metrics.json, stitched.npz, coverage.png, comparison.png, frc.png)"]
    truth = write_grid_file(tmp_path / "again.npz").ground_truth
    phase_mae = set()
    for folder in (out, tmp_path / "out-2"):  # each folder's metrics.json is the metrics of its own stitched.npz
        with np.load(folder / "stitched.npz") as stitched:
            expected = eval_reconstruction(stitched["object"], truth, coverage=stitched["coverage"])
        written = json.loads((folder / "metrics.json").read_text())["stitched"]
        assert written["mae"] == pytest.approx([float(v) for v in expected["mae"]], rel=1e-6)
        assert written["ssim"] == pytest.approx([float(v) for v in expected["ssim"]], rel=1e-6)
        assert not (folder / STAGING).exists()
        phase_mae.add(written["mae"][1] > 1e-3)
    assert phase_mae == {True, False}  # one folder per run


def test_overwrite_leaves_only_the_new_runs_files(inputs: dict[str, Path], tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run_cli(*evaluate_args(inputs["test"], inputs["true"], out))[0] == 0
    assert {"comparison.png", "frc.png", "stitched.npz", "metrics.json"} <= set(contents(out))
    status, _, err = run_cli(*evaluate_args(inputs["no_truth"], inputs["true"], out, "--overwrite"))
    assert status == 0, err
    assert sorted(contents(out)) == sorted([MANIFEST, "coverage.png", "evaluate.json", "metrics.json", "notes.txt", "stitched.npz"])
    assert "stitched" not in json.loads((out / "metrics.json").read_text())
    assert (out / "notes.txt").read_text() == "mine"


def test_overwrite_of_a_folder_written_before_manifests(inputs: dict[str, Path], tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    (out / "tmp" / "torch_reassembly").mkdir(parents=True)
    earlier = ("metrics.json", "run.json", "stitched.npz", "comparison.png", "frc.png", "checkpoint.pt", "tmp/torch_reassembly/reassembly_test.npz")
    for name in earlier:
        (out / name).write_text("old")
    assert run_cli(*evaluate_args(inputs["no_truth"], inputs["true"], out, "--overwrite"))[0] == 0
    assert sorted(contents(out)) == sorted([MANIFEST, "coverage.png", "evaluate.json", "metrics.json", "stitched.npz"])
    assert not (out / "tmp").exists()


def test_a_failure_half_way_leaves_the_earlier_run_intact(inputs: dict[str, Path], tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    assert run_cli(*evaluate_args(inputs["test"], inputs["true"], out))[0] == 0
    before = contents(out)
    status, _, err = run_cli(*evaluate_args(inputs["test"], inputs["nan"], out, "--overwrite"))
    assert status == 2 and "'patches'" in err
    assert contents(out) == before


def test_a_commit_that_fails_puts_the_earlier_run_back(
    inputs: dict[str, Path], tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    out = tmp_path / "out"
    assert run_cli(*evaluate_args(inputs["test"], inputs["true"], out))[0] == 0
    before = contents(out)
    real = result_folder.write_json

    def full_disk(path: Path, obj: object) -> None:
        if path.name == "metrics.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, obj)

    monkeypatch.setattr(result_folder, "write_json", full_disk)
    status, _, err = run_cli(*evaluate_args(inputs["no_truth"], inputs["noisy"], out, "--overwrite"))
    assert status == 1 and "No space left" in err
    assert contents(out) == before
    status, _, _ = run_cli(*evaluate_args(inputs["test"], inputs["noisy"], tmp_path / "fresh"))
    assert status == 1 and not (tmp_path / "fresh").exists()


KILL_BEFORE_METRICS = textwrap.dedent(
    """
    import os, signal, sys
    from ptychostitch.cli import main
    from ptychostitch.runner import result_folder

    real = result_folder.write_json

    def killed_before_metrics(path, obj):
        if path.name == "metrics.json":
            os.kill(os.getpid(), signal.SIGKILL)
        real(path, obj)

    result_folder.write_json = killed_before_metrics
    sys.exit(main(sys.argv[1:]))
    """
)


def test_a_kill_between_the_last_two_writes_leaves_no_metrics_json(inputs: dict[str, Path], tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    assert run_cli(*evaluate_args(inputs["test"], inputs["true"], out))[0] == 0  # an earlier run, then a killed overwrite
    killed = subprocess.run([sys.executable, "-c", KILL_BEFORE_METRICS, *evaluate_args(inputs["no_truth"], inputs["noisy"], out, "--overwrite")],
                            capture_output=True, text=True, timeout=120, env=CHILD_ENV)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (out / "metrics.json").exists()  # neither the old one beside new files, nor a new one
    assert (out / "stitched.npz").exists() and (out / STAGING).is_dir()  # what was moved in before the kill, and the dead claim
    assert run_cli(*evaluate_args(inputs["test"], inputs["true"], out))[0] == 0
    assert (tmp_path / "out-2" / "metrics.json").exists()  # an unfinished run is not silently replaced
    status, _, err = run_cli(*evaluate_args(inputs["test"], inputs["true"], out, "--overwrite"))
    assert status == 0, err
    assert sorted(name for name in os.listdir(out)) == sorted([MANIFEST, "comparison.png", "coverage.png", "evaluate.json", "frc.png", "metrics.json", "stitched.npz"])


def read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make ``folder`` behave as a read-only mount (permissions do not stop root, so the system call answers EROFS)."""
    real = os.mkdir

    def mkdir(path, *args, **kwargs):  # noqa: ANN001, ANN202
        if Path(path).is_relative_to(folder):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)


@pytest.mark.parametrize("kind", ["a file", "under a file", "read-only", "under /proc"])
@pytest.mark.parametrize("command", ["evaluate", "run"])
def test_an_unusable_output_folder_is_exit_2_naming_it_before_any_work(
    inputs: dict[str, Path], tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch, kind: str, command: str  # noqa: ANN001
) -> None:
    out = {"a file": tmp_path / "taken", "under a file": tmp_path / "taken" / "out", "read-only": tmp_path / "ro" / "out",
           "under /proc": Path("/proc/ptychostitch-out")}[kind]
    (tmp_path / "taken").write_text("a file")
    (tmp_path / "ro").mkdir()
    read_only(monkeypatch, tmp_path / "ro")
    from ptychostitch.runner import run as pipeline

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("work started before the output folder was checked")

    monkeypatch.setattr(pipeline, "cached_dataset", never)
    monkeypatch.setattr(pipeline, "train", never)
    monkeypatch.setattr(pipeline, "load_gridlines", never)
    if command == "run":
        status, out_text, err = run_cli("run", "-q", "--output-dir", str(out))
    else:
        status, out_text, err = run_cli(*evaluate_args(inputs["test"], inputs["true"], out))
    assert status == 2, err
    assert err.count("\n") == 1 and out_text == ""
    assert err.startswith(f"ptychostitch {command}: error: {str(out)!r}: cannot be the output folder")
    assert {"a file": "not a folder", "under a file": f"{str(tmp_path / 'taken')!r} is not a folder",
            "read-only": "Read-only file system", "under /proc": "No such file or directory"}[kind] in err


def test_claim_refuses_without_touching_anything_else(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="it exists and is not a folder"):
        claim(tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x" and sorted(os.listdir(tmp_path)) == ["file"]


def test_overwrite_never_removes_the_files_the_new_run_reads(inputs: dict[str, Path], tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    assert run_cli(*evaluate_args(inputs["test"], inputs["true"], out))[0] == 0
    manifest = json.loads((out / MANIFEST).read_text())
    (out / "predictions.npz").write_bytes(inputs["true"].read_bytes())  # as a run that saves its predictions would
    (out / MANIFEST).write_text(json.dumps({"files": manifest["files"] + ["predictions.npz"]}))
    status, _, err = run_cli(*evaluate_args(inputs["test"], out / "predictions.npz", out, "--overwrite"))
    assert status == 0, err
    assert (out / "predictions.npz").read_bytes() == inputs["true"].read_bytes()
    assert sorted(contents(out)) == sorted([MANIFEST, "comparison.png", "coverage.png", "evaluate.json", "frc.png", "metrics.json", "predictions.npz", "stitched.npz"])


def test_a_manifest_cannot_make_an_overwrite_remove_files_outside_the_folder(inputs: dict[str, Path], tmp_path: Path, run_cli) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    assert run_cli(*evaluate_args(inputs["test"], inputs["true"], out))[0] == 0
    (tmp_path / "precious.txt").write_text("keep me")
    (out / MANIFEST).write_text(json.dumps({"files": ["metrics.json", "../precious.txt", str(tmp_path / "precious.txt")]}))
    assert run_cli(*evaluate_args(inputs["test"], inputs["true"], out, "--overwrite"))[0] == 0
    assert (tmp_path / "precious.txt").read_text() == "keep me"
