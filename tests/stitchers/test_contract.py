"""The checks every stitcher shares: StitchOptions values, well-formed contexts, and the frame-row batch stream."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ptychostitch.errors import InputError, PluginFault
from ptychostitch.stitchers import Capability, PatchBatch, StitchContext, StitchOptions, check_context, frame_batches, guard, select
from ptychostitch.stitchers.registry import Registered, Registry

N, C, ROWS = 8, 4, 6
GOOD = StitchContext(
    N=N, gridsize=2, n_rows=ROWS, frame_shape=(12, 10), frame_rows=range(1, 5),
    positions=np.zeros((ROWS, C, 2)), probe=np.ones((N, N), np.complex64),
)  # fmt: skip


class Spy:
    """A stitcher that records every capability question."""

    name = "spy"
    priority = 1

    def __init__(self) -> None:
        self.asked = 0

    def capability(self, context: StitchContext) -> Capability:
        self.asked += 1
        return Capability(True, "always")

    def stitch(self, context: StitchContext, batches: object) -> None:
        raise NotImplementedError


def with_nan(rows: slice) -> np.ndarray:
    positions = np.zeros((ROWS, C, 2))
    positions[rows, 1, 0] = np.nan
    return positions


MALFORMED = {
    "positions shape": (replace(GOOD, positions=np.zeros((ROWS, 1, 2))), r"shape \(6, 4, 2\), found shape \(6, 1, 2\)"),
    "positions flat": (replace(GOOD, positions=np.zeros((ROWS * C, 2))), r"shape \(6, 4, 2\)"),
    "NaN in frame rows": (replace(GOOD, positions=with_nan(slice(4, 5))), "NaN or infinite"),
    "infinite in frame rows": (replace(GOOD, positions=np.full((ROWS, C, 2), np.inf)), "NaN or infinite"),
    "empty frame": (replace(GOOD, frame_shape=(0, 10)), r"frame \(0, 10\) is empty"),
    "frame rows past the stream": (replace(GOOD, frame_rows=range(2, 7)), "not a contiguous part of the 6 rows"),
    "frame rows with a step": (replace(GOOD, frame_rows=range(0, 6, 2)), "not a contiguous part"),
    "negative frame rows": (replace(GOOD, frame_rows=range(-1, 3)), "not a contiguous part"),
    "crop above N": (replace(GOOD, options=StitchOptions(crop=N + 1)), "crop 9 must be between 1 and the patch size N=8"),
    "probe weighting, no probe": (replace(GOOD, probe=None, options=StitchOptions(weighting="probe")), "needs a probe"),
    "probe weighting, wrong probe": (
        replace(GOOD, probe=np.ones((N + 1, N + 1)), options=StitchOptions(weighting="probe")),
        r"needs a 8x8 probe, found shape \(9, 9\)",
    ),
}


def test_a_well_formed_context_passes_with_nan_positions_outside_frame_rows() -> None:
    check_context(GOOD)
    check_context(replace(GOOD, positions=with_nan(slice(0, 1))))  # row 0 is another object's
    check_context(replace(GOOD, positions=None, probe=None))
    check_context(replace(GOOD, options=StitchOptions(weighting="probe", crop=N)))


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_context_is_one_input_error_line_before_any_capability_is_asked(case: str) -> None:
    context, message = MALFORMED[case]
    spy = Spy()
    registry = Registry(stitchers={"spy": Registered(spy, "spy", "test")})
    for requested in ("auto", "spy"):
        with pytest.raises(InputError, match=message) as raised:
            select(context, requested, registry=registry)
        assert "\n" not in str(raised.value)
    assert spy.asked == 0
    assert select(GOOD, registry=registry).stitcher is spy and spy.asked == 1


def test_a_context_whose_options_were_altered_after_the_checks_is_still_refused() -> None:
    options = StitchOptions()
    object.__setattr__(options, "weighting", "median")
    with pytest.raises(InputError, match="unknown stitch weighting 'median'"):
        check_context(replace(GOOD, options=options))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"weighting": "median"}, "unknown stitch weighting 'median'; use 'uniform' or 'probe'"),
        ({"crop": 0}, r"crop must be None \(whole patch\) or an integer >= 1, found 0"),
        ({"crop": -3}, "found -3"),
        ({"crop": 2.5}, "found 2.5"),
        ({"crop": True}, "found True"),
        ({"device": "auto"}, "'auto' is resolved before stitching"),
        ({"device": ""}, "concrete torch device"),
        ({"device": "cu da"}, "concrete torch device"),
        ({"device": None}, "concrete torch device"),
    ],
)
def test_stitch_options_refuse_bad_values_in_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:
        StitchOptions(**kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(raised.value)


def test_stitch_options_take_concrete_values() -> None:
    for kwargs in ({}, {"weighting": "probe", "crop": 1}, {"crop": np.int64(7)}, {"device": "cuda"}, {"device": "cuda:1"}):
        StitchOptions(**kwargs)  # type: ignore[arg-type]
    assert replace(StitchOptions(), crop=5).crop == 5
    with pytest.raises(InputError):
        replace(StitchOptions(), device="auto")


def rows(start: int, count: int, channels: int = C) -> PatchBatch:
    """Rows whose every pixel holds its row number."""
    values = np.repeat(np.arange(start, start + count, dtype=np.complex64), N * N * channels)
    return PatchBatch(start, values.reshape(count, N, N, channels))


def test_frame_batches_yield_only_frame_rows_with_their_offset() -> None:
    stream = [rows(0, 2), rows(2, 0), rows(2, 1), rows(3, 3)]  # frame rows 1 .. 4
    out = list(frame_batches(GOOD, stream))
    assert [(b.start, b.offset, b.stop) for b in out] == [(1, 0, 2), (2, 1, 3), (3, 2, 5)]
    for b in out:
        assert np.array_equal(b.patches[:, 0, 0, 0].real, np.arange(b.start, b.stop))
        assert b.patches.shape[1:] == (N, N, C)
    assert list(frame_batches(replace(GOOD, frame_rows=range(3, 3)), [rows(0, 6)])) == []


def test_frame_batches_hand_out_views_not_copies() -> None:
    batch = rows(0, 6)
    (part,) = frame_batches(GOOD, [batch])
    assert np.shares_memory(part.patches, batch.patches)


@pytest.mark.parametrize(
    "stream,message",
    [
        ([rows(0, 2, channels=1)], r"patch batch at row 0: expected shape \(b, 8, 8, 4\), found \(2, 8, 8, 1\)"),
        ([PatchBatch(0, np.zeros((2, N, N), np.complex64))], r"expected shape \(b, 8, 8, 4\), found \(2, 8, 8\)"),
        ([rows(0, 3), rows(2, 2)], "rows 2 .. 3 is out of order or outside the stream: expected rows from 3 on"),
        ([rows(3, 2), rows(0, 2)], "out of order"),
        ([rows(4, 3)], "rows 4 .. 6 is out of order or outside the stream: expected rows from 0 on, below 6"),
        ([rows(-1, 2)], "out of order or outside the stream"),
    ],
    ids=["channels", "rank", "overlap", "backwards", "past the end", "negative start"],
)
def test_frame_batches_refuse_a_malformed_stream_in_one_line(stream: list[PatchBatch], message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:
        list(frame_batches(GOOD, stream))
    assert "\n" not in str(raised.value)


def test_frame_batches_check_the_context_when_called_before_reading_the_stream() -> None:
    def never() -> object:
        raise AssertionError("the stream was read")
        yield

    context, message = MALFORMED["crop above N"]
    with pytest.raises(InputError, match=message):
        frame_batches(context, never())


def test_the_stitchers_listing_makes_the_same_check(run_cli, fresh_registry, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    """``ptychostitch stitchers --test-npz`` refuses a malformed context with the contract's line, exit 2."""
    from ptychostitch.commands import stitchers as command
    from ptychostitch.testing.files import write_scattered_file

    path = write_scattered_file(tmp_path / "test.npz").path
    status, out, _ = run_cli("stitchers", "--test-npz", str(path))
    assert status == 0 and "can run" in out
    context, message = MALFORMED["NaN in frame rows"]
    monkeypatch.setattr(command, "stitch_context", lambda dataset, options=None: context)
    status, out, err = run_cli("stitchers", "--test-npz", str(path))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "NaN or infinite" in err


