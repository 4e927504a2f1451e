"""``stitchers --test-npz`` with ``--stitch-weighting``/``--crop`` answers what ``evaluate`` decides, naming the option at fault.

The verdicts of the listing and the refusal of ``evaluate --stitcher NAME`` are compared word for
word; the values a refusal says would work are then tried for real.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from ptychostitch.testing.files import write_grid_file, write_predictions, write_scattered_file

RunCli = Callable[..., tuple[int, str, str]]

PICKY = textwrap.dedent(
    """
    from ptychostitch import hookimpl
    from ptychostitch.stitchers import Capability


    class Picky:
        name = "picky"
        priority = 1

        def capability(self, context):
            if context.options.weighting != "probe":
                return Capability(False, "weights by the probe only")
            return Capability(True, "probe weighting")

        def stitch(self, context, batches):
            raise NotImplementedError


    @hookimpl
    def register_stitchers(register):
        register(Picky())
    """
)


def verdicts(run_cli: RunCli, test_npz: Path, *options: str) -> dict[str, dict[str, object]]:
    status, out, err = run_cli("stitchers", "--test-npz", str(test_npz), "--json", *options)
    assert status == 0, err
    return {row["name"]: row for row in json.loads(out)["stitchers"]}


def evaluate(run_cli: RunCli, test_npz: Path, predictions: Path, out: Path, *options: str) -> tuple[int, str]:
    status, _, err = run_cli("evaluate", "-q", "--test-npz", str(test_npz), "--predictions", str(predictions), "--output-dir", str(out), *options)
    return status, err


def test_a_crop_refusal_is_the_same_in_both_and_names_crops_that_work(tmp_path: Path, run_cli: RunCli, fresh_registry: None) -> None:
    grid = write_grid_file(tmp_path / "test.npz", nimgs=1)
    predictions = write_predictions(tmp_path / "pred.npz", grid.true_patches)
    row = verdicts(run_cli, grid.path, "--crop", "2")["tf-style"]
    assert row["can_run"] is False
    reason = str(row["reason"])
    found = re.fullmatch(r"with --crop 2: (.+); it can with --crop (\d+)\.\.(\d+)", reason)
    assert found, reason
    status, err = evaluate(run_cli, grid.path, predictions, tmp_path / "refused", "--stitcher", "tf-style", "--crop", "2")
    assert status == 2 and err.strip().endswith(f"stitcher 'tf-style' cannot run on this dataset: {reason}"), err
    assert not (tmp_path / "refused").exists()
    low, high = int(found.group(2)), int(found.group(3))
    assert verdicts(run_cli, grid.path, "--crop", str(low))["tf-style"]["can_run"] is True
    assert verdicts(run_cli, grid.path, "--crop", str(low - 1))["tf-style"]["can_run"] is False
    status, err = evaluate(run_cli, grid.path, predictions, tmp_path / "works", "--stitcher", "tf-style", "--crop", str(high))
    assert status == 0, err


def test_a_weighting_refusal_names_the_weighting_that_works(
    tmp_path: Path, run_cli: RunCli, install: Callable[..., None]
) -> None:
    install("fake-picky", {"picky": "fake_picky"}, {"fake_picky": PICKY})
    grid = write_grid_file(tmp_path / "test.npz", nimgs=1)
    predictions = write_predictions(tmp_path / "pred.npz", grid.true_patches)
    reason = verdicts(run_cli, grid.path, "--stitch-weighting", "uniform")["picky"]["reason"]
    assert reason == "with --stitch-weighting uniform: weights by the probe only; it can with --stitch-weighting probe"
    status, err = evaluate(run_cli, grid.path, predictions, tmp_path / "out", "--stitcher", "picky", "--stitch-weighting", "uniform")
    assert status == 2 and err.strip().endswith(f"cannot run on this dataset: {reason}"), err
    assert verdicts(run_cli, grid.path, "--stitch-weighting", "probe")["picky"] == {
        "name": "picky", "distribution": "fake-picky", "entry_point": "picky", "priority": 1, "can_run": True, "reason": "probe weighting",
    }


def test_a_refusal_no_option_cures_blames_the_dataset(tmp_path: Path, run_cli: RunCli, fresh_registry: None) -> None:
    scattered = write_scattered_file(tmp_path / "scattered.npz")
    row = verdicts(run_cli, scattered.path, "--crop", "4")["tf-style"]
    assert row["can_run"] is False and "it can with" not in str(row["reason"]) and "regular-grid" in str(row["reason"])
    predictions = write_predictions(tmp_path / "pred.npz", scattered.true_patches)
    status, err = evaluate(run_cli, scattered.path, predictions, tmp_path / "out", "--stitcher", "tf-style", "--crop", "4")
    assert status == 2 and err.strip().endswith(f"cannot run on this dataset: {row['reason']}"), err


@pytest.mark.parametrize("options", [("--crop", "4"), ("--stitch-weighting", "uniform")])
def test_stitch_options_without_a_dataset_are_a_usage_error(run_cli: RunCli, options: tuple[str, str]) -> None:
    status, out, err = run_cli("stitchers", *options)
    assert status == 2 and out == "" and "--test-npz" in err
