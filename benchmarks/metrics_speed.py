"""Time ``ptychostitch.metrics.eval_reconstruction`` against PtychoPINN's way of computing the same numbers.

The baseline below re-implements PtychoPINN's ``ptycho/evaluation.py::eval_reconstruction`` as
``docs/metrics.md`` describes it: plane removal with ``numpy.linalg.lstsq``, and the FRC with
``fftshift(fft2(.))`` and ``spinavej``, which averages each ring with its own ``np.where`` mask and
a Python ``sum``. Both run on the same 330 x 330 pair in the same process; the script checks that
every number agrees and prints the median times and their ratio. Agreement is shown against the
literal baseline (under NumPy >= 2 its amplitude FFT runs in complex64, so amplitude FRC values
differ in about the fifth digit) and against the same baseline with float64 FFTs (NumPy 1.x
behaviour, which ptychostitch follows).

    python benchmarks/metrics_speed.py [--size 330] [--repeats 9]

The target is ours <= 0.12 s and at least 3x faster than the baseline. The CPU may be shared, so
the median of several repeats is reported together with the spread. Results:
``docs/performance.md#metrics``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from ptychostitch.metrics import eval_reconstruction


def _spinavej(x: np.ndarray) -> np.ndarray:
    """PtychoPINN's ring average: one ``np.where`` mask per ring, summed with Python's ``sum``."""
    nr, nc = x.shape
    r = np.arange(nr) - np.floor(nr / 2)
    c = np.arange(nc) - np.floor(nc / 2)
    rr, cc = np.meshgrid(r, c)
    index = np.round(np.sqrt(rr**2 + cc**2)) + 1
    n_rings = int(np.max(index))
    output = np.zeros(n_rings, dtype=complex)
    for i in range(n_rings):
        ring = np.where(index == i + 1)
        output[i] = sum(x[ring]) / len(ring[0])
    return output


def _fsc(i1: np.ndarray, i2: np.ndarray, float64: bool) -> np.ndarray:
    if float64:
        i1, i2 = i1.astype(np.float64), i2.astype(np.float64)
    f1 = np.fft.fftshift(np.fft.fft2(i1))
    f2 = np.fft.fftshift(np.fft.fft2(i2))
    c = _spinavej(f1 * np.conj(f2))
    c1 = _spinavej(f1 * np.conj(f1))
    c2 = _spinavej(f2 * np.conj(f2))
    return np.abs(c) / np.sqrt(np.abs(c1 * c2))


def _first_below(curve: np.ndarray, threshold: float) -> float:
    for i, value in enumerate(curve):
        if np.isfinite(value) and value < threshold:
            if i == 0:
                return 0.0
            return float(np.clip((i - 1) + (threshold - curve[i - 1]) / (value - curve[i - 1]), i - 1, i))
    return float(len(curve))


def _ms_ssim(img1: np.ndarray, img2: np.ndarray, sigma: float = 0.0) -> float:
    """PtychoPINN's ms_ssim loop: full SSIM per level, [::2, ::2] decimation, stop below 7 px."""
    weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    if sigma > 0:
        img1, img2 = gaussian_filter(img1, sigma), gaussian_filter(img2, sigma)
    data_range = max(img1.max() - img1.min(), img2.max() - img2.min())
    value = 1.0
    for level in range(5):
        s = structural_similarity(img1, img2, data_range=data_range)
        if np.isnan(s):
            return 0.0
        value *= max(s, 0.0001) ** weights[level]
        if level < 4:
            img1, img2 = img1[::2, ::2], img2[::2, ::2]
            if min(img1.shape) < 7:
                break
    return value


def _plane_removed(phase: np.ndarray) -> np.ndarray:
    h, w = phase.shape
    y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    design = np.column_stack([x.flatten(), y.flatten(), np.ones(x.size)])
    coeffs = np.linalg.lstsq(design, phase.flatten(), rcond=None)[0]
    return phase - (coeffs[0] * x + coeffs[1] * y + coeffs[2])


def _psnr(t: np.ndarray, p: np.ndarray) -> float:
    t64, p64 = t.astype(np.float32).astype(np.float64), p.astype(np.float32).astype(np.float64)
    return 20 * math.log10(255.0 / (math.sqrt(np.sum((t64 - p64) ** 2) / t64.size) + sys.float_info.epsilon))


