"""Planned shapes for the full-size configurations, against PtychoPINN's (docs/geometry.md, docs/simulate.md#output-keys).

Nothing is simulated: :func:`plan` is what the writer takes its headers from, and the end-to-end
tests check that written files match their plan.
"""

from __future__ import annotations

import numpy as np
import pytest

from ptychostitch.errors import InputError
from ptychostitch.simulate import SimulationConfig, plan

# (N, gridsize) -> train rows, test rows, ground-truth side, ground-truth origin (PtychoPINN's values)
REFERENCE = {
    (64, 1): (13778, 2178, 330, 27),
    (64, 2): (13448, 2178, 330, 29),
    (128, 1): (8978, 1458, 270, 59),
    (128, 2): (8712, 1458, 270, 61),
}


@pytest.mark.parametrize("n,gridsize", list(REFERENCE))
def test_full_size_shapes(n: int, gridsize: int) -> None:
    train_rows, test_rows, side, origin = REFERENCE[(n, gridsize)]
    c = gridsize**2
    planned = plan(SimulationConfig(N=n, gridsize=gridsize))
    train, test = planned["train"].members, planned["test"].members
    for members, rows in ((train, train_rows), (test, test_rows)):
        for key in ("diffraction", "Y_I", "Y_phi"):
            assert members[key].shape == (rows, n, n, c) and members[key].dtype == np.float32
        for key in ("coords_nominal", "coords_true", "coords_offsets"):
            assert members[key].shape == (rows, 1, 2, c) and members[key].dtype == np.float32
        assert members["YY_full"].shape == (2, 392, 392, 1) and members["YY_full"].dtype == np.complex64
        assert members["probeGuess"].shape == members["probe_simulated"].shape == (n, n)
        assert members["_metadata"].shape == ()
    assert test["YY_ground_truth"].shape == (side, side, 1)
    assert test["norm_Y_I"].shape == () and test["norm_Y_I"].dtype == np.float64
    assert "YY_ground_truth" not in train and "norm_Y_I" not in train
    assert planned["test"].layout.gt_origin == origin
    assert (planned["train"].object_seed, planned["test"].object_seed) == (1, 2)


def test_lines_256_and_ci_configurations() -> None:
    lines_256 = plan(SimulationConfig(N=256, nimgs_test=1))
    assert lines_256["train"].members["diffraction"].shape == (2450, 256, 256, 1)
    assert lines_256["test"].members["diffraction"].shape == (196, 256, 256, 1)
    assert lines_256["test"].members["YY_ground_truth"].shape == (140, 140, 1)
    ci = plan(SimulationConfig(N=128, nimgs_train=1, nimgs_test=1))
    assert ci["train"].members["diffraction"].shape == (4489, 128, 128, 1)
    assert ci["train"].members["YY_full"].shape == (1, 392, 392, 1)
    assert ci["test"].members["diffraction"].shape == (729, 128, 128, 1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"N": 8}, "N must exceed"),
        ({"size": 50, "N": 64}, "smaller than the group window"),
        ({"nphotons": 0.0}, "nphotons"),
        ({"probe_scale_mode": "stretch"}, "probe_scale_mode"),
        ({"probe_scale_mode": "pipeline"}, "needs probe_transform_pipeline"),
        ({"nimgs_test": 0}, "nimgs"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_configurations_are_one_line_input_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match) as info:
        SimulationConfig(**kwargs)
    assert "\n" not in str(info.value)