class Weighing:
    """A stitcher whose optional ``pixel_weights`` answers with ``answer`` (or raises it)."""

    name = "weighing"
    priority = 1

    def __init__(self, answer: object) -> None:
        self.answer = answer

    def pixel_weights(self, context: StitchContext) -> object:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def test_pixel_weights_are_the_stitchers_own_else_the_default() -> None:
    default = np.ones((N, N))
    assert guard.pixel_weights(Spy(), GOOD, default) is default
    for own in (np.zeros((N, N)), np.full((N, N, C), 0.25)):
        assert guard.pixel_weights(Weighing(own), GOOD, default) is own


@pytest.mark.parametrize(
    "answer, why",
    [
        (ValueError("no"), "raised ValueError"),
        (SystemExit(4), "sys.exit(4)"),
        ([[1.0]], "returned list"),
        (np.ones((N, N, C + 1)), "shape (8, 8, 5)"),
        (np.ones((N, N), np.complex64), "dtype complex64"),
        (np.full((N, N), -1.0), "negative"),
        (np.full((N, N), np.nan), "NaN"),
    ],
)
def test_bad_pixel_weights_are_a_plugin_fault_naming_the_stitcher(answer: object, why: str) -> None:
    with pytest.raises(PluginFault, match="'weighing'") as caught:
        guard.pixel_weights(Weighing(answer), GOOD, np.ones((N, N)))
    assert why in str(caught.value) and "pixel_weights" in str(caught.value)