def baseline_eval(stitched: np.ndarray, ground_truth: np.ndarray, fft_float64: bool = False) -> dict[str, Any]:
    """PtychoPINN's eval_reconstruction (defaults: offset 4, plane alignment, ms_ssim_sigma 1).

    ``fft_float64`` casts the FRC inputs to float64 first, which is what ``numpy.fft`` did with
    PtychoPINN's float32 amplitudes under NumPy 1.x; NumPy >= 2 transforms them in complex64.
    """
    gt, pred = ground_truth[2:-2, 2:-2], stitched[2:-2, 2:-2]
    a_t = np.abs(gt).astype(np.float32)
    a_p = np.abs(pred)
    a_p = a_p * (np.mean(a_t) / np.mean(a_p))
    p_t, p_p = _plane_removed(np.angle(gt)), _plane_removed(np.angle(pred))
    s_t, s_p = (p_t + np.pi) / (2 * np.pi), (p_p + np.pi) / (2 * np.pi)
    frc_a, frc_p = _fsc(a_t, a_p, fft_float64), _fsc(p_t, p_p, fft_float64)
    return {
        "mae": (np.mean(np.abs(a_t - a_p)), np.mean(np.abs(p_t - p_p))),
        "mse": (np.mean((a_t - a_p) ** 2), np.mean((p_t - p_p) ** 2)),
        "psnr": (_psnr(a_t, a_p), _psnr(p_t, p_p)),
        "ssim": (
            structural_similarity(a_t, a_p, data_range=float(np.max(a_t) - np.min(a_t))),
            structural_similarity(s_t, s_p, data_range=1.0),
        ),
        "ms_ssim": (_ms_ssim(a_t, a_p, sigma=1.0), _ms_ssim(s_t, s_p)),
        "frc50": (_first_below(frc_a, 0.5), _first_below(frc_p, 0.5)),
        "frc1over7": (_first_below(frc_a, 1 / 7), _first_below(frc_p, 1 / 7)),
        "frc": (frc_a, frc_p),
    }


def _pair(size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    amp = 0.5 + gaussian_filter(rng.random((size, size)), 3)
    phase = 3 * (gaussian_filter(rng.random((size, size)), 4) - 0.5) + 0.01 * np.arange(size)[None, :]
    gt = (amp * np.exp(1j * phase)).astype(np.complex64)
    noise = 0.05 * (rng.standard_normal(gt.shape) + 1j * rng.standard_normal(gt.shape))
    return (1.7 * gt + noise).astype(np.complex64), gt


def _times(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=330, help="side of the square pair in pixels")
    parser.add_argument("--repeats", type=int, default=9, help="timed repeats of each (median reported)")
    args = parser.parse_args()
    stitched, gt = _pair(args.size)

    ours = eval_reconstruction(stitched, gt[..., None])
    baselines = {"literal": baseline_eval(stitched, gt), "float64 FFT": baseline_eval(stitched, gt, fft_float64=True)}
    worst = {}
    print(f"{'key':10s} {'part':6s} {'ours':>18s} {'baseline':>18s}   max relative difference: " + ", ".join(baselines))
    for key in ours:
        for part, name in ((0, "amp"), (1, "phase")):
            a = np.asarray(ours[key][part], dtype=np.float64)
            diffs = []
            for label, base in baselines.items():
                b = np.asarray(base[key][part], dtype=np.float64)
                diff = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
                worst[label] = max(worst.get(label, 0.0), diff)
                diffs.append(f"{diff:.1e}")
            b0 = np.asarray(baselines["literal"][key][part], dtype=np.float64)
            shown = "curve" if a.ndim else ""
            print(f"{key:10s} {name:6s} {float(np.ravel(a)[-1 if a.ndim else 0]):18.10g} "
                  f"{float(np.ravel(b0)[-1 if a.ndim else 0]):18.10g}   {', '.join(diffs)} {shown}")
    print("worst relative difference: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()) + f" (NumPy {np.__version__})")

    t_ours = _times(lambda: eval_reconstruction(stitched, gt), args.repeats)
    t_base = _times(lambda: baseline_eval(stitched, gt), args.repeats)
    m_ours, m_base = statistics.median(t_ours), statistics.median(t_base)
    print(f"pair {args.size}x{args.size}, {args.repeats} repeats, load average {os.getloadavg()[0]:.2f}")
    print(f"ours      median {m_ours:.4f} s (min {min(t_ours):.4f}, max {max(t_ours):.4f})")
    print(f"baseline  median {m_base:.4f} s (min {min(t_base):.4f}, max {max(t_base):.4f})")
    print(f"speed-up  {m_base / m_ours:.2f}x (target: ours <= 0.12 s and >= 3x)")
    return 0 if worst["float64 FFT"] < 1e-9 and worst["literal"] < 1e-3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
