"""The grid-lines dataset: one typed, read-only view of a PtychoPINN grid-lines NPZ.

:func:`load_gridlines` validates a file against the schema of PtychoPINN's grid-lines NPZs and
returns a :class:`GridLinesDataset`. Per-patch arrays stay on disk (memory-mapped, or streamed
when compressed: see :mod:`ptychostitch.data.npz`); small arrays are read. Every patch position
is converted on load to the convention of :mod:`ptychostitch.geometry`: ``(y, x)`` in the
ground-truth frame, object-major rows.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np

from ptychostitch.data.metadata import check_metadata
from ptychostitch.data.npz import NpzArchive, open_npz
from ptychostitch.data.streamed import PatchArray
from ptychostitch.errors import InputError, quoted
from ptychostitch.geometry import GridLayout, train_row_order

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("diffraction", "Y_I", "Y_phi", "coords_nominal")
"""Keys every grid-lines file must hold (PtychoPINN's ``load_cached_dataset`` requires the same)."""

TEST_ONLY_KEYS = ("YY_ground_truth", "norm_Y_I")
"""Keys PtychoPINN writes into the test split only: a file holding one is not a train split."""

POSITION_TOLERANCE = 1e-3
"""Largest disagreement (pixels) allowed between ``coords_offsets`` and the grid metadata."""

_ORDERS = ("object-major", "position-major")


@dataclass(frozen=True, eq=False)
class GridLinesDataset:
    """One grid-lines split, validated, with positions in the ground-truth frame.

    Build it with :func:`load_gridlines`. Arrays read into memory are read-only; per-patch
    arrays are read-only memmaps or :class:`~ptychostitch.data.streamed.StreamedArray` s.

    Attributes
    ----------
    path : Path
        The NPZ file.
    diffraction, Y_I, Y_phi : PatchArray, shape (B, N, N, C), real
        Diffraction amplitudes, illuminated object amplitude and object phase of every row
        (``C = gridsize**2`` channels), never loaded whole.
    coords_nominal : PatchArray, shape (B, 1, 2, C), real
        PtychoPINN's relative offsets, ``(x, y)`` order, as stored.
    positions : ndarray, shape (B, C, 2), float64, or None
        ``(y, x)`` of every channel of every row in the ground-truth frame (rows of other
        objects: the same frame cut from their own object); None when unknown.
    grid : GridLayout or None
        The regular scan grid from the metadata, or None (scattered scan, train split, or no
        grid metadata).
    frame_rows : range
        Rows belonging to the object in the ground-truth frame (object 0).
    frame_shape : (int, int) or None
        ``(H, W)`` of the ground-truth frame; None when nothing defines it.
    YY_ground_truth : ndarray, shape (H, W), complex64, or None
        The ground truth, squeezed from PtychoPINN's ``(H, W, 1)``.
    YY_full : PatchArray, shape (n, S, S) or (n, S, S, 1), or None
        The full objects of the split as stored, never loaded whole.
    norm_Y_I : float
        Model units to ground-truth amplitude; 1.0 when the file has none.
    probeGuess : ndarray, shape (N, N), complex64, or None
        The probe as stored (not normalised); None when absent.
    probe_simulated : ndarray, shape (N, N), complex64, or None
        The normalised probe the simulator used, when stored.
    metadata : dict
        The ``_metadata`` JSON object (``{}`` when absent).
    split : {"test", "train"}
        Which split the file was loaded as.
    """

    path: Path
    diffraction: PatchArray
    Y_I: PatchArray
    Y_phi: PatchArray
    coords_nominal: PatchArray
    positions: np.ndarray | None
    grid: GridLayout | None
    frame_rows: range
    frame_shape: tuple[int, int] | None
    YY_ground_truth: np.ndarray | None
    YY_full: PatchArray | None
    norm_Y_I: float
    probeGuess: np.ndarray | None
    probe_simulated: np.ndarray | None
    metadata: dict[str, Any] = field(default_factory=dict)
    split: Literal["test", "train"] = "test"

    @property
    def N(self) -> int:
        """Patch side in pixels."""
        return int(self.diffraction.shape[1])

    @property
    def channels(self) -> int:
        """Channels per row, ``gridsize**2``."""
        return int(self.diffraction.shape[3])

    @property
    def gridsize(self) -> int:
        """Group side: each row holds ``gridsize**2`` patches."""
        return math.isqrt(self.channels)

    @property
    def n_rows(self) -> int:
        """Rows (groups) ``B`` in the split."""
        return int(self.diffraction.shape[0])


def load_gridlines(path: str | os.PathLike[str], *, split: Literal["test", "train"] = "test") -> GridLinesDataset:
    """Open a grid-lines NPZ, validate it and derive every patch position.

    Parameters
    ----------
    path : path-like
        The ``test.npz`` (or ``train.npz``) file.
    split : {"test", "train"}
        ``"test"`` derives positions from the test-split metadata and ``coords_offsets``;
        ``"train"`` derives none (PtychoPINN shuffles train rows but not their coordinates).

    Raises
    ------
    InputError
        One line naming the file, the key, what was expected and what was found; also when the
        file is the other split (see :func:`_check_split`), and before anything is read whose
        declared size the schema or the metadata does not allow.
    """
    if split not in ("test", "train"):
        raise ValueError(f"split must be 'test' or 'train', got {split!r}")
    archive = open_npz(path)
    where = archive.path
    for key in REQUIRED_KEYS:
        archive.info(key)
    diffraction = archive.info("diffraction")
    shape = diffraction.shape
    expect(
        len(shape) == 4 and shape[1] == shape[2] and shape[0] > 0 and shape[1] > 0 and _is_square(shape[3]),
        where, "diffraction", "shape (B, N, N, C) with B, N > 0 and C = gridsize**2", str(shape),
    )
    expect(diffraction.dtype.kind in "fiu", where, "diffraction", "a real array", f"dtype {diffraction.dtype}")
    n_rows, n, _, channels = shape
    gridsize = math.isqrt(channels)
    for key in ("Y_I", "Y_phi"):
        info = archive.info(key)
        expect(info.shape == shape, where, key, f"shape {shape} like diffraction", str(info.shape))
        expect(info.dtype.kind in "fiu", where, key, "a real array", f"dtype {info.dtype}")
    coords_shape = (n_rows, 1, 2, channels)
    nominal = archive.info("coords_nominal")
    expect(nominal.shape == coords_shape, where, "coords_nominal", f"shape {coords_shape}", str(nominal.shape))

    metadata = check_metadata(where, archive.metadata())
    _check_split(archive, metadata, split)
    _check_metadata_sizes(where, metadata, n, gridsize)
    probe = _read_probe(archive, "probeGuess", n)
    probe_simulated = _read_probe(archive, "probe_simulated", n)
    norm = _read_norm(archive, split)
    full = archive.array("YY_full") if "YY_full" in archive else None
    if full is not None:
        ok = full.ndim in (3, 4) and full.shape[0] > 0 and full.shape[1] == full.shape[2] and full.shape[3:] in ((), (1,))
        expect(ok, where, "YY_full", "shape (n, S, S, 1) or (n, S, S)", str(full.shape))
    grid = _grid_layout(where, metadata, n, gridsize, n_rows, full) if split == "test" else None
    truth = _read_ground_truth(archive, grid, full)

    common = dict(
        path=where, diffraction=archive.array("diffraction"), Y_I=archive.array("Y_I"), Y_phi=archive.array("Y_phi"),
        coords_nominal=archive.array("coords_nominal"), YY_ground_truth=truth, YY_full=full, norm_Y_I=norm,
        probeGuess=probe, probe_simulated=probe_simulated, metadata=metadata, split=split,
    )
    if split == "train":
        return GridLinesDataset(positions=None, grid=None, frame_rows=range(0), frame_shape=None, **common)

    origin, frame_shape = _frame(grid, truth, full)
    nimgs = grid.nimgs if grid is not None else _object_count(metadata, full, n_rows)
    expected = None
    if grid is not None:
        expected = np.tile(grid.object_positions(), (nimgs, 1, 1)) - float(origin)
    positions = expected
    if "coords_offsets" in archive:
        coords = _read_coords_offsets(archive, coords_shape)
        if origin is None:
            log.warning(
                "%s: coords_offsets ignored: expected YY_ground_truth with the shape of YY_full[0] to place a scan "
                "without grid metadata, found YY_ground_truth %s and YY_full %s",
                where, None if truth is None else truth.shape, None if full is None else full.shape,
            )
        else:
            placed = _reorder(where, coords, nimgs, _declared_order(where, metadata), expected, origin)
            positions = placed if positions is None else positions
    if positions is not None:
        positions.flags.writeable = False
    return GridLinesDataset(
        positions=positions, grid=grid, frame_rows=range(0, n_rows // nimgs), frame_shape=frame_shape, **common
    )


def expect(ok: bool, path: Path, key: str, expected: str, found: str) -> None:
    """Raise the one-line :class:`InputError` ``PATH: key K: expected E, found F`` unless ``ok``."""
    if not ok:
        raise InputError(f"{quoted(path)}: key {key!r}: expected {expected}, found {found}")


def _is_square(value: int) -> bool:
    return value > 0 and math.isqrt(value) ** 2 == value


def _check_metadata_sizes(path: Path, metadata: Mapping[str, Any], n: int, gridsize: int) -> None:
    """The metadata's ``physics_parameters.N`` and ``gridsize``, when recorded, must match the arrays."""
    physics = metadata.get("physics_parameters") or {}
    for name, actual in (("N", n), ("gridsize", gridsize)):
        recorded = physics.get(name)
        if recorded is not None and recorded != actual:
            raise InputError(
                f"{quoted(path)}: key '_metadata': expected physics_parameters.{name} = {actual} (from the diffraction shape), found {recorded!r}"
            )


def _check_split(archive: NpzArchive, metadata: Mapping[str, Any], split: str) -> None:
    """The split the file says it is must be ``split``.

    A test split holds :data:`TEST_ONLY_KEYS` (PtychoPINN writes them into test files only), so
    a file holding one is refused as a train split. A file holding neither, whose metadata is
    grid-lines metadata (it records the train grid), is a train split and refused as a test
    split: its rows are shuffled, so stitching it would scramble the object even when its row
    count happens to match the test grid's.
    """
    held = [key for key in TEST_ONLY_KEYS if key in archive]
    if split == "train" and held:
        raise InputError(
            f"{quoted(archive.path)}: key {held[0]!r}: expected a train split, found a key only a test split holds (is this test.npz?)"
        )
    extra = metadata.get("additional_parameters") or {}
    records_train_grid = any(extra.get(key) is not None for key in ("outer_offset_train", "nimgs_train"))
    if split == "test" and not held and records_train_grid:
        raise InputError(
            f"{quoted(archive.path)}: expected a test split, holding key {TEST_ONLY_KEYS[0]!r} or {TEST_ONLY_KEYS[1]!r}, "
            f"found neither, as in a train split (is this train.npz?)"
        )


def _train_rows(metadata: Mapping[str, Any], test_grid: GridLayout) -> int | None:
    """Rows of the train split that the metadata describes beside ``test_grid``; None if it does not."""
    try:
        grid = GridLayout.from_metadata(metadata, N=test_grid.N, gridsize=test_grid.gridsize, split="train")
    except InputError:
        return None
    return None if grid is None else grid.n_rows


def train_row_positions(dataset: GridLinesDataset) -> np.ndarray | None:
    """Where each row of a grid-lines train split lies in its object, from the train grid metadata.

    The rows of a train split are shuffled and its ``coords_offsets`` are not (PtychoPINN's
    order), so no stored key gives a row's position. The train grid
    (``additional_parameters.outer_offset_train``, ``nimgs_train``) gives every object-major
    position, and :func:`~ptychostitch.geometry.train_row_order` gives the object-major row of
    each file row.

    Returns
    -------
    ndarray, shape (B, C, 2), float64, or None
        ``(y, x)`` of every channel of every file row in its object's frame (``YY_full[i]``);
        None when the metadata describes no train grid, or one of another row count.
    """
    try:
        grid = GridLayout.from_metadata(dataset.metadata, N=dataset.N, gridsize=dataset.gridsize, split="train")
    except InputError as exc:
        raise InputError(f"{quoted(dataset.path)}: key '_metadata': {exc}") from exc
    if grid is None or grid.n_rows != dataset.n_rows:
        return None
    object_major = np.tile(grid.object_positions(), (grid.nimgs, 1, 1))
    return object_major[train_row_order(grid.n_rows)]


def _read_probe(archive: NpzArchive, key: str, n: int) -> np.ndarray | None:
    if key not in archive:
        return None
    info = archive.info(key)
    expect(info.shape in ((n, n), (n, n, 1)), archive.path, key, f"shape ({n}, {n}) (N of diffraction)", str(info.shape))
    expect(info.dtype.kind in "fiuc", archive.path, key, "a numeric array", f"dtype {info.dtype}")
    probe = archive.read(key).reshape(n, n)
    bad = int(np.count_nonzero(~np.isfinite(probe)))
    expect(bad == 0, archive.path, key, "finite values", f"{bad} non-finite (NaN or infinite) values of {n * n}")
    return _frozen(probe.astype(np.complex64))


ASSUMED_NORM_Y_I = 1.0
"""The ``norm_Y_I`` a test split without that key is read with (a WARNING says so)."""


def _read_norm(archive: NpzArchive, split: str) -> float:
    if "norm_Y_I" not in archive:
        if split == "test":
            log.warning(
                "%s: no key 'norm_Y_I': assuming %s, i.e. that the predicted patches are already in the ground truth's "
                "amplitude units; if the model was trained on normalised patches, the stitched amplitude is off by that factor",
                quoted(archive.path), ASSUMED_NORM_Y_I,
            )
        return ASSUMED_NORM_Y_I
    info = archive.info("norm_Y_I")
    expect(math.prod(info.shape) == 1 and info.dtype.kind in "fiu", archive.path, "norm_Y_I", "a real scalar (0-d or 1 element)", f"shape {info.shape} dtype {info.dtype}")
    value = float(archive.read("norm_Y_I").reshape(()))
    expect(math.isfinite(value) and value > 0, archive.path, "norm_Y_I", "a finite value > 0", repr(value))
    return value


def _read_ground_truth(archive: NpzArchive, grid: GridLayout | None, full: PatchArray | None) -> np.ndarray | None:
    """``YY_ground_truth`` as (H, W) complex64, read only once its declared shape is one the grid allows."""
    if "YY_ground_truth" not in archive:
        return None
    info = archive.info("YY_ground_truth")
    ok = len(info.shape) in (2, 3) and info.shape[2:] in ((), (1,)) and min(info.shape[:2]) > 0
    expect(ok, archive.path, "YY_ground_truth", "shape (H, W) or (H, W, 1)", str(info.shape))
    expect(info.dtype.kind in "fiuc", archive.path, "YY_ground_truth", "a numeric array", f"dtype {info.dtype}")
    if grid is not None:
        full_shape = None if full is None else tuple(full.shape[1:3])
        if info.shape[:2] not in (grid.gt_shape, full_shape):
            raise InputError(
                f"{quoted(archive.path)}: key 'YY_ground_truth': declared shape {info.shape[:2]}, allowed {grid.gt_shape} "
                f"from the grid metadata" + (f" (or {full_shape}, the shape of YY_full[0])" if full_shape else "")
            )
    return _frozen(archive.read("YY_ground_truth").reshape(info.shape[:2]).astype(np.complex64, copy=False))


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _grid_layout(
    path: Path, metadata: Mapping[str, Any], n: int, gridsize: int, n_rows: int, full: PatchArray | None
) -> GridLayout | None:
    """The test-split grid from the metadata, checked against the data; None without grid metadata."""
    try:
        grid = GridLayout.from_metadata(metadata, N=n, gridsize=gridsize)
    except InputError as exc:
        raise InputError(f"{quoted(path)}: key '_metadata': {exc}") from exc
    if grid is None:
        return None
    if grid.n_rows != n_rows:
        hint = " (the row count of the train split: is this train.npz?)" if _train_rows(metadata, grid) == n_rows else ""
        raise InputError(
            f"{quoted(path)}: key 'diffraction': expected {grid.n_rows} rows from the grid metadata "
            f"(nimgs_test {grid.nimgs} x {grid.m}x{grid.m} windows of size {grid.size}, stride {grid.stride}), found {n_rows}{hint}"
        )
    if full is not None and full.shape[:2] != (grid.nimgs, grid.size):
        raise InputError(
            f"{quoted(path)}: key 'YY_full': expected {grid.nimgs} objects of side {grid.size} from the grid metadata, "
            f"found shape {full.shape}"
        )
    return grid


def _frame(
    grid: GridLayout | None, truth: np.ndarray | None, full: PatchArray | None
) -> tuple[int | None, tuple[int, int] | None]:
    """Object-frame pixel of ground-truth pixel (0, 0) (None if unknown), and the frame shape.

    With a grid, ``truth`` is None or of a shape :func:`_read_ground_truth` allowed.
    """
    truth_shape = None if truth is None else tuple(truth.shape)
    full_shape = None if full is None else tuple(full.shape[1:3])
    if grid is not None:
        if truth_shape in (None, grid.gt_shape):
            return grid.gt_origin, grid.gt_shape
        return 0, full_shape
    if full_shape is not None and truth_shape in (None, full_shape):
        return 0, full_shape
    return None, truth_shape


def _object_count(metadata: Mapping[str, Any], full: PatchArray | None, n_rows: int) -> int:
    """Objects in a split without grid layout: ``nimgs_test``, else the number in YY_full, else 1."""
    extra = metadata.get("additional_parameters") or {}
    for candidate in (extra.get("nimgs_test"), None if full is None else full.shape[0]):
        if isinstance(candidate, int) and candidate >= 1 and n_rows % candidate == 0:
            return candidate
    return 1


def _declared_order(path: Path, metadata: Mapping[str, Any]) -> str | None:
    order = (metadata.get("additional_parameters") or {}).get("coords_offsets_order")
    if order is not None and order not in _ORDERS:
        raise InputError(
            f"{quoted(path)}: key '_metadata': expected additional_parameters.coords_offsets_order to be one of {_ORDERS}, found {order!r}"
        )
    return order


def _read_coords_offsets(archive: NpzArchive, shape: tuple[int, ...]) -> np.ndarray:
    """``coords_offsets`` (B, 1, 2, C) in (y, x) order, as (B, C, 2) float64 in the object frame."""
    info = archive.info("coords_offsets")
    expect(info.shape == shape, archive.path, "coords_offsets", f"shape {shape}", str(info.shape))
    expect(info.dtype.kind in "fiu", archive.path, "coords_offsets", "a real array", f"dtype {info.dtype}")
    coords = archive.read("coords_offsets")[:, 0].transpose(0, 2, 1).astype(np.float64)
    expect(bool(np.isfinite(coords).all()), archive.path, "coords_offsets", "finite values", "NaN or infinity")
    return coords


def _reorder(
    path: Path, coords: np.ndarray, nimgs: int, declared: str | None, expected: np.ndarray | None, origin: int
) -> np.ndarray:
    """Put ``coords_offsets`` rows in object-major order, in the ground-truth frame.

    PtychoPINN writes one position per object in turn (``[p0, p0, p1, p1, ...]`` for two
    objects); ptychostitch's simulator writes the same and says so in the metadata.
    A declared order is trusted; otherwise the order whose rows repeat the way PtychoPINN's
    do is tried first. With a grid, the first order that matches it within
    :data:`POSITION_TOLERANCE` is taken, and none matching is an error.
    """
    placed = coords - float(origin)
    if nimgs == 1:
        candidates = {"object-major": placed}
    else:
        per_object = len(coords) // nimgs
        regrouped = placed.reshape(per_object, nimgs, *placed.shape[1:]).swapaxes(0, 1).reshape(placed.shape)
        both = {"object-major": placed, "position-major": regrouped}
        if declared is not None:
            candidates = {declared: both[declared]}
        else:
            repeats = bool(np.all(coords.reshape(per_object, nimgs, *coords.shape[1:]) == coords[::nimgs, None]))
            first, second = _ORDERS[::-1] if repeats else _ORDERS
            candidates = {first: both[first], second: both[second]}
    if expected is None:
        return next(iter(candidates.values()))
    deviations = {}
    for order, candidate in candidates.items():
        deviations[order] = float(np.max(np.abs(candidate - expected)))
        if deviations[order] <= POSITION_TOLERANCE:
            log.debug("%s: coords_offsets rows are %s and match the grid", path, order)
            return candidate
    found = ", ".join(f"{order} rows differ by up to {dev:.4g} px" for order, dev in deviations.items())
    raise InputError(
        f"{quoted(path)}: key 'coords_offsets': expected positions matching the grid metadata within {POSITION_TOLERANCE} px, found {found}"
    )
