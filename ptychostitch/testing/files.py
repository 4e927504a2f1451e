"""Tiny, schema-correct grid-lines NPZ files for tests, cut from a known smooth complex object.

The geometry here is written out independently of :mod:`ptychostitch.geometry`, straight from
PtychoPINN's grid-lines geometry as ``docs/geometry.md`` states it (window top-lefts
``(s*r + offset*i, s*c + offset*j)``, object-major rows, ``coords_offsets`` = top-left +
``(N-1)/2`` in ``(y, x)`` order with position-major rows, ground truth cropped as
``ptycho/data_preprocessing.py::get_clip_sizes`` does), so tests that compare the package
against these files compare two implementations.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.ndimage import gaussian_filter

from ptychostitch.geometry import crop_window

CoordsOrder = Literal["position-major", "object-major"]


def smooth_object(size: int, seed: int) -> np.ndarray:
    """A smooth complex object, amplitude in about [0.5, 1.5], phase in about [-1.5, 1.5] rad."""
    rng = np.random.default_rng(seed)
    amp = 0.5 + gaussian_filter(rng.random((size, size)), 3)
    phase = 3 * (gaussian_filter(rng.random((size, size)), 4) - 0.5)
    return (amp * np.exp(1j * phase)).astype(np.complex64)


def cut_grid_patches(objects: np.ndarray, *, N: int, gridsize: int, offset: int, outer_offset: int) -> tuple[np.ndarray, np.ndarray]:
    """True grid-lines patches of ``objects`` (nimgs, size, size), in PtychoPINN's row order.

    Returns the patches (rows, N, N, gridsize**2) complex64 and their top-left pixels
    (rows, gridsize**2, 2) int64, ``(y, x)``. Rows are object-major, then window row, window
    column; channel ``i*g + j`` is the window's top-left plus ``offset * (i, j)``.
    """
    g, s = gridsize, outer_offset // 2
    size = objects.shape[-1]
    m = (size - N - (g - 1) * offset) // s + 1
    rows = len(objects) * m * m
    patches = np.zeros((rows, N, N, g * g), np.complex64)
    top_left = np.zeros((rows, g * g, 2), np.int64)
    k = 0
    for obj in objects:
        for r in range(m):
            for c in range(m):
                for i in range(g):
                    for j in range(g):
                        y, x = s * r + offset * i, s * c + offset * j
                        patches[k, :, :, i * g + j] = obj[y : y + N, x : x + N]
                        top_left[k, i * g + j] = (y, x)
                k += 1
    return patches, top_left


def grid_patches(objects: np.ndarray, grid: Any) -> np.ndarray:
    """:func:`cut_grid_patches` with the parameters read off a ``GridLayout`` (patches only)."""
    return cut_grid_patches(objects, N=grid.N, gridsize=grid.gridsize, offset=grid.offset, outer_offset=grid.outer_offset)[0]


def gaussian_probe(n: int) -> np.ndarray:
    """A smooth complex probe, shape (n, n), complex64."""
    r2 = (np.arange(n)[:, None] - (n - 1) / 2) ** 2 + (np.arange(n)[None, :] - (n - 1) / 2) ** 2
    return (np.exp(-r2 / (2 * (n / 4) ** 2)) * np.exp(0.01j * r2)).astype(np.complex64)


@dataclass
class GridFile:
    """A written grid-lines test file and the truths it was built from.

    Attributes
    ----------
    arrays : dict of str to ndarray
        What was written (modify and rewrite with :func:`write_npz` to corrupt a file).
    true_patches : ndarray, shape (B, N, N, C), complex64
        Exact patches in model units (object / norm_Y_I), test-row order.
    top_left : ndarray, shape (B, C, 2), int
        Object-frame ``(y, x)`` of each patch's pixel (0, 0), object-major rows.
    ground_truth : ndarray, shape (H, W), complex64
    gt_origin : int
        Object pixel that is ground-truth pixel (0, 0).
    """

    path: Path
    N: int
    gridsize: int
    arrays: dict[str, Any]
    true_patches: np.ndarray
    top_left: np.ndarray
    ground_truth: np.ndarray
    gt_origin: int
    norm: float
    metadata: dict[str, Any] = field(default_factory=dict)


def zero_border(patches: np.ndarray) -> np.ndarray:
    """``patches`` (b, N, N, C) with every pixel outside the central N//2 window set to 0: what a PtychoPINN-style decoder outputs at best."""
    n = patches.shape[1]
    start, side = crop_window(n, n // 2)
    kept = np.zeros_like(patches)
    kept[:, start : start + side, start : start + side] = patches[:, start : start + side, start : start + side]
    return kept


def write_npz(path: Path, arrays: dict[str, Any], *, compressed: bool = False) -> Path:
    """Write ``arrays`` with numpy's own writer (object arrays are pickled, as PtychoPINN's are)."""
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def write_predictions(path: Path, patches: np.ndarray, *, compressed: bool = False) -> Path:
    """A ``PRED.npz`` holding ``patches``."""
    return write_npz(path, {"patches": patches}, compressed=compressed)


def grid_metadata(*, N: int, gridsize: int, size: int, offset: int, outer_offset: int, nimgs: int, **extra: Any) -> dict[str, Any]:
    """Metadata in the layout of PtychoPINN's ``ptycho/metadata.py::MetadataManager`` (``docs/simulate.md#_metadata``)."""
    return {
        "schema_version": "1.0.0",
        "creation_info": {"script": "ptychostitch/testing/files.py"},
        "physics_parameters": {"nphotons": 1e9, "gridsize": gridsize, "N": N},
        "additional_parameters": {
            "size": size, "offset": offset, "outer_offset_train": outer_offset, "outer_offset_test": outer_offset,
            "nimgs_train": nimgs, "nimgs_test": nimgs, "set_phi": True, "coords_type": "relative", **extra,
        },
    }


def write_grid_file(
    path: Path,
    *,
    N: int = 16,
    gridsize: int = 1,
    size: int = 64,
    offset: int = 4,
    outer_offset: int = 8,
    nimgs: int = 2,
    coords_offsets: CoordsOrder | None = "position-major",
    record_order: bool = False,
    metadata: Literal["json", "pickled"] | None = "json",
    compressed: bool = False,
    seed: int = 0,
) -> GridFile:
    """Write a grid-lines test split cut from ``nimgs`` smooth objects.

    ``coords_offsets`` chooses the row order of that key (or leaves it out); ``record_order``
    writes ``coords_offsets_order`` into the metadata, as ptychostitch's simulator does.
    ``metadata="json"`` stores a 0-d unicode string, ``"pickled"`` PtychoPINN's pickled 0-d
    object array.
    """
    g, s = gridsize, outer_offset // 2
    big_n = N + (g - 1) * offset
    m = (size - big_n) // s + 1
    objects = np.stack([smooth_object(size, seed + k) for k in range(nimgs)])
    probe = gaussian_probe(N)
    rows = nimgs * m * m
    raw, top_left = cut_grid_patches(objects, N=N, gridsize=g, offset=offset, outer_offset=outer_offset)
    norm = float(np.mean(np.abs(raw).max(axis=(1, 2, 3))))
    patches = raw / np.float32(norm)
    p_sim = (probe * np.float32(0.5)).astype(np.complex64)
    illuminated = patches * p_sim[None, :, :, None]
    diffraction = np.abs(np.fft.fftshift(np.fft.fft2(illuminated, axes=(1, 2), norm="ortho"), axes=(1, 2)))

    rel = np.zeros((rows, 1, 2, g * g), np.float32)
    i, j = np.divmod(np.arange(g * g), g)
    rel[:, 0, 0, :] = (g - 1) * offset / 2 - offset * j
    rel[:, 0, 1, :] = (g - 1) * offset / 2 - offset * i

    border = (N - outer_offset / 2) / 2
    clip = border + ((g - 1) * offset) // 2
    left, right = math.ceil(clip), math.floor(clip)
    extra = (size - big_n) % s
    truth = objects[0, left : size - extra - right, left : size - extra - right]

    meta = grid_metadata(N=N, gridsize=g, size=size, offset=offset, outer_offset=outer_offset, nimgs=nimgs)
    if record_order and coords_offsets is not None:
        meta["additional_parameters"]["coords_offsets_order"] = coords_offsets
    arrays: dict[str, Any] = {
        "diffraction": diffraction.astype(np.float32),
        "Y_I": (np.abs(patches) * np.abs(p_sim)[None, :, :, None]).astype(np.float32),
        "Y_phi": np.angle(patches).astype(np.float32),
        "coords_nominal": rel,
        "coords_true": rel.copy(),
        "YY_full": objects[..., None],
        "YY_ground_truth": truth[..., None],
        "probeGuess": probe,
        "probe_simulated": p_sim,
        "norm_Y_I": np.array(norm, dtype=np.float64),
    }
    if coords_offsets is not None:
        centres = (top_left + (N - 1) / 2).astype(np.float32)
        if coords_offsets == "position-major":
            centres = centres.reshape(nimgs, m * m, g * g, 2).swapaxes(0, 1).reshape(rows, g * g, 2)
        arrays["coords_offsets"] = centres.transpose(0, 2, 1)[:, None]
    if metadata == "json":
        arrays["_metadata"] = np.array(json.dumps(meta, indent=2))
    elif metadata == "pickled":
        arrays["_metadata"] = np.array(json.dumps(meta, indent=2), dtype=object)
    write_npz(path, arrays, compressed=compressed)
    return GridFile(path, N, g, arrays, patches, top_left, truth, left, norm, meta)


@dataclass
class ScatteredFile:
    """A scattered single-object scan whose ``coords_offsets`` are in the frame of ``YY_full[0]``."""

    path: Path
    arrays: dict[str, Any]
    true_patches: np.ndarray
    positions: np.ndarray
    ground_truth: np.ndarray


def write_scattered_file(path: Path, *, N: int = 16, size: int = 60, count: int = 40, seed: int = 5) -> ScatteredFile:
    """Write a scan at random integer top-lefts; the ground truth is the whole object."""
    rng = np.random.default_rng(seed)
    obj = smooth_object(size, seed)
    top_left = rng.integers(0, size - N + 1, size=(count, 2))
    patches = np.stack([obj[y : y + N, x : x + N] for y, x in top_left])[..., None]
    positions = (top_left + (N - 1) / 2)[:, None, :]
    probe = gaussian_probe(N)
    zeros = np.zeros((count, 1, 2, 1), np.float32)
    arrays: dict[str, Any] = {
        "diffraction": np.abs(patches).astype(np.float32),
        "Y_I": np.abs(patches).astype(np.float32),
        "Y_phi": np.angle(patches).astype(np.float32),
        "coords_nominal": zeros,
        "coords_offsets": positions.astype(np.float32).transpose(0, 2, 1)[:, None],
        "YY_full": obj[None, :, :, None],
        "YY_ground_truth": obj[..., None],
        "probeGuess": probe,
        "norm_Y_I": np.array(1.0),
        "_metadata": np.array(json.dumps({"physics_parameters": {"N": N, "gridsize": 1}})),
    }
    write_npz(path, arrays)
    return ScatteredFile(path, arrays, patches.astype(np.complex64), positions, obj)
