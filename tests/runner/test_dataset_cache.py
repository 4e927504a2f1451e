"""The embedded default dataset is simulated once and reused: cache keys, atomic entries, damage, ``--fresh-data``.

Runs use a tiny embedded dataset (``EMBEDDED_DATASET`` of the runner replaced), and every test
has its own cache (the autouse ``cache_dir`` fixture of ``tests/conftest.py``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from ptychostitch.atomic import current_umask
from ptychostitch.data import load_gridlines
from ptychostitch.runner import dataset_cache
from ptychostitch.runner import run as pipeline
from ptychostitch.runner.context import simulated_context, stitch_context, stitch_options
from ptychostitch.runner.dataset_cache import ENTRY, cache_key, cache_root, cached_dataset
from ptychostitch.runner.defaults import STITCH_OPTIONS, RunConfig
from ptychostitch.runner.provenance import sha256
from ptychostitch.simulate import SimulationConfig

TINY = SimulationConfig(N=16, gridsize=1, size=64, outer_offset_train=4, outer_offset_test=8, nimgs_train=1, nimgs_test=1, set_phi=True, seed=0)


@pytest.fixture
def simulations(monkeypatch: pytest.MonkeyPatch) -> list[SimulationConfig]:
    """Every simulation the cache asks for, in order (the real simulator still runs)."""
    calls: list[SimulationConfig] = []
    real = dataset_cache.simulate

    def counted(config: SimulationConfig, *args: Any, **kwargs: Any) -> Any:
        calls.append(config)
        return real(config, *args, **kwargs)

    monkeypatch.setattr(dataset_cache, "simulate", counted)
    return calls


@pytest.fixture
def tiny_default(monkeypatch: pytest.MonkeyPatch) -> SimulationConfig:
    """Make the tiny dataset the runner's embedded default."""
    monkeypatch.setattr(pipeline, "EMBEDDED_DATASET", TINY)
    return TINY


def default_run(out: Path, **changes: Any) -> tuple[Path, dict[str, Any]]:
    folder, _ = pipeline.run(dataclasses.replace(RunConfig(output_dir=out, epochs=1, infer_batch_size=64), **changes))
    return folder, json.loads((folder / "run.json").read_text())


def entries(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "datasets").iterdir())


def test_the_cache_is_private_to_each_test(cache_dir: Path) -> None:
    assert cache_root() == cache_dir and not any(cache_dir.iterdir())


