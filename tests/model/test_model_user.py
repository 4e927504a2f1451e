"""Loading a user's model from ``module:factory`` and checking what it returns."""

import sys
import textwrap

import numpy as np
import pytest
import torch

from ptychostitch.errors import InputError
from ptychostitch.model.factory import ModelSpec, build_model, model_spec
from ptychostitch.model.outputs import as_complex_patches
from ptychostitch.model.predict import predict_batches

USER_MODULE = """
import torch
from torch import nn


class Identity(nn.Module):
    def __init__(self, n, gridsize):
        super().__init__()
        self.n, self.gridsize = n, gridsize
        self.gain = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return torch.stack([x * self.gain, -x], dim=-1)  # real tensor [real, imag]


def make(n, gridsize):
    return Identity(n, gridsize)


def broken(n, gridsize):
    raise ValueError("no GPU here")


def not_a_module(n, gridsize):
    return 42
"""


@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    name = f"user_models_{abs(hash(str(tmp_path)))}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_factory_is_loaded_and_called_with_n_and_gridsize(user_module: str) -> None:
    spec = model_spec(f"{user_module}:make", 16, 2)
    model = build_model(spec)
    assert (model.n, model.gridsize) == (16, 2)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    x = np.random.default_rng(0).random((5, 16, 16, 4)).astype(np.float32)
    batches = list(predict_batches(model, x, batch_size=2))
    assert [b.start for b in batches] == [0, 2, 4]
    patches = np.concatenate([b.patches for b in batches])
    assert patches.dtype == np.complex64 and patches.shape == (5, 16, 16, 4)
    np.testing.assert_allclose(patches, x - 1j * x, rtol=1e-6)
    shard = list(predict_batches(model, x, batch_size=2, rows=range(2, 5)))  # a rank's rows, batches from its first row
    assert [(b.start, len(b.patches)) for b in shard] == [(2, 2), (4, 1)]
    np.testing.assert_array_equal(np.concatenate([b.patches for b in shard]), patches[2:5])


@pytest.mark.parametrize(
    "factory,match",
    [
        ("nowhere_module_xyz:make", "cannot import module 'nowhere_module_xyz'"),
        ("{m}:missing", "has no callable 'missing'"),
        ("{m}:broken", r"factory\(16, 1\) raised ValueError\('no GPU here'\)"),
        ("{m}:not_a_module", "returned int, expected a torch.nn.Module"),
    ],
)
def test_bad_factories_are_one_line(user_module: str, factory: str, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        build_model(model_spec(factory.format(m=user_module), 16, 1))
    assert "\n" not in str(err.value)


def test_model_names_are_checked() -> None:
    with pytest.raises(InputError, match="expected 'reference' or 'module:factory'"):
        model_spec("resnet", 16, 1)
    with pytest.raises(InputError, match="architecture options apply only"):
        model_spec("pkg:make", 16, 1, components=8)
    assert model_spec("reference", 32, 1, components=8).architecture["components"] == 8
    with pytest.raises(InputError, match=r"unknown keys \['depth'\]"):
        build_model(ModelSpec("reference", 32, 1, {"depth": 3}))


def test_output_checks_name_the_batch() -> None:
    expected = (2, 1, 4, 4)
    good = torch.ones(2, 1, 4, 4, dtype=torch.complex128)
    assert as_complex_patches(good, expected, "x").dtype == torch.complex64
    pairs = torch.zeros(2, 1, 4, 4, 2)
    pairs[..., 1] = 1.0
    assert torch.equal(as_complex_patches(pairs, expected, "x"), torch.full(expected, 1j, dtype=torch.complex64))
    cases = [
        (torch.ones(2, 1, 4, 3, dtype=torch.complex64), r"expected complex shape \(2, 1, 4, 4\), found \(2, 1, 4, 3\)"),
        (torch.ones(2, 1, 4, 4), r"expected real shape \(2, 1, 4, 4, 2\) \(\[real, imag\] last\), found \(2, 1, 4, 4\)"),
        (torch.ones(2, 1, 4, 4, dtype=torch.int64), "expected a complex or floating dtype, found torch.int64"),
        (np.ones((2, 1, 4, 4)), "expected a torch.Tensor of shape .*found ndarray"),
        (good * float("inf"), "found NaN or infinite"),
    ]
    for output, match in cases:
        with pytest.raises(InputError, match=rf"^model output, prediction batch 7 \(rows 12:14\): {match}"):
            as_complex_patches(output, expected, "prediction batch 7 (rows 12:14)")


class NanOnSecondBatch(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return torch.complex(x, x) * (float("nan") if self.calls == 2 else 1.0)


def test_nan_prediction_names_the_first_bad_batch() -> None:
    x = np.ones((10, 8, 8, 1), np.float32)
    with pytest.raises(InputError, match=r"prediction batch 2 \(rows 4:8\): found NaN"):
        list(predict_batches(NanOnSecondBatch(), x, batch_size=4))


def test_initial_weights_follow_the_seed_without_touching_global_state() -> None:
    spec = model_spec("reference", 16, 1, components=8, refine_width=4)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a, b, c = build_model(spec, seed=1), build_model(spec, seed=1), build_model(spec, seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.decoder.weight, b.decoder.weight) and not torch.equal(a.decoder.weight, c.decoder.weight)
