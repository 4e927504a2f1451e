"""The twin-image ambiguity of self-supervised training, and its resolution by scan overlap.

For a probe whose amplitude is centrosymmetric (the ideal disk is real and symmetric about the
patch centre), the *twin* of an object patch, ``conj(O)`` rotated by 180 degrees about the patch
centre, produces exactly the same diffraction amplitude as ``O``: a single pattern cannot tell
them apart, so a model trained through the physics alone may learn either orientation.
Neighbouring scan positions can: true patches agree where they overlap, twins (each rotated
about its own centre) do not. :func:`choose_orientation` compares the two on a block of
consecutive rows with known positions; no labels are used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ptychostitch.errors import InputError
from ptychostitch.model.physics import twin_image
from ptychostitch.model.predict import predict_batches

log = logging.getLogger(__name__)

ORIENTATION_ROWS = 1024
"""Consecutive rows whose overlaps decide the orientation."""


def overlap_disagreement(amplitudes: np.ndarray, positions: np.ndarray, weight: np.ndarray) -> float:
    """How much overlapping patches disagree, relative to their power.

    Each patch is placed at the nearest pixel to its position (geometric centre
    ``((N-1)/2, (N-1)/2)`` on the position, :mod:`ptychostitch.geometry`); with the weighted mean
    ``M = sum w*a / sum w`` of every pixel, the result is ``sum w*(a - M)**2 / sum w*a**2``.

    Parameters
    ----------
    amplitudes : ndarray, shape (n, N, N), float
        Patch amplitudes.
    positions : ndarray, shape (n, 2), float
        ``(y, x)`` of every patch, pixels, any common frame.
    weight : ndarray, shape (N, N), float
        Per-pixel weight of a patch (``|probe|**2``).

    Returns
    -------
    float
        0 when all overlapping patches agree.
    """
    n = amplitudes.shape[-1]
    corners = np.rint(np.asarray(positions, dtype=np.float64) - (n - 1) / 2.0).astype(np.int64)
    corners -= corners.min(axis=0)
    height, width = corners.max(axis=0) + n
    weighted = np.zeros((height, width))
    weights = np.zeros((height, width))
    for (y, x), a in zip(corners, amplitudes):
        weighted[y : y + n, x : x + n] += weight * a
        weights[y : y + n, x : x + n] += weight
    mean = weighted / np.maximum(weights, np.finfo(float).tiny)
    spread = power = 0.0
    for (y, x), a in zip(corners, amplitudes):
        spread += float(np.sum(weight * (a - mean[y : y + n, x : x + n]) ** 2))
        power += float(np.sum(weight * a**2))
    return spread / max(power, np.finfo(float).tiny)


@dataclass(frozen=True)
class Orientation:
    """The outcome of :func:`choose_orientation`.

    Attributes
    ----------
    twin : bool
        True when the model's patches must be replaced by their twins (:func:`twin_image`).
    disagreement : float
        :func:`overlap_disagreement` of the patches as predicted.
    twin_disagreement : float
        The same for their twins.
    rows : int
        How many rows were compared.
    """

    twin: bool
    disagreement: float
    twin_disagreement: float
    rows: int


def choose_orientation(
    model: torch.nn.Module,
    diffraction: Any,
    positions: np.ndarray,
    probe: np.ndarray,
    *,
    start: int = 0,
    rows: int = ORIENTATION_ROWS,
    batch_size: int = 256,
    device: str = "cpu",
) -> Orientation:
    """Decide, from scan overlaps alone, whether a model predicts patches or their twins.

    Parameters
    ----------
    model : nn.Module
        A trained patch model (``docs/model.md``).
    diffraction : array-like, shape (B, N, N, C), float32
        Diffraction amplitudes in file units.
    positions : ndarray, shape (B, C, 2), float
        ``(y, x)`` of every channel of every row in one frame (:mod:`ptychostitch.geometry`).
    probe : ndarray, shape (N, N), complex
        The probe; ``|probe|**2`` weights each patch pixel.
    start, rows : int
        Compare rows ``start .. start + rows - 1`` (consecutive rows of a raster scan overlap).
    batch_size : int
        Rows per forward pass.
    device : str
        Torch device.

    Returns
    -------
    Orientation
    """
    stop = min(len(diffraction), start + rows)
    block = positions[start:stop]
    if stop - start < 2 or len(block) != stop - start:
        raise InputError(f"twin orientation: need at least 2 rows with positions from row {start}, found {len(block)}")
    patches = np.concatenate([batch.patches for batch in predict_batches(model, diffraction[start:stop], batch_size, device)])
    c = patches.shape[-1]
    flat = np.moveaxis(patches, -1, 1).reshape(-1, patches.shape[1], patches.shape[2])
    where = np.asarray(block, dtype=np.float64).reshape(-1, 2)
    if len(where) != len(flat):
        raise InputError(f"twin orientation: positions have shape {block.shape}, expected ({stop - start}, {c}, 2)")
    weight = np.abs(np.asarray(probe)) ** 2
    raw = overlap_disagreement(np.abs(flat), where, weight)
    flipped = overlap_disagreement(np.abs(twin_image(flat)), where, weight)
    result = Orientation(flipped < raw, raw, flipped, stop - start)
    log.info(
        "twin orientation from %d rows: overlap disagreement %.3g as predicted, %.3g as twins -> %s",
        result.rows, raw, flipped, "using the twins" if result.twin else "as predicted",
    )
    return result
