"""The lines objects, the dummy phase and the patch normaliser, against direct oracles."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.draw import line

from ptychostitch.geometry import GridLayout
from ptychostitch.simulate.objects import dummy_phase, lines_object
from ptychostitch.simulate.patches import extract, row_maxima
from ptychostitch.simulate.split import make_split


def legacy_lines_objects(seed: int, size: int, count: int) -> list[np.ndarray]:
    """``ptycho/diffsim.py::mk_lines_img`` as PtychoPINN runs it: global RNG, scalar draws, 3-channel filter, crop."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        out = []
        for _ in range(count):
            canvas = 2 * size
            img = np.zeros((canvas, canvas, 3))
            for _ in range(400):
                r0, c0, r1, c1 = (int(canvas * np.random.uniform()) for _ in range(4))
                rr, cc = line(r0, c0, r1, c1)
                img[rr, cc, :] = 1
            big = gaussian_filter(img, 1) + 2 * gaussian_filter(img, 5) + 5 * gaussian_filter(img, 10)
            out.append(big[size // 2 : -size // 2, size // 2 : -size // 2, :1][..., 0])
        return out
    finally:
        np.random.set_state(saved)


def test_lines_objects_match_legacy_global_rng_recipe_bit_for_bit() -> None:
    for size in (48, 51):
        expected = legacy_lines_objects(2, size, 2)
        rng = np.random.RandomState(2)
        for want in expected:
            got = lines_object(rng, size)
            assert got.shape == (size, size) and got.dtype == np.float64
            np.testing.assert_array_equal(got, want)


def test_split_objects_do_not_depend_on_patch_geometry() -> None:
    quiet = lambda it, total, desc, unit: it  # noqa: E731
    a = make_split(GridLayout(size=64, N=16, gridsize=1, offset=4, outer_offset=8, nimgs=2),
                   object_seed=1, set_phi=False, progress=quiet, label="a")
    b = make_split(GridLayout(size=64, N=32, gridsize=2, offset=4, outer_offset=20, nimgs=2),
                   object_seed=1, set_phi=False, progress=quiet, label="b")
    np.testing.assert_array_equal(a.amplitude, b.amplitude)
    assert not np.array_equal(a.amplitude[0], a.amplitude[1])
    assert a.phase is None


def test_dummy_phase_uses_whole_split_statistics() -> None:
    rng = np.random.RandomState(5)
    stack = np.stack([lines_object(rng, 40), 3 * lines_object(rng, 40)])
    phase = dummy_phase(stack)
    assert phase.dtype == np.float32 and phase.shape == stack.shape
    alone = dummy_phase(stack[:1])[0]
    assert not np.allclose(phase[0], alone)  # per-object statistics would differ
    top = stack.argmax()
    assert phase.flat[top] == np.float32(np.pi * np.tanh(stack.max() / 2 / (3 * stack.mean())))
    assert np.all(np.abs(phase) < np.pi)


def test_row_maxima_equal_brute_force_patch_maxima() -> None:
    rng = np.random.default_rng(0)
    obj = rng.random((70, 70))
    for gridsize, outer in ((1, 8), (2, 20), (3, 6)):
        layout = GridLayout(size=70, N=16, gridsize=gridsize, offset=4, outer_offset=outer, nimgs=1)
        rows = np.arange(layout.n_rows)
        brute = extract(obj[None], layout, rows).max(axis=(1, 2, 3))
        np.testing.assert_array_equal(row_maxima(obj, layout), brute)
        # and extract itself cuts at (s*r + offset*i, s*c + offset*j)
        r, c = divmod(int(rows[-1]), layout.m)
        i, j = gridsize - 1, gridsize - 1
        y, x = layout.stride * r + 4 * i, layout.stride * c + 4 * j
        np.testing.assert_array_equal(extract(obj[None], layout, rows[-1:])[0, -1], obj[y : y + 16, x : x + 16])
