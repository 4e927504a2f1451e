"""The kernels that add patches onto torch-mmap's canvases: one interface, three backends, chosen once per stitch.

:func:`choose` picks the backend for a device:

* :class:`~ptychostitch.stitchers.torch_mmap.kernels.torch_kernels.TorchKernels` on an
  accelerator (CUDA): torch tensors on the device, every patch a footprint;
* :class:`~ptychostitch.stitchers.torch_mmap.kernels.numba_kernels.NumbaKernels` on the CPU when
  numba is installed and builds them (:func:`compiled_kernels`): one compiled pass per patch, on
  up to :data:`MAX_THREADS` row-band threads;
* :class:`~ptychostitch.stitchers.torch_mmap.kernels.numpy_kernels.NumpyKernels` on the CPU
  otherwise: the same canvases bit for bit, more slowly; one log line says why and how to get
  the compiled ones.
"""

from __future__ import annotations

import functools
import logging
import os
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from ptychostitch.stitchers.torch_mmap.kernels.bilinear import Array
from ptychostitch.stitchers.torch_mmap.kernels.numpy_kernels import NumpyKernels
from ptychostitch.stitchers.torch_mmap.kernels.torch_kernels import TorchKernels

if TYPE_CHECKING:
    from ptychostitch.stitchers.torch_mmap.placement import Placement

log = logging.getLogger(__name__)

MAX_THREADS = 4
"""The compiled kernels split the canvas into at most this many row bands, one thread each."""


class Kernels(Protocol):
    """How patches are added onto the canvases of one stitch.

    The value and weight planes ``(Σ w·Re O, Σ w·Im O, Σ w)`` are whatever :meth:`start` returns
    (NumPy arrays on a CPU, torch tensors on an accelerator); the shared-fraction canvases are
    NumPy arrays. Patches are ``(k, s, s)`` complex64 NumPy arrays, never written into; ``pick``
    (int64 indices into them) gives the patches to add, in the order they are added; ``top``
    ``(k, 2)`` int64 is the canvas index of each patch's top-left pixel, and every patch (or
    footprint) must fit in the canvas there.

    Attributes
    ----------
    shared_fractions : bool
        Whether :meth:`add_at_offsets` may be used (shared-fraction placement).
    """

    shared_fractions: bool

    def start(self, placement: Placement, shape: tuple[int, int, int]) -> Array:
        """The zeroed planes, shape ``(3, H, W)`` float32, for a stitch placed as ``placement``; called once, first."""
        ...

    def add_at_offsets(
        self, values: np.ndarray, totals: np.ndarray | None, patches: np.ndarray, pick: np.ndarray, top: np.ndarray, weights: np.ndarray | None
    ) -> None:
        """``values[top[p] + (a, b)] += patches[p, a, b] * weights[a, b]`` and ``totals[...] += weights[a, b]``.

        ``values`` (H, W) complex64 and ``totals`` (H, W) float32 are modified in place. With
        ``weights`` None (uniform weights) the patches are added as they are and ``totals`` is
        None (the canvas counts coverage apart).
        """
        ...

    def splat_footprints(
        self, planes: Array, patches: np.ndarray, pick: np.ndarray, top: np.ndarray, frac: np.ndarray, weights: np.ndarray
    ) -> None:
        """Splat the patches bilinearly onto ``planes``: pixel ``(a, b)`` of patch ``p`` lands at ``top[p] + frac[p] + (a, b)``.

        ``frac`` (k, 2) float32 in ``[0, 1]``; ``weights`` (s, s) float32, per-pixel weight ``w``.
        """
        ...

    def numpy(self, planes: Array) -> np.ndarray:
        """``planes`` as a NumPy array on the CPU."""
        ...

    def close(self) -> None:
        """Release what the kernels hold (threads); the stitch is over."""
        ...


def choose(device: torch.device) -> Kernels:
    """The kernels of one stitch on ``device``: torch on an accelerator; on the CPU numba when it builds, else NumPy."""
    if device.type != "cpu":
        return TorchKernels(device)
    compiled = compiled_kernels()
    if compiled is None:
        log.info("torch-mmap: NumPy kernels; install numba (pip install 'ptychostitch[fast]') for the faster compiled kernels")
        return NumpyKernels()
    return compiled.NumbaKernels(_threads())


@functools.cache
def compiled_kernels() -> ModuleType | None:
    """The compiled kernels (:mod:`~ptychostitch.stitchers.torch_mmap.kernels.numba_kernels`), or None when numba is missing or cannot build them.

    Imported and compiled (or loaded from numba's cache) on first use, once per process. Why
    they are unavailable is logged once; the NumPy kernels then give the same result, more
    slowly.
    """
    try:
        from ptychostitch.stitchers.torch_mmap.kernels import numba_kernels

        numba_kernels.warm_up()
    except ImportError as exc:
        log.info("torch-mmap: numba unavailable (%s); NumPy kernels", exc)
        return None
    except Exception as exc:  # noqa: BLE001 - numba is installed but cannot cache or compile the kernels
        log.warning(
            "torch-mmap: numba cannot build the compiled kernels (%s); using the NumPy kernels. "
            "If it cannot cache, set NUMBA_CACHE_DIR to a writable folder", exc,
        )
        return None
    return numba_kernels


def _threads() -> int:
    """Threads for the compiled kernels: the CPUs this process may use, at most :data:`MAX_THREADS`."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(MAX_THREADS, usable)
