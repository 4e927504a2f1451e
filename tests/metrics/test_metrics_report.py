"""metrics.json sections (strict JSON, separate keys for extras) and the FRC figure."""

import json

import numpy as np
from scipy.ndimage import gaussian_filter

from ptychostitch.metrics import eval_reconstruction, extra_metrics, metrics_sections, patch_metrics
from ptychostitch.runner.figures import write_frc_plot

SEED_PATCH_KEYS = {"mae_amp", "mse_amp", "mae_phase", "mse_phase"}
STITCHED_KEYS = ["mae", "mse", "psnr", "ssim", "ms_ssim", "frc50", "frc1over7", "frc"]


def objects(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    amp, phase = 0.5 + gaussian_filter(rng.random((n, n)), 2), gaussian_filter(rng.random((n, n)), 2)
    gt = (amp * np.exp(1j * phase)).astype(np.complex64)
    return (gt + 0.02 * rng.standard_normal(gt.shape)).astype(np.complex64), gt


def test_sections_follow_the_interface_and_are_strict_json() -> None:
    pred, gt = objects()
    m = eval_reconstruction(pred, gt)
    probe = np.ones((8, 8), np.complex64)
    patches = patch_metrics(np.ones((3, 8, 8, 1), np.complex64), np.ones((3, 8, 8, 1)), np.zeros((3, 8, 8, 1)), probe)
    sections = metrics_sections(m, patches, extra_metrics(pred, gt, register=True))
    text = json.dumps(sections, allow_nan=False)
    back = json.loads(text)
    assert list(back["stitched"]) == STITCHED_KEYS
    for key in STITCHED_KEYS[:-1]:
        assert len(back["stitched"][key]) == 2
        assert back["stitched"][key] == [float(m[key][0]), float(m[key][1])]
    assert [len(c) for c in back["stitched"]["frc"]] == [len(m["frc"][0]), len(m["frc"][1])]
    assert set(back["patch"]) == SEED_PATCH_KEYS and back["patch"]["mae_amp"] == 0.0
    assert back["stitched_evaluation"]["window"] == [0, 40, 0, 40] and back["stitched_evaluation"]["evaluated_shape"] == [36, 36]
    assert back["patch_evaluation"]["rows"] == 3
    assert len(back["stitched_extras"]["registration_shift_yx"]) == 2
    assert not set(back["stitched_extras"]) & set(back["stitched"])


def test_non_finite_values_and_missing_curves_become_null() -> None:
    blank = eval_reconstruction(np.ones((30, 30), np.complex64), np.zeros((30, 30), np.complex64))  # all-zero target
    assert blank["frc"] == (None, None)
    back = json.loads(json.dumps(metrics_sections(blank), allow_nan=False))
    assert back["stitched"]["frc"] == [None, None] and back["stitched"]["frc50"] == [None, None]
    assert back["stitched"]["ssim"][0] is None  # data range 0: NaN in PtychoPINN too


def test_frc_plot_is_written_atomically(tmp_path) -> None:
    pred, gt = objects()
    m = eval_reconstruction(pred, gt)
    target = tmp_path / "plots" / "frc.png"
    write_frc_plot(target, m, extra_metrics(pred, gt))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    write_frc_plot(target, m)
    assert sorted(p.name for p in target.parent.iterdir()) == ["frc.png"]
