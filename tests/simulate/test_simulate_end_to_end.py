"""End-to-end checks of small simulated datasets (one per gridsize) against independent oracles.

Every oracle is computed from the written files with code written here (patch cutting, the
normaliser, the forward model, the shuffle), not with the simulator's own helpers, except the
exact ground-truth test, which stitches the simulator's in-memory normalised patches.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ptychostitch.geometry import GridLayout
from ptychostitch.simulate import SimulationConfig, plan, simulate
from ptychostitch.simulate.config import TEST_OBJECT_SEED
from ptychostitch.simulate.patches import channels_last
from ptychostitch.simulate.split import make_split
from ptychostitch.stitchers import PatchBatch, StitchContext
from ptychostitch.stitchers.tf_style import TfStyleStitcher

CONFIGS = {
    1: SimulationConfig(N=32, gridsize=1, size=120, nimgs_train=2, nimgs_test=2, seed=11),
    2: SimulationConfig(N=32, gridsize=2, size=120, nimgs_train=2, nimgs_test=2, seed=12, set_phi=True),
}


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module", params=[1, 2], ids=["gs1", "gs2"])
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    config = CONFIGS[request.param]
    paths = simulate(config, tmp_path_factory.mktemp(f"gs{config.gridsize}"))
    train, test = load(paths.train), load(paths.test)
    meta = json.loads(str(test["_metadata"].item()))
    return {"config": config, "paths": paths, "train": train, "test": test, "meta": meta}


def cut(objects: np.ndarray, config: SimulationConfig, outer_offset: int, rows: np.ndarray) -> np.ndarray:
    """Patches of the given object-major rows, ``(r, N, N, C)``, by explicit loops."""
    n, g, s = config.N, config.gridsize, outer_offset // 2
    m = (config.size - (n + (g - 1) * config.offset)) // s + 1
    out = np.zeros((len(rows), n, n, g * g), objects.dtype)
    for k, row in enumerate(rows):
        img, rest = divmod(int(row), m * m)
        r, c = divmod(rest, m)
        for i in range(g):
            for j in range(g):
                y, x = s * r + config.offset * i, s * c + config.offset * j
                out[k, :, :, i * g + j] = objects[img, y : y + n, x : x + n, 0]
    return out


def norm_of(objects: np.ndarray, config: SimulationConfig, outer_offset: int) -> float:
    """PtychoPINN's ``norm_Y_I``: mean over rows of the row's maximum raw amplitude."""
    n_rows = len(objects) * ((config.size - (config.N + (config.gridsize - 1) * config.offset)) // (outer_offset // 2) + 1) ** 2
    patches = np.abs(cut(objects, config, outer_offset, np.arange(n_rows)))
    return float(patches.max(axis=(1, 2, 3)).mean())


def test_shapes_and_dtypes_follow_the_plan(dataset: dict) -> None:
    planned = plan(dataset["config"])
    for name in ("train", "test"):
        arrays = dataset[name]
        assert list(arrays) == list(planned[name].members)
        for key, member in planned[name].members.items():
            assert arrays[key].shape == member.shape, key
            assert arrays[key].dtype == member.dtype or arrays[key].dtype.kind == member.dtype.kind == "U", key


def test_normalised_patches_stitch_back_to_ground_truth_exactly(dataset: dict) -> None:
    config, test = dataset["config"], dataset["test"]
    layout = config.test_layout
    split = make_split(
        layout, object_seed=TEST_OBJECT_SEED, set_phi=config.set_phi,
        progress=lambda it, total, desc, unit: it, label="test",
    )
    assert split.norm_Y_I == float(test["norm_Y_I"])
    rows = np.arange(layout.n_rows)
    patches = channels_last(split.object_patches(rows))
    context = StitchContext(
        N=config.N, gridsize=config.gridsize, n_rows=layout.n_rows, frame_shape=layout.gt_shape,
        frame_rows=range(layout.rows_per_object), grid=layout, norm_Y_I=float(test["norm_Y_I"]),
    )
    stitcher = TfStyleStitcher()
    assert stitcher.capability(context).ok
    result = stitcher.stitch(context, [PatchBatch(0, patches)])
    np.testing.assert_array_equal(result.object, test["YY_ground_truth"][..., 0])


def test_saved_labels_stitch_back_to_ground_truth(dataset: dict) -> None:
    test, config = dataset["test"], dataset["config"]
    layout = GridLayout.from_metadata(dataset["meta"], N=config.N, gridsize=config.gridsize)
    probe_amp = np.abs(test["probe_simulated"])[..., None]
    model_units = test["Y_I"] / probe_amp * np.exp(1j * test["Y_phi"])
    context = StitchContext(
        N=config.N, gridsize=config.gridsize, n_rows=len(model_units), frame_shape=layout.gt_shape,
        frame_rows=range(layout.rows_per_object), grid=layout, norm_Y_I=float(test["norm_Y_I"]),
    )
    result = TfStyleStitcher().stitch(context, [PatchBatch(0, model_units.astype(np.complex64))])
    np.testing.assert_allclose(result.object, test["YY_ground_truth"][..., 0], rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", ["train", "test"])
def test_labels_are_normalised_object_patches_in_row_order(dataset: dict, name: str) -> None:
    config, arrays = dataset["config"], dataset[name]
    outer = config.outer_offset_test if name == "test" else config.outer_offset_train
    objects = arrays["YY_full"]
    n_rows = len(arrays["Y_I"])
    order = np.arange(n_rows) if name == "test" else np.random.RandomState(0).permutation(n_rows)
    norm = norm_of(objects, config, outer)
    if name == "test":
        np.testing.assert_allclose(float(arrays["norm_Y_I"]), norm, rtol=1e-6)
    truth = cut(objects, config, outer, order)
    expected_amp = np.abs(truth) / norm * np.abs(arrays["probe_simulated"])[..., None]
    np.testing.assert_allclose(arrays["Y_I"], expected_amp, rtol=2e-6, atol=1e-12)
    lit = np.abs(truth) > 1e-3 * np.abs(truth).max()
    if config.set_phi:
        np.testing.assert_allclose(arrays["Y_phi"][lit], np.angle(truth)[lit], atol=2e-5)
        assert np.ptp(arrays["Y_phi"]) > 0.5
    else:
        assert not arrays["Y_phi"].any()


@pytest.mark.parametrize("name", ["train", "test"])
def test_coordinates(dataset: dict, name: str) -> None:
    config, arrays = dataset["config"], dataset[name]
    g, off = config.gridsize, config.offset
    expected_rel = np.array([[(g - 1) * off / 2 - off * j for i in range(g) for j in range(g)],
                             [(g - 1) * off / 2 - off * i for i in range(g) for j in range(g)]])
    np.testing.assert_array_equal(arrays["coords_nominal"], np.broadcast_to(expected_rel, arrays["coords_nominal"].shape))
    np.testing.assert_array_equal(arrays["coords_true"], arrays["coords_nominal"])


def ptychopinn_coords_offsets(config: SimulationConfig, outer_offset: int, nimgs: int) -> np.ndarray:
    """PtychoPINN's writer, by loops: one object's window centres ``(y, x)``, each repeated ``nimgs`` times.

    ``tf.repeat(positions, nimgs, axis=0)`` in ``simulate_grid_data``: row ``p*nimgs + o`` is position ``p``.
    """
    n, g, s = config.N, config.gridsize, outer_offset // 2
    m = (config.size - (n + (g - 1) * config.offset)) // s + 1
    rows = []
    for r in range(m):
        for c in range(m):
            centre = [[s * r + config.offset * i + (n - 1) / 2 for i in range(g) for j in range(g)],
                      [s * c + config.offset * j + (n - 1) / 2 for i in range(g) for j in range(g)]]
            rows.extend([centre] * nimgs)
    return np.array(rows, np.float32)[:, None]


@pytest.mark.parametrize("name", ["train", "test"])
def test_coords_offsets_position_major_like_ptychopinn(dataset: dict, name: str) -> None:
    config, arrays = dataset["config"], dataset[name]
    outer = config.outer_offset_test if name == "test" else config.outer_offset_train
    nimgs = len(arrays["YY_full"])
    assert nimgs == 2
    np.testing.assert_array_equal(arrays["coords_offsets"], ptychopinn_coords_offsets(config, outer, nimgs))
    assert dataset["meta"]["additional_parameters"]["coords_offsets_order"] == "position-major"
    # Under PtychoPINN's ordering rule, data row (object o, position p) has its centre in coords row p*nimgs + o.
    n, g = config.N, config.gridsize
    n_rows = len(arrays["Y_I"])
    order = np.arange(n_rows) if name == "test" else np.random.RandomState(0).permutation(n_rows)
    per_object = n_rows // nimgs
    probe_amp = np.abs(arrays["probe_simulated"])
    for t in (0, 1, n_rows // 2, n_rows - 1):
        img, position = divmod(int(order[t]), per_object)
        for ch in range(g * g):
            y, x = arrays["coords_offsets"][position * nimgs + img, 0, :, ch] - (n - 1) / 2
            assert y == int(y) and x == int(x)
            patch = np.abs(arrays["YY_full"][img, int(y) : int(y) + n, int(x) : int(x) + n, 0])
            ratio = arrays["Y_I"][t, :, :, ch] / (patch * probe_amp)
            np.testing.assert_allclose(ratio, ratio.mean(), rtol=3e-6)


def test_probe_normalisation_in_file(dataset: dict) -> None:
    test, n = dataset["test"], dataset["config"].N
    ratio = test["probe_simulated"] / test["probeGuess"]
    assert np.allclose(ratio.imag, 0) and np.allclose(ratio.real, ratio.real[0, 0], rtol=1e-6)
    assert abs(ratio.real[0, 0] - 1) > 0.1
    k = np.arange(n) - n // 2 + 0.5
    mask = np.hypot(k[:, None], k[None, :]) < n // 4
    assert np.mean(np.abs(test["probe_simulated"]) * mask) == pytest.approx(0.25, rel=1e-6)
    np.testing.assert_array_equal(dataset["train"]["probe_simulated"], test["probe_simulated"])


def test_intensity_scale_and_photon_count(dataset: dict) -> None:
    config, train, meta = dataset["config"], dataset["train"], dataset["meta"]
    scale = meta["additional_parameters"]["intensity_scale"]
    energy = (train["Y_I"].astype(np.float64) ** 2).sum(axis=(1, 2))  # (B, C): noise-free photons / s_I**2
    assert scale == pytest.approx(np.sqrt(config.nphotons / energy.mean()), rel=1e-6)
    counts = ((train["diffraction"].astype(np.float64) * scale) ** 2).sum(axis=(1, 2))
    patterns = counts.size
    assert abs(counts.mean() - config.nphotons) < 5 * np.sqrt(config.nphotons / patterns)


@pytest.mark.parametrize("name", ["train", "test"])
def test_parseval_within_poisson_noise(dataset: dict, name: str) -> None:
    arrays, scale = dataset[name], dataset["meta"]["additional_parameters"]["intensity_scale"]
    expected = (arrays["Y_I"].astype(np.float64) ** 2).sum(axis=(1, 2)) * scale**2  # sum of rates
    counts = ((arrays["diffraction"].astype(np.float64) * scale) ** 2).sum(axis=(1, 2))
    z = (counts - expected) / np.sqrt(expected)
    assert np.abs(z).max() < 6
    assert abs(z.mean()) < 5 / np.sqrt(z.size)
    assert 0.8 < z.std() < 1.2  # Poisson: variance equals the mean


def test_diffraction_is_noisy_far_field_amplitude(dataset: dict) -> None:
    arrays, scale = dataset["test"], dataset["meta"]["additional_parameters"]["intensity_scale"]
    probe = arrays["probe_simulated"][..., None]
    exit_wave = arrays["Y_I"] * np.exp(1j * (arrays["Y_phi"] + np.angle(probe)))
    far = np.fft.fftshift(np.fft.fft2(exit_wave, axes=(1, 2), norm="ortho"), axes=(1, 2))
    deviation = (arrays["diffraction"] - np.abs(far)) * scale  # sqrt(counts) - sqrt(rate)
    assert np.abs(deviation).max() < 5
    assert 0.3 < deviation.std() < 0.7
    n = dataset["config"].N
    brightest = np.unravel_index(arrays["diffraction"].mean(axis=(0, 3)).argmax(), (n, n))
    assert brightest == (n // 2, n // 2)
    counts = (arrays["diffraction"].astype(np.float64) * scale) ** 2
    dim = counts < 1000
    assert dim.sum() > 1000
    np.testing.assert_allclose(counts[dim], np.round(counts[dim]), atol=2e-3)


def test_ptychopinn_reading_rules(dataset: dict) -> None:
    config, paths = dataset["config"], dataset["paths"]
    for path in (paths.train, paths.test):
        with np.load(path, allow_pickle=True) as data:  # PtychoPINN's own loader
            assert {"diffraction", "Y_I", "Y_phi", "coords_nominal"} <= set(data.files)
            meta = json.loads(str(data["_metadata"].item()))
            assert data["_metadata"].dtype.kind == "U"
    extra = meta["additional_parameters"]
    assert (extra["nimgs_test"], extra["outer_offset_test"]) == (config.nimgs_test, config.outer_offset_test)
    assert extra["coords_offsets_order"] == "position-major" and extra["seed"] == config.seed
    assert meta["creation_info"]["writer"].startswith("ptychostitch ")
    assert meta["physics_parameters"]["N"] == config.N and meta["physics_parameters"]["gridsize"] == config.gridsize
    test = dataset["test"]
    gt = next(test[key] for key in ("YY_ground_truth", "YY_full", "objectGuess") if key in test)
    layout = GridLayout.from_metadata(meta, N=config.N, gridsize=config.gridsize)
    assert gt.shape == (*layout.gt_shape, 1)
    assert len(test["diffraction"]) == layout.n_rows
    assert float(test["norm_Y_I"]) > 0
    np.testing.assert_array_equal(dataset["train"]["_metadata"], test["_metadata"])
