"""The run's temporary reassembly NPZ: the test diffraction as one memory-mappable stack.

The file and its schema follow the design of PtychoPINN's torch grid-lines runner
(``scripts/studies/grid_lines_torch_runner.py``), which writes such a single-file dataset for its
memory-mapped torch reassembly (``ptycho_torch/workflows/components.py::_reassemble_cdi_image_torch_mmap``).
``OUTPUT/tmp/torch_reassembly/reassembly_test.npz`` holds (``docs/data.md#the-reassembly-file``):

``diffraction`` : (n, N, N) float32
    Every test pattern, channels flattened into rows (pattern ``row * C + ch``), STORED so it
    can be memory-mapped.
``xcoords``, ``ycoords`` : (n,) float64
    The pattern's true position (column, row) in pixels of the ground-truth crop of its own
    object (:mod:`ptychostitch.geometry`). PtychoPINN's design derives these from
    ``coords_nominal``, which is all zeros for gridsize-1 grid-lines data; these are the real
    positions.
``probeGuess`` : (N, N) complex64
``objectGuess`` : (H, W) complex64
    The ground truth, so that ``xcoords``/``ycoords`` and ``objectGuess`` share one frame
    (PtychoPINN's design prefers ``YY_full``, whose frame differs by the crop origin).

The runner writes it once, streaming, then reads it memory-mapped so that diffraction flows
batch by batch through the model into the stitcher.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import numpy as np

from ptychostitch.atomic import atomic_path
from ptychostitch.data import GridLinesDataset
from ptychostitch.data.npz import open_npz
from ptychostitch.data.npz_writer import NpzStreamWriter
from ptychostitch.data.streamed import iter_row_batches

log = logging.getLogger(__name__)

RELATIVE_PATH = Path("tmp") / "torch_reassembly" / "reassembly_test.npz"
"""Where the file lives under the output directory."""


def write_reassembly(dataset: GridLinesDataset, path: Path, batch_rows: int = 512) -> Path:
    """Write ``dataset``'s diffraction, positions, probe and ground truth to ``path``.

    Parameters
    ----------
    dataset : GridLinesDataset
        The test split; its positions must be known.
    path : Path
        The file to write (atomically).
    batch_rows : int
        Rows copied at a time; memory stays at one batch.
    """
    assert dataset.positions is not None, "the reassembly file needs known positions"
    n_rows, n, channels = dataset.n_rows, dataset.N, dataset.channels
    positions = dataset.positions.reshape(n_rows * channels, 2)
    truth = dataset.YY_ground_truth if dataset.YY_ground_truth is not None else np.zeros((0, 0), np.complex64)
    probe = dataset.probeGuess if dataset.probeGuess is not None else np.zeros((n, n), np.complex64)

    def chunks() -> Iterator[np.ndarray]:
        for _, rows in iter_row_batches(dataset.diffraction, batch_rows):
            yield np.ascontiguousarray(np.moveaxis(np.asarray(rows, np.float32), -1, 1)).reshape(-1, n, n)

    with atomic_path(path) as tmp, NpzStreamWriter(tmp) as writer:
        writer.write_chunks("diffraction", (n_rows * channels, n, n), np.dtype(np.float32), chunks())
        writer.write_array("xcoords", positions[:, 1].astype(np.float64))
        writer.write_array("ycoords", positions[:, 0].astype(np.float64))
        writer.write_array("probeGuess", probe.astype(np.complex64))
        writer.write_array("objectGuess", truth.astype(np.complex64))
    log.info("wrote the reassembly file %s (%d patterns)", path, n_rows * channels)
    return path


def mapped_diffraction(path: Path, channels: int) -> np.ndarray:
    """The reassembly file's diffraction as a memory-mapped ``(rows, N, N, C)`` view.

    Nothing is read until a row slice is used.
    """
    flat = open_npz(path).array("diffraction")
    n = flat.shape[-1]
    return np.moveaxis(flat.reshape(-1, channels, n, n), 1, -1)
