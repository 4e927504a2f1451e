"""LiveStitch: out-of-order frames, late positions and dropped frames against the whole-stream stitch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.errors import InputError
from ptychostitch.stitchers import StitchOptions, get
from ptychostitch.stitchers.live import LiveStitch, live_context
from ptychostitch.testing import OracleCase, scattered_case

OPTIONS = StitchOptions(weighting="probe", crop=12)


def _case(gridsize: int) -> OracleCase:
    return scattered_case(gridsize, OPTIONS)


def _frames(case: OracleCase) -> tuple[np.ndarray, np.ndarray]:
    """The frame rows' patches and positions (frame 0 is the first row of ``frame_rows``)."""
    rows = case.context.frame_rows
    return case.patches[rows.start : rows.stop], case.context.positions[rows.start : rows.stop]


def _whole(case: OracleCase, stitcher: str = "torch-mmap") -> np.ndarray:
    return get(stitcher).stitch(case.context, case.batches()).object


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.abs(a - b).max() <= 1e-6 * np.abs(b).max())


@pytest.mark.parametrize("gridsize", [1, 2])
@pytest.mark.parametrize("name", ["torch-mmap", "tf-shift-sum"])
def test_out_of_order_equals_in_order_and_the_whole_stitch(gridsize: int, name: str) -> None:
    case = _case(gridsize)
    patches, positions = _frames(case)
    in_order, shuffled = LiveStitch(case.context, name), LiveStitch(case.context, name)
    in_order.add(0, patches, positions)
    for index in np.random.default_rng(3).permutation(len(patches)):
        shuffled.add(int(index), patches[index : index + 1], positions[index : index + 1])
    a, b = in_order.finish(), shuffled.finish()
    assert _close(b.result.object, a.result.object)
    assert _close(a.result.object, _whole(case, name))
    np.testing.assert_allclose(b.result.coverage, a.result.coverage, rtol=1e-6)
    assert a.counts.added == b.counts.added == len(patches) and b.dropped == ()


def test_held_then_placed_equals_placed_upfront() -> None:
    case = _case(1)
    patches, positions = _frames(case)
    late = positions.copy()
    late[[2, 5, 9]] = np.nan
    live = LiveStitch(case.context)
    live.add(0, patches, late)
    assert live.counts.held == 3 and live.held == (2, 5, 9)
    for index in (9, 2, 5):
        live.place(index, positions[index])
    assert live.counts.held == 0
    assert _close(live.finish().result.object, _whole(case))


def test_a_snapshot_leaves_out_held_frames_and_the_stitch_goes_on() -> None:
    case = _case(1)
    patches, positions = _frames(case)
    late = positions.copy()
    late[4:] = np.nan
    live = LiveStitch(case.context)
    live.add(0, patches, late)
    prefix = LiveStitch(case.context)
    prefix.add(0, patches[:4], positions[:4])
    assert _close(live.snapshot().object, prefix.finish().result.object)
    for index in range(4, len(patches)):
        live.place(index, positions[index])
    assert _close(live.snapshot().object, _whole(case))


def test_dropped_frames_are_counted_and_left_out() -> None:
    case = _case(1)
    patches, positions = _frames(case)
    late = positions.copy()
    late[[1, 7, 8]] = np.nan
    live = LiveStitch(case.context)
    live.add(0, patches, late)
    live.drop(7)
    assert live.counts.dropped == 1 and live.counts.held == 2
    live.place(1, positions[1])
    done = live.finish()  # frame 8, still held, is dropped now
    assert done.dropped == (7, 8) and done.counts.dropped == 2 and done.counts.held == 0
    assert done.counts.added == len(patches) - 2
    kept = [k for k in range(len(patches)) if k not in (7, 8)]
    expected = LiveStitch(case.context)
    expected.add(0, patches[kept], positions[kept])
    assert _close(done.result.object, expected.finish().result.object)


def test_live_context_stitches_like_the_scan_context() -> None:
    case = _case(2)
    patches, positions = _frames(case)
    context = live_context(case.context.frame_shape, case.context.N, 2, probe=case.context.probe,
                           norm_Y_I=case.context.norm_Y_I, options=OPTIONS)
    live = LiveStitch(context)
    live.add(0, patches, positions)
    assert _close(live.finish().result.object, _whole(case))


def test_misuse_is_one_line_errors() -> None:
    case = _case(1)
    patches, positions = _frames(case)
    live = LiveStitch(case.context)
    live.add(0, patches[:2], positions[:2])
    with pytest.raises(InputError, match="arrived twice"):
        live.add(1, patches[1:2], positions[1:2])
    with pytest.raises(InputError, match="not held"):
        live.place(5, positions[5])
    with pytest.raises(InputError, match="not held"):
        live.drop(0)
    with pytest.raises(InputError, match="expected patches"):
        live.add(2, patches[2:3], positions[2:3, :, :1])
    live.add(3, patches[3:4], np.full_like(positions[3:4], np.nan))
    with pytest.raises(InputError, match="must be finite"):
        live.place(3, np.full(2, np.inf))
    with pytest.raises(InputError, match="no accumulator"):
        LiveStitch(case.context, _NoAccumulator())  # type: ignore[arg-type]


class _NoAccumulator:
    """A stitcher that offers no accumulator (only what the check looks at)."""

    name, priority = "plain", 0


def test_the_live_example_runs_and_accounts_for_every_frame() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(root / "examples" / "live_stitch.py"), "--frames", "200", "--batch", "40"],
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert sum(line.startswith("batch ") for line in lines) == 5
    found = re.fullmatch(r"finished: (\d+) frames stitched, (\d+) dropped .* covered pixels (\S+)", lines[-1])
    assert found is not None, lines[-1]
    added, dropped, error = int(found[1]), int(found[2]), float(found[3])
    assert added + dropped == 200 and dropped > 0
    assert error < 1e-5  # exact patches of the object: the stitch is the object where covered
