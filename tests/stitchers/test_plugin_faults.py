"""Misbehaving plugins, built here as real installed distributions: exits, exceptions and invalid results.

A plugin that fails at import or in its hook is warned about and skipped; a capability check
that fails means "cannot run" (a fault when that stitcher was asked for by name); a stitch that
raises, exits, stops reading or returns an invalid result ends the command with exit 3 and one
line naming the stitcher, its entry point and its distribution, and writes nothing.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from ptychostitch.errors import EXIT_PLUGIN_FAULT
from ptychostitch.testing.files import write_grid_file, write_predictions

Install = Callable[..., None]

PLUGIN = textwrap.dedent(
    """
    import sys

    import numpy as np

    from ptychostitch import hookimpl
    from ptychostitch.stitchers import Capability, StitchResult


    class Faulty:
        name = "faulty"
        priority = {priority}

        def capability(self, context):
    {capability}
            return Capability(True, "faulty can run")

        def stitch(self, context, batches):
            shape = context.frame_shape
            good = np.ones(shape, np.complex64), np.ones(shape, np.float32)
    {stitch}


    @hookimpl
    def register_stitchers(register):
        register(Faulty())
    """
)

READ_ALL = "        for _ in batches:\n            pass\n"


def plugin(stitch: str = READ_ALL + "        return StitchResult(*good, self.name)", capability: str = "", priority: int = 1) -> str:
    """Source of a plugin registering stitcher 'faulty' with the given method bodies (8-space indented)."""
    return PLUGIN.format(priority=priority, capability=capability or "        pass", stitch=stitch)


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    written = write_grid_file(tmp_path / "test.npz")
    return written.path, write_predictions(tmp_path / "pred.npz", written.true_patches)


def evaluate(run_cli, dataset: tuple[Path, Path], out: Path, *extra: str) -> tuple[int, str, str]:  # noqa: ANN001
    return run_cli("evaluate", "-q", "--test-npz", str(dataset[0]), "--predictions", str(dataset[1]), "--output-dir", str(out), *extra)


FAULTY_STITCHES = {
    "exits": ("        sys.exit(0)", "called sys.exit(0)"),
    "raises": ("        raise ValueError('stitch bug')", "raised ValueError('stitch bug')"),
    "real object": (
        READ_ALL + "        return StitchResult(np.ones(shape), good[1], self.name)",
        "dtype float64, expected a complex array (a real object has lost its phase)",
    ),
    "integer coverage": (READ_ALL + "        return StitchResult(good[0], np.ones(shape, np.int64), self.name)", "coverage of dtype int64"),
    "lists": (READ_ALL + "        return StitchResult(good[0].tolist(), good[1].tolist(), self.name)", "object as a list, expected a numpy array"),
    "wrong shape": (READ_ALL + "        return StitchResult(np.ones((3, 3), np.complex64), good[1], self.name)", "object of shape (3, 3)"),
    "NaN": (READ_ALL + "        return StitchResult(good[0] * np.nan, good[1], self.name)", "NaN or infinite pixels"),
    "negative coverage": (READ_ALL + "        return StitchResult(good[0], -good[1], self.name)", "negative pixels"),
    "tuple": (READ_ALL + "        return good", "returned a tuple, expected a StitchResult"),
    "stops early": (
        "        next(iter(batches))\n        return StitchResult(*good, self.name)",
        "stopped reading the patch stream at row 256 of 338",
    ),
}


@pytest.mark.parametrize("behaviour", list(FAULTY_STITCHES))
def test_faulty_stitch_exits_3_naming_the_plugin_and_writes_nothing(
    install: Install, run_cli, dataset: tuple[Path, Path], tmp_path: Path, behaviour: str  # noqa: ANN001
) -> None:
    body, words = FAULTY_STITCHES[behaviour]
    install("fake-faulty", {"faulty-ep": "fake_faulty"}, {"fake_faulty": plugin(stitch=body)})
    status, out, err = evaluate(run_cli, dataset, tmp_path / "out", "--stitcher", "faulty")
    assert status == EXIT_PLUGIN_FAULT, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "plugin fault" in lines[0] and "'faulty'" in lines[0]
    assert "entry point 'faulty-ep' of distribution 'fake-faulty'" in lines[0]
    assert words in lines[0]
    assert out == "" and not (tmp_path / "out").exists()


def test_a_good_plugin_stitch_is_scored(install: Install, run_cli, dataset: tuple[Path, Path], tmp_path: Path) -> None:  # noqa: ANN001
    install("fake-faulty", {"faulty-ep": "fake_faulty"}, {"fake_faulty": plugin()})
    status, _, err = evaluate(run_cli, dataset, tmp_path / "out", "--stitcher", "faulty")
    assert status == 0, err
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["stitcher"]["name"] == "faulty"


def test_errors_of_the_patch_stream_are_not_the_plugins_even_when_it_swallows_them(
    install: Install, run_cli, tmp_path: Path  # noqa: ANN001
) -> None:
    written = write_grid_file(tmp_path / "test.npz")
    patches = written.true_patches.copy()
    patches[300] = np.nan
    pred = write_predictions(tmp_path / "pred.npz", patches)
    swallow = (
        "        try:\n" + textwrap.indent(READ_ALL, "    ")
        + "        except BaseException:\n            pass\n        return StitchResult(*good, self.name)"
    )
    install("fake-faulty", {"faulty-ep": "fake_faulty"}, {"fake_faulty": plugin(stitch=swallow)})
    status, _, err = evaluate(run_cli, (written.path, pred), tmp_path / "out", "--stitcher", "faulty")
    assert status == 2, err
    assert repr(str(pred)) in err and "'patches'" in err and "rows 256..337" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "capability, reason",
    [
        ("        sys.exit(0)", "its capability check called sys.exit(0)"),
        ("        raise ValueError('capability bug')", "its capability check raised ValueError('capability bug')"),
    ],
)
def test_failing_capability_check_means_cannot_run_and_is_a_fault_when_asked_for(
    install: Install, run_cli, dataset: tuple[Path, Path], tmp_path: Path, capability: str, reason: str  # noqa: ANN001
) -> None:
    install("fake-faulty", {"faulty-ep": "fake_faulty"}, {"fake_faulty": plugin(capability=capability, priority=1000)})
    status, _, err = evaluate(run_cli, dataset, tmp_path / "auto")
    assert status == 0, err
    section = json.loads((tmp_path / "auto" / "metrics.json").read_text())["stitcher"]
    assert section["name"] == "torch-mmap" and section["fallback"] is True and reason in section["rejected"]["faulty"]

    status, _, err = evaluate(run_cli, dataset, tmp_path / "named", "--stitcher", "faulty")
    assert status == EXIT_PLUGIN_FAULT and err.count("\n") == 1
    assert reason in err and "fake-faulty" in err
    assert not (tmp_path / "named").exists()

    status, out, err = run_cli("stitchers", "--test-npz", str(dataset[0]))
    assert status == 0, err
    assert any(line.startswith("faulty") and f"cannot run: {reason}" in line for line in out.splitlines()), out


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nsys.exit(3)\n",
        "raise SystemExit(0)\n",
        "import sys\nfrom ptychostitch import hookimpl\n@hookimpl\ndef register_stitchers(register):\n    sys.exit(3)\n",
    ],
    ids=["sys.exit(3) at import", "SystemExit(0) at import", "sys.exit(3) in register_stitchers"],
)
def test_plugin_that_exits_while_loading_is_warned_about_and_skipped(
    install: Install, run_cli, dataset: tuple[Path, Path], tmp_path: Path, source: str  # noqa: ANN001
) -> None:
    install("fake-exits", {"exits-ep": "fake_exits"}, {"fake_exits": source})
    status, out, err = run_cli("stitchers")
    assert status == 0
    assert "tf-style" in out and "exits-ep" in out  # listed as skipped
    assert "plugin 'exits-ep' from fake-exits failed" in err and "SystemExit" in err
    status, _, err = evaluate(run_cli, dataset, tmp_path / "out")
    assert status == 0, err
    assert (tmp_path / "out" / "metrics.json").exists()


def test_a_stitcher_whose_attributes_raise_is_skipped(install: Install, run_cli) -> None:  # noqa: ANN001
    source = textwrap.dedent(
        """
        from ptychostitch import hookimpl

        class Odd:
            @property
            def name(self):
                raise SystemExit(4)

        @hookimpl
        def register_stitchers(register):
            register(Odd())
        """
    )
    install("fake-odd", {"odd-ep": "fake_odd"}, {"fake_odd": source})
    status, out, err = run_cli("stitchers")
    assert status == 0 and "tf-style" in out
    assert "plugin 'odd-ep' from fake-odd registered" in err and "raised SystemExit(4) when its attributes were read" in err
