"""Checkpoints round-trip weights and description; anything else is refused in one line."""

import numpy as np
import pytest
import torch

from ptychostitch.errors import InputError
from ptychostitch.model.checkpoint import load_checkpoint, save_checkpoint
from ptychostitch.model.factory import build_model, model_spec
from ptychostitch.testing.model_data import tiny_split


def trained_reference():
    torch.manual_seed(0)
    spec = model_spec("reference", 16, 1, components=8, refine_width=4)
    model = build_model(spec)
    model.calibrate(tiny_split()["diffraction"])
    with torch.no_grad():
        model.decoder.bias.normal_()
    return spec, model


def test_round_trip_gives_identical_predictions(tmp_path) -> None:
    spec, model = trained_reference()
    info = {"loss": "mae", "epochs": 3, "history": [{"epoch": 1, "loss": 0.5}], "twin": False}
    path = save_checkpoint(tmp_path / "sub" / "model.pt", model, spec, info)
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"], "no temporary file may be left behind"
    loaded = load_checkpoint(path)
    assert loaded.spec == spec and loaded.info == info and not loaded.model.training
    x = torch.from_numpy(np.moveaxis(tiny_split(rows=4, seed=2)["diffraction"], -1, 1).copy())
    with torch.no_grad():
        assert torch.equal(model.eval()(x), loaded.model(x))
    assert bool(loaded.model.calibrated)


def test_data_mismatch_is_named(tmp_path) -> None:
    spec, model = trained_reference()
    loaded = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, spec))
    loaded.check_data(16, 1, "test.npz")
    with pytest.raises(InputError, match="built for N=16, gridsize=1 but test.npz has N=64, gridsize=1"):
        loaded.check_data(64, 1, "test.npz")


def test_foreign_or_broken_files_are_refused(tmp_path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_checkpoint(tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable torch checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="expected a ptychostitch-checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_pickled_code_is_never_executed(tmp_path) -> None:
    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('executed')",))

    torch.save({"format": "ptychostitch-checkpoint", "version": 1, "payload": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(InputError, match="not a readable torch checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


def test_weights_that_do_not_fit_are_named(tmp_path) -> None:
    spec, model = trained_reference()
    path = save_checkpoint(tmp_path / "m.pt", model, spec)
    payload = torch.load(path, weights_only=True)
    payload["model"]["architecture"]["refine_width"] = 8
    torch.save(payload, tmp_path / "changed.pt")
    with pytest.raises(InputError, match=r"wrongly shaped 5: refine.0.weight \(4, 2, 3, 3\) \(expected \(8, 2, 3, 3\)\), .*, \.\.\.$"):
        load_checkpoint(tmp_path / "changed.pt")
    del payload["state_dict"]["decoder.bias"]
    payload["model"]["architecture"]["refine_width"] = 4
    torch.save(payload, tmp_path / "partial.pt")
    with pytest.raises(InputError, match=r"missing 1: decoder.bias$"):
        load_checkpoint(tmp_path / "partial.pt")


def test_a_plain_state_dict_loads_into_the_named_model_and_a_misfit_is_one_line(tmp_path) -> None:
    spec, model = trained_reference()
    torch.save(model.state_dict(), tmp_path / "plain.pth")
    loaded = load_checkpoint(tmp_path / "plain.pth", plain=spec)
    assert loaded.spec == spec and not loaded.model.training
    assert all(torch.equal(v, loaded.model.state_dict()[k]) for k, v in model.state_dict().items())
    state = dict(model.state_dict())
    state["extra.weight"] = torch.zeros(2)
    del state["decoder.bias"]
    torch.save(state, tmp_path / "misfit.pt")
    with pytest.raises(InputError) as refused:
        load_checkpoint(tmp_path / "misfit.pt", plain=spec)
    message = str(refused.value)
    assert "misfit.pt" in message and "missing 1: decoder.bias" in message and "unexpected 1: extra.weight" in message
    assert "\n" not in message and "\x1b" not in message
    with pytest.raises(InputError, match="plain state_dict"):
        load_checkpoint(tmp_path / "plain.pth")  # without a model to load it into


class Foreign:
    """A class torch's weights-only loader refuses (its message has terminal codes)."""


def test_a_refusal_from_torch_carries_no_terminal_codes(tmp_path) -> None:
    torch.save({"weights": Foreign()}, tmp_path / "foreign.pt")
    with pytest.raises(InputError) as refused:
        load_checkpoint(tmp_path / "foreign.pt")
    assert "\x1b" not in str(refused.value) and "not a readable torch checkpoint" in str(refused.value)
