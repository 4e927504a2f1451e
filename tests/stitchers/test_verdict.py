"""``verdict``: a refusal names the option at fault and every value of it that works, asking the stitcher itself."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ptychostitch.errors import InputError
from ptychostitch.stitchers import Capability, StitchContext, StitchOptions, select, verdict
from ptychostitch.stitchers.registry import Registered, Registry

CONTEXT = StitchContext(
    N=12, gridsize=1, n_rows=4, frame_shape=(20, 20), frame_rows=range(4), probe=np.ones((12, 12), np.complex64),
    options=StitchOptions(weighting="uniform", crop=6),
)


class Picky:
    """Runs only with the crops and weightings it is given; counts its capability calls."""

    priority = 1

    def __init__(self, crops: set[int], weightings: set[str], *, raises: bool = False) -> None:
        self.name, self.crops, self.weightings, self.raises, self.calls = "picky", crops, weightings, raises, 0

    def capability(self, context: StitchContext) -> Capability:
        self.calls += 1
        if self.raises:
            raise RuntimeError("broken check")
        if context.options.crop not in self.crops:
            return Capability(False, f"no crop {context.options.crop}")
        if context.options.weighting not in self.weightings:
            return Capability(False, f"no {context.options.weighting} weights")
        return Capability(True, "fine")

    def stitch(self, context, batches):  # noqa: ANN001, ANN201 - never called here
        raise NotImplementedError


def test_the_crops_that_work_are_listed_as_runs() -> None:
    found, fault = verdict(Picky({2, 3, 4, 9, 12}, {"uniform"}), CONTEXT, registry=Registry())
    assert fault is None and not found.ok
    assert found.reason == "with --crop 6: no crop 6; it can with --crop 2..4, 9, 12"


def test_the_weighting_is_blamed_when_another_weighting_works() -> None:
    found, _ = verdict(Picky({6}, {"probe"}), CONTEXT, registry=Registry())
    assert found.reason == "with --stitch-weighting uniform: no uniform weights; it can with --stitch-weighting probe"


def test_probe_weighting_is_not_offered_without_a_probe() -> None:
    found, _ = verdict(Picky({6}, {"probe"}), replace(CONTEXT, probe=None), registry=Registry())
    assert found.reason == "no uniform weights"


def test_a_refusal_no_option_cures_keeps_the_stitchers_reason() -> None:
    stitcher = Picky(set(), {"uniform", "probe"})
    found, _ = verdict(stitcher, CONTEXT, registry=Registry())
    assert found == Capability(False, "no crop 6")
    assert stitcher.calls == 1 + 1 + (CONTEXT.N - 1)  # itself, the other weighting, every other crop


def test_a_capable_stitcher_is_asked_once_and_a_broken_check_is_not_retried() -> None:
    capable = Picky({6}, {"uniform"})
    assert verdict(capable, CONTEXT, registry=Registry())[0] == Capability(True, "fine") and capable.calls == 1
    broken = Picky({6}, {"uniform"}, raises=True)
    found, fault = verdict(broken, CONTEXT, registry=Registry())
    assert not found.ok and fault is not None and broken.calls == 1


def test_select_by_name_refuses_with_the_verdicts_reason() -> None:
    registry = Registry({"picky": Registered(Picky({8}, {"uniform"}), entry_point="picky", distribution="test")})
    with pytest.raises(InputError, match=r"^stitcher 'picky' cannot run on this dataset: with --crop 6: no crop 6; it can with --crop 8$"):
        select(CONTEXT, "picky", registry=registry)
