"""The training loop: losses fall, runs are reproducible, batches cover every row, bad input stops."""

import numpy as np
import pytest
import torch
from torch import nn

from ptychostitch.errors import InputError
from ptychostitch.model.physics import intensity_scale
from ptychostitch.model.reference import ReferenceConfig, ReferenceModel
from ptychostitch.model.train import TrainingData, TrainOptions, _batches, train
from ptychostitch.testing.model_data import tiny_split


def model_and_data(loss: str, seed: int = 0, rows: int = 48, gridsize: int = 1):
    split = tiny_split(rows=rows, channels=gridsize**2)
    scale = intensity_scale(split["Y_I"], 1e6)
    data = TrainingData(split["diffraction"], split["probe"], scale, split["Y_I"], split["Y_phi"])
    torch.manual_seed(seed)
    return ReferenceModel(ReferenceConfig(N=16, gridsize=gridsize, components=16, refine_width=4)), data


@pytest.mark.parametrize("loss,gridsize", [("mae", 1), ("poisson", 1), ("supervised", 1), ("mae", 2)])
def test_loss_decreases_over_a_few_epochs(loss: str, gridsize: int) -> None:
    model, data = model_and_data(loss, gridsize=gridsize)
    result = train(model, data, TrainOptions(loss=loss, epochs=3, batch_size=8, learning_rate=1e-2))
    losses = [record.loss for record in result.history]
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0], losses
    assert not result.model.training


def test_training_is_deterministic_on_cpu() -> None:
    weights = []
    for _ in range(2):
        model, data = model_and_data("mae", seed=5)
        state = torch.random.get_rng_state()
        train(model, data, TrainOptions(epochs=2, batch_size=8, seed=11))
        assert torch.equal(state, torch.random.get_rng_state()), "training must not move the global torch seed"
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    model, data = model_and_data("mae", seed=5)
    train(model, data, TrainOptions(epochs=2, batch_size=8, seed=12))
    assert not all(torch.equal(weights[0][k], v) for k, v in model.state_dict().items()), "another seed must change the order"


def test_zero_epochs_leave_the_model_untouched() -> None:
    model, data = model_and_data("mae")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = train(model, data, TrainOptions(epochs=0))
    assert result.history == [] and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("rows,size", [(50, 8), (8, 8), (5, 8), (1, 4)])
def test_batches_cover_every_row_once(rows: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        ranges = _batches(rows, size, rng)
        covered = np.concatenate([np.arange(a, b) for a, b in ranges])
        assert sorted(covered.tolist()) == list(range(rows))
        assert all(0 < b - a <= size for a, b in ranges)


class Broken(nn.Module):
    """Returns NaN on the third batch, or always the wrong shape."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode, self.calls = mode, 0
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = torch.complex(x * self.scale, torch.zeros_like(x))
        if self.mode == "shape":
            return out[..., :-1]
        return out * float("nan") if self.calls == 3 else out


def test_nan_prediction_stops_with_the_first_bad_batch() -> None:
    _, data = model_and_data("mae")
    with pytest.raises(InputError, match=r"^model output, training epoch 1 batch 3 \(rows \d+:\d+\): found NaN or infinite values") as err:
        train(Broken("nan"), data, TrainOptions(epochs=1, batch_size=8))
    assert "\n" not in str(err.value)


def test_wrong_output_shape_stops_with_one_line() -> None:
    _, data = model_and_data("mae")
    with pytest.raises(InputError, match=r"batch 1 \(rows \d+:\d+\): expected complex shape \(\d+, 1, 16, 16\), found \(\d+, 1, 16, 15\)"):
        train(Broken("shape"), data, TrainOptions(epochs=1, batch_size=8))


def test_missing_inputs_are_named() -> None:
    model, data = model_and_data("mae")
    with pytest.raises(InputError, match="Y_I is missing"):
        train(model, TrainingData(data.diffraction, data.probe), TrainOptions(loss="supervised", epochs=1))
    with pytest.raises(InputError, match="intensity scale"):
        train(model, TrainingData(data.diffraction, data.probe), TrainOptions(loss="poisson", epochs=1))
    with pytest.raises(InputError, match=r"probe: expected shape \(16, 16\)"):
        train(model, TrainingData(data.diffraction, np.ones((8, 8), np.complex64)), TrainOptions(epochs=1))
    with pytest.raises(InputError, match=r"expected shape \(B, N, N, C\) with B >= 1, found \(0, 16, 16, 1\)"):
        train(model, TrainingData(data.diffraction[:0], data.probe), TrainOptions(epochs=1))
    with pytest.raises(InputError, match="loss must be one of"):
        TrainOptions(loss="mse")


def test_resuming_after_an_epoch_equals_an_uninterrupted_run_bit_for_bit() -> None:
    options = TrainOptions(epochs=3, batch_size=8, learning_rate=1e-2, seed=4)
    model, data = model_and_data("mae", seed=2)
    whole = train(model, data, options)
    states: list[dict] = []

    class Stop(Exception):
        pass

    def stop_after_first(record, state) -> None:
        states.append(state)
        raise Stop

    first, data = model_and_data("mae", seed=2)
    with pytest.raises(Stop):
        train(first, data, options, on_epoch=stop_after_first)
    fresh, data = model_and_data("mae", seed=99)  # other initial weights: the state must replace them
    resumed = train(fresh, data, options, resume=states[0])
    assert [r.loss for r in resumed.history] == [r.loss for r in whole.history]
    final = whole.model.state_dict()
    assert all(torch.equal(final[k], v) for k, v in resumed.model.state_dict().items())