def test_a_second_run_reuses_the_dataset_and_fresh_data_simulates_again(
    tmp_path: Path, tiny_default: SimulationConfig, simulations: list[SimulationConfig], cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ptychostitch")
    first, record = default_run(tmp_path / "a")
    assert len(simulations) == 1 and simulations[0] == dataclasses.replace(TINY, seed=0)
    assert not (first / "datasets").exists()
    entry = cache_dir / "datasets" / cache_key(simulations[0])
    for role in ("train", "test"):
        recorded = record["inputs"][f"{role}_npz"]
        assert Path(recorded["path"]) == entry / "datasets" / "N16" / "gs1" / f"{role}.npz"
        assert recorded["sha256"] == sha256(recorded["path"]) and recorded["size_bytes"] == Path(recorded["path"]).stat().st_size
    assert record["datasets"]["simulated"] is True and record["datasets"]["cache"] == {"folder": str(entry), "simulated_now": True}

    caplog.clear()
    second, again = default_run(tmp_path / "b")
    assert len(simulations) == 1, "the second run simulated again"
    assert f"reusing cached dataset at {entry}" in caplog.text
    assert again["inputs"]["test_npz"] == record["inputs"]["test_npz"] and again["datasets"]["cache"]["simulated_now"] is False
    first_metrics, second_metrics = (json.loads((folder / "metrics.json").read_text()) for folder in (first, second))
    assert first_metrics["stitched"] == second_metrics["stitched"]  # same data, same seed: the same result on CPU

    default_run(tmp_path / "c", fresh_data=True)
    assert len(simulations) == 2 and entries(cache_dir) == [entry.name]


def test_a_different_configuration_or_seed_is_another_entry(tmp_path: Path, simulations: list[SimulationConfig], cache_dir: Path) -> None:
    keys = {cache_key(config) for config in (TINY, dataclasses.replace(TINY, seed=1), dataclasses.replace(TINY, nphotons=1e8))}
    assert len(keys) == 3
    assert cache_key(TINY) == cache_key(dataclasses.replace(TINY))
    for config in (TINY, dataclasses.replace(TINY, seed=1), TINY):
        cached_dataset(config)
    assert len(simulations) == 2 and len(entries(cache_dir)) == 2
    with pytest.raises(ValueError, match="seed"):
        cache_key(dataclasses.replace(TINY, seed=None))


def test_a_changing_simulator_version_is_another_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = cache_key(TINY)
    monkeypatch.setattr(dataset_cache, "SIMULATOR_VERSION", dataset_cache.SIMULATOR_VERSION + 1)
    assert cache_key(TINY) != before


@pytest.mark.parametrize("damage", ["truncate", "flip a byte", "delete", "no entry record"])
def test_a_damaged_entry_is_simulated_again(
    damage: str, simulations: list[SimulationConfig], cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = cached_dataset(TINY)
    victim = first.folder / ENTRY if damage == "no entry record" else first.paths.test
    original = first.paths.test.read_bytes()
    diffraction = np.array(load_gridlines(first.paths.test).diffraction)
    if damage == "truncate":
        victim.write_bytes(original[: len(original) // 2])
    elif damage == "flip a byte":
        data = bytearray(original)
        data[-100] ^= 0xFF
        victim.write_bytes(bytes(data))
    else:
        victim.unlink()
    again = cached_dataset(TINY)
    assert len(simulations) == 2 and again.simulated
    assert "incomplete or damaged" in caplog.text
    np.testing.assert_array_equal(load_gridlines(again.paths.test).diffraction, diffraction)  # same configuration, same data
    assert again.inputs["test"]["sha256"] == sha256(again.paths.test)
    assert entries(cache_dir) == [first.folder.name]
    assert cached_dataset(TINY).simulated is False and len(simulations) == 2


def test_an_unfinished_simulation_leaves_no_entry(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset_cache, "simulate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cached_dataset(TINY)
    assert entries(cache_dir) == []


def test_the_loser_of_a_race_uses_the_winners_entry(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    """While this call simulates, another process finishes the same entry first."""
    real = dataset_cache.simulate
    winner: list[Any] = []

    def racing(config: SimulationConfig, *args: Any, **kwargs: Any) -> Any:
        if not winner:
            monkeypatch.setattr(dataset_cache, "simulate", real)
            winner.append(cached_dataset(config))  # the other process, all the way to its rename
            monkeypatch.setattr(dataset_cache, "simulate", racing)
        return real(config, *args, **kwargs)

    monkeypatch.setattr(dataset_cache, "simulate", racing)
    loser = cached_dataset(TINY)
    assert loser.simulated is False and loser.folder == winner[0].folder and loser.inputs == winner[0].inputs
    assert entries(cache_dir) == [winner[0].folder.name]  # no temporary folder left
    assert sha256(loser.paths.test) == winner[0].inputs["test"]["sha256"]


RACER = """
import json, sys
from ptychostitch.runner.dataset_cache import cached_dataset
from ptychostitch.simulate import SimulationConfig
found = cached_dataset(SimulationConfig(**json.loads(sys.argv[1])))
print(json.dumps({"folder": str(found.folder), "inputs": found.inputs, "simulated": found.simulated}))
"""


def test_two_processes_at_once_share_one_entry(cache_dir: Path) -> None:
    config = json.dumps(dataclasses.asdict(TINY))
    racers = [subprocess.Popen([sys.executable, "-c", RACER, config], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err
        results.append(json.loads(out))
    assert results[0]["folder"] == results[1]["folder"] and results[0]["inputs"] == results[1]["inputs"]
    assert entries(cache_dir) == [Path(results[0]["folder"]).name]  # no temporary folder left
    assert Path(results[0]["folder"]).stat().st_mode & 0o777 == 0o777 & ~current_umask()  # not mkdtemp's private 0700
    for record in results[0]["inputs"].values():
        assert sha256(record["path"]) == record["sha256"]
    assert cached_dataset(TINY).simulated is False


def test_the_planned_context_is_the_simulated_files_context(cache_dir: Path) -> None:
    config = dataclasses.replace(TINY, nimgs_test=2)
    planned = simulated_context(config, STITCH_OPTIONS)
    test = load_gridlines(cached_dataset(config).paths.test)
    actual = stitch_context(test, stitch_options(test, STITCH_OPTIONS))
    for name in ("N", "gridsize", "n_rows", "frame_shape", "frame_rows", "grid", "options"):
        assert getattr(planned, name) == getattr(actual, name), name
    np.testing.assert_array_equal(planned.positions, actual.positions)
    np.testing.assert_array_equal(planned.probe, actual.probe)


RunCli = Callable[..., tuple[int, str, str]]


@pytest.mark.parametrize(
    "options, words",
    [
        (("--stitcher", "no-such"), "unknown stitcher 'no-such'"),
        (("--stitcher", "tf-style", "--crop", "2"), "with --crop 2:"),
        (("--stitch-weighting", "probe", "--crop", "99"), "crop"),
        (("--val-fraction", "2"), "--val-fraction"),
        (("--learning-rate", "-1"), "--learning-rate"),
        (("--epochs", "-1"), "--epochs"),
        (("--model", "nonsense"), "--model"),
    ],
)
def test_bad_options_fail_before_anything_is_simulated(
    tmp_path: Path, run_cli: RunCli, tiny_default: SimulationConfig, monkeypatch: pytest.MonkeyPatch, cache_dir: Path,
    capsys: pytest.CaptureFixture[str], options: tuple[str, ...], words: str,
) -> None:
    def no_simulation(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("simulated before validating")

    monkeypatch.setattr(dataset_cache, "simulate", no_simulation)
    try:
        status, _, err = run_cli("run", "--output-dir", str(tmp_path / "out"), *options)
    except SystemExit as usage:  # argparse's own range checks exit while parsing
        status, err = usage.code, capsys.readouterr().err
    assert status == 2 and words in err, err
    assert not (tmp_path / "out").exists() and not any(cache_dir.iterdir())


def test_run_refuses_before_simulating_with_the_verdict_stitchers_gives_on_the_simulated_file(
    tmp_path: Path, run_cli: RunCli, tiny_default: SimulationConfig, cache_dir: Path
) -> None:
    status, _, refused = run_cli("run", "--output-dir", str(tmp_path / "out"), "--stitcher", "tf-style", "--crop", "2")
    assert status == 2 and not any(cache_dir.iterdir())
    test_npz = cached_dataset(dataclasses.replace(TINY, seed=0)).paths.test  # the file run would have simulated
    status, out, err = run_cli("stitchers", "--test-npz", str(test_npz), "--crop", "2", "--json")
    assert status == 0, err
    reason = {row["name"]: row for row in json.loads(out)["stitchers"]}["tf-style"]["reason"]
    assert "it can with --crop" in reason
    assert refused.strip() == f"ptychostitch run: error: stitcher 'tf-style' cannot run on this dataset: {reason}"


def test_numbers_of_a_config_built_in_python_are_checked_naming_the_flag(tmp_path: Path, tiny_default: SimulationConfig) -> None:
    from ptychostitch.errors import InputError

    with pytest.raises(InputError, match=r"^--val-fraction: expected a finite number in \[0, 1\), found 2$"):
        pipeline.run(RunConfig(output_dir=tmp_path / "out", val_fraction=2.0))
    with pytest.raises(InputError, match=r"^--crop: expected an integer > 0, found 0$"):
        pipeline.run(RunConfig(output_dir=tmp_path / "out", stitch=dataclasses.replace(STITCH_OPTIONS, crop=0)))
    assert not (tmp_path / "out").exists()


def test_evaluate_checks_the_numbers_of_a_config_built_in_python(tmp_path: Path) -> None:
    from ptychostitch.errors import InputError
    from ptychostitch.runner.defaults import EvaluateConfig
    from ptychostitch.runner.evaluate import evaluate

    config = EvaluateConfig(test_npz=tmp_path / "missing.npz", predictions=tmp_path / "missing.npz", output_dir=tmp_path / "out", batch_size=0)
    with pytest.raises(InputError, match=r"^--batch-size: expected an integer > 0, found 0$"):
        evaluate(config)
    assert not (tmp_path / "out").exists()


def test_an_unwritable_cache_is_an_error_before_any_work(tmp_path: Path, run_cli: RunCli, tiny_default: SimulationConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(dataset_cache.CACHE_ENV, str(blocker / "cache"))
    status, _, err = run_cli("run", "--output-dir", str(tmp_path / "out"))
    assert status == 2 and "PTYCHOSTITCH_CACHE" in err and str(blocker) in err, err
    assert not (tmp_path / "out").exists()
