"""Every position stitcher keeps one crop window: PtychoPINN's start index ``N//2 - M//2``, ``M`` pixels, where they land.

Patches disagree where they overlap (pixel ``(a, b)`` of patch ``p`` carries a value that
depends on ``p`` and on ``(a, b)``), so a stitcher keeping another window gives another object.
The expected object comes from a direct NumPy loop over the kept windows at whole-pixel
positions: their mean for torch-mmap (compiled and NumPy kernels) and tf-shift-sum, their
marginal median for the example plugin ``median``. Odd and even crops, odd and even ``N``.
"""

from __future__ import annotations

import numpy as np
import pytest

from ptychostitch.stitchers import PatchBatch, StitchContext, StitchOptions, select
from ptychostitch.stitchers.registry import Registry
from ptychostitch.stitchers.torch_mmap import kernels

REGISTRY = Registry.load(environ={})
FRAME = (30, 34)
ROWS = 14


def dataset(n: int, crop: int | None, gridsize: int) -> tuple[StitchContext, np.ndarray]:
    """Whole-pixel top-left corners reaching past every frame edge; rows 0 and ROWS-1 outside frame_rows."""
    rng = np.random.default_rng(n * 100 + (crop or 0) + gridsize)
    channels = gridsize**2
    corners = rng.integers(-n // 2, np.array(FRAME) - n // 2, size=(ROWS, channels, 2))
    p = np.arange(ROWS * channels).reshape(ROWS, 1, 1, channels)
    a, b = np.arange(n).reshape(1, n, 1, 1), np.arange(n).reshape(1, 1, n, 1)
    patches = ((1.0 + 0.1 * p + 0.01 * a) + 1j * (0.5 + 0.013 * b - 0.02 * p)).astype(np.complex64)
    patches[[0, ROWS - 1]] = 50.0  # outside frame_rows: must never show
    context = StitchContext(
        N=n, gridsize=gridsize, n_rows=ROWS, frame_shape=FRAME, frame_rows=range(1, ROWS - 1),
        positions=corners + (n - 1) / 2.0, norm_Y_I=1.5, options=StitchOptions(crop=crop),
    )  # fmt: skip
    return context, patches


def kept_windows(context: StitchContext, patches: np.ndarray, start: int) -> np.ndarray:
    """Values landing on each frame pixel, shape (depth, H, W), NaN beyond each pixel's count."""
    n = context.N
    m = context.options.crop or n
    layers: list[np.ndarray] = []
    depth = np.zeros(FRAME, int)
    for row in context.frame_rows:
        for c in range(context.channels):
            y0, x0 = (np.rint(context.positions[row, c] - (n - 1) / 2.0).astype(int) + start)
            for a in range(m):
                for b in range(m):
                    y, x = y0 + a, x0 + b
                    if 0 <= y < FRAME[0] and 0 <= x < FRAME[1]:
                        if depth[y, x] == len(layers):
                            layers.append(np.full(FRAME, complex(np.nan, np.nan)))
                        layers[depth[y, x]][y, x] = patches[row, start + a, start + b, c]
                        depth[y, x] += 1
    return np.stack(layers)


def combine(values: np.ndarray, how: str) -> np.ndarray:
    covered = ~np.isnan(values[0])
    if how == "median":
        out = np.nanmedian(values.real, axis=0) + 1j * np.nanmedian(values.imag, axis=0)
    else:
        out = np.nanmean(values, axis=0)
    return np.where(covered, out, 0)


CASES = [(16, None), (16, 7), (16, 10), (16, 1), (15, None), (15, 8), (15, 7), (15, 15)]


@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning", "ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.parametrize("gridsize", [1, 2])
@pytest.mark.parametrize("n,crop", CASES, ids=[f"N{n}-crop{c}" for n, c in CASES])
@pytest.mark.parametrize("name", ["torch-mmap", "torch-mmap/numpy", "tf-shift-sum", "median"])
def test_every_position_stitcher_averages_the_same_kept_windows(
    name: str, n: int, crop: int | None, gridsize: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, patches = dataset(n, crop, gridsize)
    if name == "torch-mmap/numpy":
        monkeypatch.setattr(kernels, "compiled_kernels", lambda: None)
    stitcher = select(context, name.split("/")[0], registry=REGISTRY).stitcher
    batches = [PatchBatch(k, patches[k : k + 3]) for k in range(0, ROWS, 3)]
    result = stitcher.stitch(context, batches)
    how = "median" if name == "median" else "mean"
    m = crop or n
    values = kept_windows(context, patches, n // 2 - m // 2)
    expected = combine(values, how) * context.norm_Y_I
    count = (~np.isnan(values)).sum(axis=0)
    assert count.max() >= (3 if m >= 7 else 1)  # overlaps deep enough for mean and median to differ
    np.testing.assert_array_equal(result.coverage > 0, count > 0)
    if how == "mean":
        np.testing.assert_allclose(result.coverage, count, rtol=1e-6)
    np.testing.assert_allclose(result.object, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.parametrize("n,crop", [(16, 7), (15, 8)])
def test_another_window_gives_another_object(n: int, crop: int) -> None:
    """The check bites: where N - M is odd, the other candidate starts give other objects."""
    context, patches = dataset(n, crop, 1)
    ours = combine(kept_windows(context, patches, n // 2 - crop // 2), "mean")
    for start in {(n - crop) // 2, (n - crop + 1) // 2} - {n // 2 - crop // 2}:
        other = combine(kept_windows(context, patches, start), "mean")
        assert np.abs(other - ours).max() > 1e-3
