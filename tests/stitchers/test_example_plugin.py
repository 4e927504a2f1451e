"""The example third-party plugin ``examples/ptychostitch-median``, installed as a user would.

It must be installed (``pip install -e ./examples/ptychostitch-median``); these tests then see
it only through its entry point, like any third-party plugin.
"""

from __future__ import annotations

import json

import numpy as np

from ptychostitch.plugins import ALLOW_ENV
from ptychostitch.stitchers import select
from ptychostitch.stitchers.registry import Registry
from ptychostitch.testing import check_stitcher, grid_case, scattered_case


def test_found_through_its_entry_point_with_its_distribution() -> None:
    found = Registry.load(environ={}).stitchers["median"]
    assert (found.distribution, found.entry_point) == ("ptychostitch-median", "median")
    assert found.stitcher.priority < 10  # below tf-style: auto prefers tf-style wherever it can run


def test_listed_by_the_stitchers_command(run_cli, fresh_registry) -> None:  # noqa: ANN001
    status, out, _ = run_cli("stitchers", "--json")
    assert status == 0
    rows = {row["name"]: row for row in json.loads(out)["stitchers"]}
    assert rows["median"] == {"name": "median", "distribution": "ptychostitch-median", "entry_point": "median", "priority": 5}
    status, out, _ = run_cli("stitchers")
    assert status == 0 and any("median" in line and "ptychostitch-median" in line for line in out.splitlines())


def test_selectable_by_name_and_passes_check_stitcher() -> None:
    case = scattered_case(1)
    choice = select(case.context, "median", registry=Registry.load(environ={}))
    assert choice.stitcher.name == "median" and not choice.fallback
    check_stitcher(choice.stitcher)


def test_robust_to_an_outlier_patch_where_the_mean_is_not() -> None:
    case = grid_case(1)
    ctx = case.context
    stitcher = Registry.load(environ={}).stitchers["median"].stitcher
    patches = case.patches.copy()
    bad = ctx.frame_rows.start + len(ctx.frame_rows) // 2  # the middle patch, deep inside the overlaps
    patches[bad] += 10.0
    corners = np.rint(ctx.positions[ctx.frame_rows.start : ctx.frame_rows.stop, 0] - (ctx.N - 1) / 2).astype(int)
    depth = np.zeros(ctx.frame_shape, int)
    total = np.zeros(ctx.frame_shape, complex)
    for k, (y, x) in enumerate(corners):  # the uniform mean, computed independently
        rows, cols = np.arange(y, y + ctx.N), np.arange(x, x + ctx.N)
        keep_r, keep_c = (rows >= 0) & (rows < ctx.frame_shape[0]), (cols >= 0) & (cols < ctx.frame_shape[1])
        depth[np.ix_(rows[keep_r], cols[keep_c])] += 1
        total[np.ix_(rows[keep_r], cols[keep_c])] += patches[ctx.frame_rows.start + k][np.ix_(keep_r, keep_c)][..., 0]
    y, x = corners[bad - ctx.frame_rows.start]
    hit = np.zeros(ctx.frame_shape, bool)
    hit[y : y + ctx.N, x : x + ctx.N] = True
    robust = hit & (depth >= 3)
    assert robust.sum() > 100
    mean = np.where(depth > 0, total / np.maximum(depth, 1), 0) * ctx.norm_Y_I
    assert np.abs(mean[robust] - case.truth[robust]).min() > 1.0  # every such pixel is spoiled by the mean
    result = stitcher.stitch(ctx, case.batches(patches))
    np.testing.assert_allclose(result.object[robust], case.truth[robust], rtol=1e-5, atol=1e-6)


def test_auto_prefers_tf_style_and_falls_back_to_median_on_a_scattered_scan() -> None:
    reg = Registry.load(environ={ALLOW_ENV: "tf-style,median"})
    assert select(grid_case(1).context, registry=reg).stitcher.name == "tf-style"
    choice = select(scattered_case(1).context, registry=reg)
    assert choice.stitcher.name == "median" and choice.fallback
    assert "regular-grid layout" in choice.rejected["tf-style"]
