"""Throughput of tf-shift-sum against PtychoPINN-style pad-to-canvas ``shift_and_sum`` (TensorFlow).

Both stitch the same patches (N=64, centre crop M=32, a square grid with a 10 px step and a
seeded subpixel jitter) onto the same canvas: PtychoPINN's own, square, centred on the scan's
centre of mass, side ``M + 2*even(ceil(max|pos - com|))``. The baseline follows
PtychoPINN's ``ptycho/tf_helper.py::reassemble_position``: a ``tf.while_loop`` over chunks of 32 crops, each zero-padded to the
whole canvas, translated with ``ImageProjectiveTransformV3`` (bilinear, zero fill) and summed.
It carries (real, imaginary, ones) as three channels of one pass, where PtychoPINN makes two
passes (object, then ones), so it is if anything favoured. The script also prints the largest
difference between the two results over pixels with coverage above 0.5.

Usage::

    python benchmarks/tf_shift_sum_throughput.py [--sides 15 44] [--repeats 2]

Times are wall-clock seconds, best of ``--repeats`` after one warm-up run (which traces).
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ptychostitch.geometry import crop_window  # noqa: E402
from ptychostitch.stitchers import PatchBatch, StitchContext, StitchOptions  # noqa: E402
from ptychostitch.stitchers.tf_shift_sum import TfShiftSumStitcher  # noqa: E402

N, M, STEP, CHUNK = 64, 32, 10, 32


def scan(side: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random complex64 patches (side**2, N, N, 1) and jittered grid positions (side**2, 1, 2)."""
    rng = np.random.default_rng(seed)
    r, c = np.divmod(np.arange(side * side), side)
    pos = np.stack([r, c], axis=-1) * float(STEP) + rng.uniform(-0.5, 0.5, (side * side, 2))
    patches = (rng.random((side * side, N, N, 1)) + 1j * rng.random((side * side, N, N, 1))).astype(np.complex64)
    return patches, pos[:, None, :]


@tf.function(reduce_retracing=True)
def shift_and_sum(crops: tf.Tensor, adj: tf.Tensor, pad: tf.Tensor) -> tf.Tensor:
    """PtychoPINN-style sum over chunks of crops (n, M, M, 3) padded to the canvas and translated by adj (n, 2) (y, x)."""
    n = tf.shape(crops)[0]
    side = M + 2 * pad

    def body(k: tf.Tensor, total: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        chunk = crops[k : k + CHUNK]
        shift = adj[k : k + CHUNK]
        padded = tf.pad(chunk, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        zeros = tf.zeros_like(shift[:, :1])
        ones = tf.ones_like(shift[:, :1])
        transforms = tf.concat([ones, zeros, -shift[:, 1:], zeros, ones, -shift[:, :1], zeros, zeros], axis=1)
        moved = tf.raw_ops.ImageProjectiveTransformV3(
            images=padded, transforms=transforms, output_shape=tf.stack([side, side]),
            fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT",
        )
        return k + CHUNK, total + tf.reduce_sum(moved, axis=0)

    _, total = tf.while_loop(lambda k, _: k < n, body, [tf.constant(0), tf.zeros(tf.stack([side, side, 3]))])
    return total


def baseline(patches: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``reassemble_position``: crop, recentre on the scan centre of mass, shift-and-sum, divide."""
    s, _ = crop_window(N, M)
    crop = patches[:, s : s + M, s : s + M, 0]
    stacked = np.stack([crop.real, crop.imag, np.ones_like(crop.real)], axis=-1).astype(np.float32)
    adj = (pos[:, 0, :] - pos[:, 0, :].mean(axis=0)).astype(np.float32)
    pad = math.ceil(float(np.abs(adj).max()))
    pad += pad % 2
    total = shift_and_sum(tf.constant(stacked), tf.constant(adj), tf.constant(pad)).numpy()
    return (total[..., 0] + 1j * total[..., 1]) / (1e-9 + total[..., 2])


def ours(patches: np.ndarray, pos: np.ndarray, canvas: int) -> tuple[np.ndarray, np.ndarray]:
    """tf-shift-sum on PtychoPINN's canvas: positions moved so the COM sits at (canvas-1)/2."""
    frame_pos = pos - pos.reshape(-1, 2).mean(axis=0) + (canvas - 1) / 2.0
    ctx = StitchContext(
        N=N, gridsize=1, n_rows=len(patches), frame_shape=(canvas, canvas),
        frame_rows=range(len(patches)), positions=frame_pos, options=StitchOptions(crop=M),
    )
    result = TfShiftSumStitcher().stitch(ctx, (PatchBatch(k, patches[k : k + 64]) for k in range(0, len(patches), 64)))
    return result.object, result.coverage


def best_time(fn, repeats: int) -> tuple[float, object]:  # noqa: ANN001
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[15, 44], help="grid side(s); patches = side**2")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"tensorflow {tf.__version__}, {os.cpu_count()} CPUs visible; N={N}, M={M}, step {STEP} px, chunk {CHUNK}")
    print(f"{'patches':>8} {'canvas':>7} {'baseline p/s':>13} {'tf-shift-sum p/s':>17} {'ratio':>7} {'max |diff|':>11}")
    for side in args.sides:
        patches, pos = scan(side, seed=side)
        t_base, ref = best_time(lambda: baseline(patches, pos), args.repeats)
        canvas = ref.shape[0]
        t_ours, (obj, cov) = best_time(lambda: ours(patches, pos, canvas), args.repeats)
        diff = float(np.abs(obj - ref)[cov > 0.5].max())
        n = len(patches)
        print(f"{n:>8} {canvas:>7} {n / t_base:>13.0f} {n / t_ours:>17.0f} {t_base / t_ours:>7.1f} {diff:>11.2e}")


if __name__ == "__main__":
    main()
