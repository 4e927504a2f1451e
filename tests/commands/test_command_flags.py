"""The flags of ``simulate``, ``run`` and ``evaluate`` against their config dataclasses.

Every field has a flag with help and the dataclass default; every value ``--help`` lists parses to
the config built directly; bad values exit 2 with one line naming the flag; a config with every
field changed survives config -> command line -> config; and building the parsers imports no
torch, TensorFlow or matplotlib.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import ptychostitch.runner.evaluate
import ptychostitch.runner.run
from ptychostitch.cli import build_parser, main
from ptychostitch.commands.flags import config_from_args
from ptychostitch.model.options import LOSSES, TrainOptions
from ptychostitch.runner.defaults import STITCH_OPTIONS, EvaluateConfig, RunConfig, StitchChoice, StitchersConfig
from ptychostitch.simulate import SimulationConfig

REPO = Path(__file__).resolve().parents[2]
SIMULATE_REQUIRED = ["--output-dir", "out"]
EVALUATE_REQUIRED = ["--test-npz", "t.npz", "--predictions", "p.npz", "--output-dir", "o"]

CHANGED = {
    "simulate": SimulationConfig(
        N=32, gridsize=2, size=200, offset=3, outer_offset_train=6, outer_offset_test=18, nimgs_train=3, nimgs_test=1,
        nphotons=1e6, probe="probe.npz", probe_scale_mode="pipeline", probe_smoothing_sigma=0.25, probe_mask_diameter=20.0,
        probe_transform_pipeline="smooth:0.5|pad:32", set_phi=True, seed=7, compress=True,
    ),
    "run": RunConfig(
        train_npz=Path("a.npz"), test_npz=Path("b.npz"), output_dir=Path("o"), overwrite=True, resume=Path("r"), val_fraction=0.25, model="pkg.mod:factory",
        checkpoint=Path("c.pt"), epochs=0, batch_size=5, loss="poisson", learning_rate=1e-3, seed=3, infer_batch_size=7,
        device="auto", stitcher="my-stitcher", stitch=StitchChoice(weighting="uniform", crop=12), keep_tmp=False,
        save_predictions=False, fresh_data=True,
    ),
    "evaluate": EvaluateConfig(
        test_npz=Path("t.npz"), predictions=Path("p.npz"), output_dir=Path("o"), layout="ri-channels", stitcher="my-stitcher",
        stitch=StitchChoice(weighting="probe", crop=8), batch_size=9, overwrite=True,
    ),
    "stitchers": StitchersConfig(test_npz=Path("t.npz"), stitch=StitchChoice(weighting="uniform", crop=4), json=True),
}
CLASSES = {"simulate": SimulationConfig, "run": RunConfig, "evaluate": EvaluateConfig, "stitchers": StitchersConfig}
REQUIRED = {"simulate": SIMULATE_REQUIRED, "run": [], "evaluate": EVALUATE_REQUIRED, "stitchers": []}
DEFAULT = {
    "simulate": SimulationConfig(),
    "run": RunConfig(),
    "evaluate": EvaluateConfig(test_npz=Path("t.npz"), predictions=Path("p.npz"), output_dir=Path("o")),
    "stitchers": StitchersConfig(),
}


INPUT_FILES = ("t.npz", "p.npz", "a.npz", "b.npz", "c.pt")
"""The input files the configs above name: they must exist for the command line to accept them."""


@pytest.fixture(autouse=True)
def _in_folder_with_the_input_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in INPUT_FILES:
        Path(name).write_bytes(b"")


def subparser(command: str) -> argparse.ArgumentParser:
    (choices,) = [a.choices for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return choices[command]


def flat(config: Any) -> dict[str, Any]:
    """Field values by parsed name: nested config fields as ``outer_inner``."""
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(config):
        value = getattr(config, spec.name)
        if dataclasses.is_dataclass(value):
            values.update({f"{spec.name}_{inner.name}": getattr(value, inner.name) for inner in dataclasses.fields(value)})
        else:
            values[spec.name] = value
    return values


def flag_actions(command: str) -> list[argparse.Action]:
    """The actions generated from the config (not -h, -v, -q, nor simulate's own --output-dir/--overwrite)."""
    config_names = set(flat(DEFAULT[command]))
    return [a for a in subparser(command)._actions if a.option_strings and a.dest in config_names]


def parse(command: str, *argv: str) -> Any:
    return config_from_args(CLASSES[command], subparser(command).parse_args([*REQUIRED[command], *argv]))


def argv_for(command: str, config: Any) -> list[str]:
    """The command line that asks for ``config``, written from the parser's own actions."""
    values, argv = flat(config), []
    for action in flag_actions(command):
        value = values[action.dest]
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            argv += [action.option_strings[0]] if value == action.const and value != action.default else []
        elif value is not None:
            argv += [action.option_strings[0], str(value)]
    return argv


@pytest.mark.parametrize("command", CLASSES)
def test_every_field_has_a_flag_with_help_and_the_dataclass_default(command: str) -> None:
    defaults = flat(DEFAULT[command])
    actions = flag_actions(command)
    nested_unflagged = {"stitch_device"} if command != "simulate" else set()
    assert {a.dest for a in actions} == set(defaults) - nested_unflagged
    required = {a.dest for a in actions if a.required}
    for action in actions:
        assert action.help and len(action.help) > 10, action.dest
        if action.dest in required:
            continue
        if isinstance(action, argparse._StoreFalseAction):
            assert action.default is argparse.SUPPRESS or action.default == defaults[action.dest]
        else:
            assert action.default == defaults[action.dest], action.dest
        default = defaults[action.dest]
        if default is not None and not isinstance(default, bool):
            shown = f"{default:g}" if isinstance(default, float) else str(default)
            assert f"(default: {shown})" in action.help, action.dest
    assert required == ({"test_npz", "predictions", "output_dir"} if command == "evaluate" else set())


@pytest.mark.parametrize("command", CLASSES)
def test_no_flags_give_the_dataclass_defaults(command: str) -> None:
    assert parse(command) == DEFAULT[command]


def test_run_and_evaluate_share_stitch_flags_and_one_default() -> None:
    for command in ("run", "evaluate"):
        by_dest = {a.dest: a for a in flag_actions(command)}
        assert by_dest["stitch_weighting"].option_strings == ["--stitch-weighting"]
        assert by_dest["stitch_crop"].option_strings == ["--crop"] and by_dest["stitcher"].option_strings == ["--stitcher"]
        assert by_dest["stitch_weighting"].choices == ("auto", "uniform", "probe")
    assert parse("run").stitch == parse("evaluate").stitch == STITCH_OPTIONS == StitchChoice(weighting="auto", crop=None)
    assert {a.dest: a.help for a in flag_actions("run")}["stitch_crop"] == {a.dest: a.help for a in flag_actions("evaluate")}["stitch_crop"]


def test_training_defaults_and_loss_names_come_from_train_options() -> None:
    training = TrainOptions()
    run = RunConfig()
    assert (run.epochs, run.batch_size, run.learning_rate, run.loss) == (training.epochs, training.batch_size, training.learning_rate, training.loss)
    assert {a.dest: a for a in flag_actions("run")}["loss"].choices == LOSSES == ("mae", "poisson", "supervised")
    changed = CHANGED["run"]
    options = ptychostitch.runner.run._train_options(changed, "cuda")
    assert options == TrainOptions(loss="poisson", epochs=0, batch_size=5, learning_rate=1e-3, seed=3, device="cuda")


@pytest.mark.parametrize("command", CLASSES)
def test_every_listed_choice_parses_to_the_config_built_directly(command: str) -> None:
    checked = 0
    for action in flag_actions(command):
        for choice in action.choices or ():
            name, expected, extra = action.dest, DEFAULT[command], []
            if name == "probe_scale_mode" and choice == "pipeline":  # the one choice that needs a second option
                expected, extra = dataclasses.replace(expected, probe_transform_pipeline="pad:64"), ["--probe-transform-pipeline", "pad:64"]
            if name.startswith("stitch_"):
                expected = dataclasses.replace(expected, stitch=dataclasses.replace(expected.stitch, **{name[len("stitch_"):]: choice}))
            else:
                expected = dataclasses.replace(expected, **{name: choice})
            assert parse(command, action.option_strings[0], choice, *extra) == expected
            checked += 1
    assert checked >= {"simulate": 4, "run": 8, "evaluate": 2, "stitchers": 2}[command]


@pytest.mark.parametrize("command", CLASSES)
def test_round_trip_with_every_field_changed(command: str) -> None:
    changed = CHANGED[command]
    defaults = flat(DEFAULT[command])
    differ = {name for name, value in flat(changed).items() if value != defaults[name]}
    assert differ == {a.dest for a in flag_actions(command) if not a.required}
    argv = argv_for(command, changed)
    assert parse(command, *argv) == changed
    assert argv_for(command, parse(command, *argv)) == argv


def bad_values(command: str) -> list[tuple[str, str]]:
    """(flag, value) pairs every flag's declaration forbids."""
    found = []
    for action in flag_actions(command):
        flag = action.option_strings[0]
        if action.choices:
            found.append((flag, "bogus"))
        elif isinstance(action.type, types.FunctionType):  # a generated number parser
            found.append((flag, "x1"))
    return found


@pytest.mark.parametrize("command", CLASSES)
def test_bad_values_exit_2_with_one_line_naming_the_flag(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    owner = CLASSES[command]
    checks = {}
    for name, value in flat(DEFAULT[command]).items():
        outer, _, inner = name.partition("_")
        spec = {f.name: f for f in dataclasses.fields(owner)}.get(name)
        if spec is None and dataclasses.is_dataclass(getattr(DEFAULT[command], outer, None)):
            spec = {f.name: f for f in dataclasses.fields(StitchChoice)}[inner]
        if spec is not None and "check" in spec.metadata:
            checks[name] = spec.metadata["check"]
    by_dest = {a.dest: a.option_strings[0] for a in flag_actions(command)}
    cases = bad_values(command) + [(by_dest[name], "0" if check == "positive" else "-1") for name, check in checks.items()]
    assert len(cases) >= {"simulate": 14, "run": 10, "evaluate": 5, "stitchers": 2}[command]
    for flag, value in cases:
        with pytest.raises(SystemExit) as stopped:
            main([command, *REQUIRED[command], flag, value])
        assert stopped.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and f"argument {flag}:" in lines[0] and f"ptychostitch {command}: error" in lines[0], (flag, lines)


@pytest.mark.parametrize("command, module, function", [("run", ptychostitch.runner.run, "run"), ("evaluate", ptychostitch.runner.evaluate, "evaluate")])
def test_execute_hands_the_parsed_config_to_the_runner(
    command: str, module: Any, function: str, monkeypatch: pytest.MonkeyPatch, run_cli: Any, tmp_path: Path
) -> None:
    seen = []
    document = {"stitcher": {"name": "x", "fallback": False, "reason": "asked"}}
    monkeypatch.setattr(module, function, lambda config: seen.append(config) or (tmp_path, document))
    status, out, _ = run_cli(command, "-q", *REQUIRED[command], *argv_for(command, CHANGED[command]))
    assert status == 0 and seen == [CHANGED[command]]
    assert "stitcher: x - asked" in out


def test_run_keeps_tmp_unless_clean_tmp(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse("run").keep_tmp is True and parse("run", "--keep-tmp").keep_tmp is True
    assert parse("run", "--clean-tmp").keep_tmp is False
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--keep-tmp", "--clean-tmp"])
    assert stopped.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_run_saves_predictions_unless_no_save_predictions() -> None:
    assert parse("run").save_predictions is True and parse("run", "--save-predictions").save_predictions is True
    assert parse("run", "--no-save-predictions").save_predictions is False


def test_building_the_parsers_imports_no_torch_tensorflow_or_matplotlib() -> None:
    code = (
        "import sys, ptychostitch.cli; ptychostitch.cli.build_parser(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'tensorflow', 'matplotlib'}))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]", done.stdout
