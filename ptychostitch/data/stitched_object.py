"""Reading a stitched object: key ``object`` (complex ``(H, W)`` or ``(H, W, 1)``), optional ``coverage`` and ``stitcher``.

The format of ``stitched.npz`` (what ``run``, ``evaluate`` and ``score`` write) and of the
``OBJ.npz`` that ``score`` takes from elsewhere (for example PtychoPINN's TF pipeline): the
object in the ground-truth frame, and where given, the stitch weights (0 = not covered).
Opened without pickle; every bad input is one :class:`~ptychostitch.errors.InputError` naming
the file, the key, what was expected and what was found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptychostitch.data.gridlines import expect
from ptychostitch.data.npz import NpzArchive, open_npz


@dataclass(frozen=True)
class StitchedObject:
    """A stitched object read from a file.

    Attributes
    ----------
    path : Path
        The file it came from.
    object : ndarray, shape (H, W), complex64
    coverage : ndarray, shape (H, W), float32, or None
        The stitch weights, when the file has them.
    stitcher : str or None
        The 0-d string ``stitcher`` (the name ``stitched.npz`` records), when the file has it.
    """

    path: Path
    object: np.ndarray
    coverage: np.ndarray | None
    stitcher: str | None


def read_stitched_object(path: str | os.PathLike[str], frame_shape: tuple[int, int]) -> StitchedObject:
    """Read ``object`` (and ``coverage`` if present) from ``path``, checked against the ground-truth ``frame_shape``.

    Raises
    ------
    InputError
        A missing ``object``, a shape other than ``(H, W)`` or ``(H, W, 1)`` with ``(H, W)`` the
        frame, an ``object`` that is not complex, a ``coverage`` that is not real, or NaN, infinity
        or a negative coverage.
    """
    archive = open_npz(path)
    obj = _image(archive, "object", frame_shape, "c", "a complex array")
    coverage = _image(archive, "coverage", frame_shape, "fiu", "a real array") if "coverage" in archive else None
    if coverage is not None:
        expect(bool(np.all(coverage >= 0)), archive.path, "coverage", "weights >= 0", f"minimum {float(coverage.min())}")
    stitcher = None
    if "stitcher" in archive:
        info = archive.info("stitcher")
        expect(info.shape == () and info.dtype.kind == "U", archive.path, "stitcher", "a 0-d string", f"shape {info.shape} dtype {info.dtype}")
        stitcher = str(archive.read("stitcher"))
    return StitchedObject(
        archive.path, obj.astype(np.complex64, copy=False), None if coverage is None else coverage.astype(np.float32, copy=False), stitcher
    )


def _image(archive: NpzArchive, key: str, frame_shape: tuple[int, int], kinds: str, kind_text: str) -> np.ndarray:
    info = archive.info(key)
    height, width = frame_shape
    accepted = ((height, width), (height, width, 1))
    expect(info.shape in accepted, archive.path, key, f"shape ({height}, {width}) or ({height}, {width}, 1) (the ground-truth frame)", f"shape {info.shape}")
    expect(info.dtype.kind in kinds, archive.path, key, kind_text, f"dtype {info.dtype}")
    image = archive.read(key).reshape(frame_shape)
    bad = int(np.count_nonzero(~np.isfinite(image)))
    expect(bad == 0, archive.path, key, "finite values", f"{bad} NaN or infinite values")
    return image
