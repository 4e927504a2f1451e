"""What frc.png and coverage.png show: never-crossed cut-offs labelled, Nyquist labelled, legends off the curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from ptychostitch.metrics import eval_reconstruction, extra_metrics
from ptychostitch.runner.figures import frc_figure, write_coverage_plot


def pair(noise: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    truth = ((1 + rng.uniform(size=(48, 48))) * np.exp(1j * rng.uniform(-1, 1, size=(48, 48)))).astype(np.complex64)
    pred = truth * np.exp(1j * rng.normal(scale=noise, size=truth.shape)) * (1 + noise * rng.uniform(-1, 1, size=truth.shape))
    return pred.astype(np.complex64), truth


def vertical_lines(ax) -> list[float]:  # noqa: ANN001
    return [float(line.get_xdata()[0]) for line in ax.lines if len(set(np.ravel(line.get_xdata()))) == 1]


def drawn(pred: np.ndarray, truth: np.ndarray):  # noqa: ANN201
    metrics = eval_reconstruction(pred, truth)
    fig = frc_figure(metrics, extra_metrics(pred, truth))
    FigureCanvasAgg(fig).draw()
    return metrics, fig


def test_never_crossed_cut_offs_are_labelled_and_get_no_line() -> None:
    metrics, fig = drawn(*pair(0.0))
    nyquist = min(metrics.evaluated_shape) // 2
    for ax in fig.axes[:2]:
        labels = [text.get_text() for text in ax.get_legend().get_texts()]
        assert any(label.startswith("frc50: not crossed") for label in labels)
        assert any(label.startswith("frc1over7: not crossed") for label in labels)
        assert f"Nyquist (ring {nyquist})" in labels
        assert vertical_lines(ax) == [nyquist]
        assert any(text.get_text().strip() == "Nyquist" for text in ax.texts)


def test_crossed_cut_offs_get_a_line_at_their_value() -> None:
    metrics, fig = drawn(*pair(1.5))
    for part, ax in enumerate(fig.axes[:2]):
        assert metrics.frc_crossed["frc50"][part]
        assert any(abs(x - metrics["frc50"][part]) < 1e-9 for x in vertical_lines(ax))
        assert any(text.get_text() == f"frc50 = {metrics['frc50'][part]:.2f}" for text in ax.get_legend().get_texts())


def test_each_legend_sits_off_its_panel() -> None:
    _, fig = drawn(*pair(0.5))
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes[:2]:
        legend = ax.get_legend().get_window_extent(renderer)
        panel = ax.get_window_extent(renderer)
        assert legend.y1 <= panel.y0  # entirely below the plotting area


def test_coverage_png_is_written(tmp_path: Path) -> None:
    coverage = np.ones((20, 30), np.float32)
    coverage[5:8, 10:12] = 0
    write_coverage_plot(tmp_path / "coverage.png", coverage, (8, 20, 0, 30))
    write_coverage_plot(tmp_path / "no-window.png", coverage)
    for name in ("coverage.png", "no-window.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coverage.png", "no-window.png"]
