"""The ``_metadata`` JSON of a grid-lines NPZ, stored as a plain 0-d unicode array (``docs/simulate.md#_metadata``).

PtychoPINN pickles a Python string; ``MetadataManager.load_with_metadata`` reads it with
``str(arr.item())``, which works just as well on ``np.array(json_text)``, so no pickle is needed.
PtychoPINN's keys are all kept; ptychostitch adds ``additional_parameters.seed``,
``coords_offsets_order``, ``intensity_scale`` and ``creation_info.writer``.
"""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ptychostitch import __version__
from ptychostitch.simulate.config import IDEAL_DISK, SimulationConfig
from ptychostitch.simulate.probe import Probe

SCHEMA_VERSION = "1.0.0"
PTYCHOPINN_SCHEMA_RELEASE = "2.0.0"
"""The PtychoPINN release whose grid-lines schema the files follow (``creation_info.ptychopinn_version``)."""


def build_metadata(config: SimulationConfig, probe: Probe, *, seed: int, intensity_scale: float) -> dict[str, Any]:
    """The metadata dictionary written to both splits.

    Parameters
    ----------
    config : SimulationConfig
    probe : Probe
        Supplies the canonical transform pipeline.
    seed : int
        The Poisson-noise seed actually used.
    intensity_scale : float
        ``s_I``: counts are ``(diffraction * s_I)**2``.
    """
    custom = config.probe != IDEAL_DISK
    return {
        "schema_version": SCHEMA_VERSION,
        "creation_info": {
            "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "script": "ptychostitch simulate",
            "hostname": socket.gethostname(),
            "ptychopinn_version": PTYCHOPINN_SCHEMA_RELEASE,
            "writer": f"ptychostitch {__version__}",
        },
        "physics_parameters": {
            "nphotons": float(config.nphotons),
            "gridsize": config.gridsize,
            "N": config.N,
            "probe_trainable": False,
            "intensity_scale_trainable": True,
            "nll_weight": 0.0,
            "model_type": "pinn",
        },
        "training_parameters": {"n_images": None, "batch_size": 16, "nepochs": 60},
        "data_transformations": [],
        "additional_parameters": {
            "size": config.size,
            "offset": config.offset,
            "outer_offset_train": config.outer_offset_train,
            "outer_offset_test": config.outer_offset_test,
            "nimgs_train": config.nimgs_train,
            "nimgs_test": config.nimgs_test,
            "probe_mask_diameter": config.probe_mask_diameter,
            "probe_source": "custom" if custom else IDEAL_DISK,
            "probe_scale_mode": "pipeline" if config.probe_transform_pipeline else config.probe_scale_mode,
            "probe_smoothing_sigma": float(config.probe_smoothing_sigma),
            "probe_transform_pipeline": probe.pipeline,
            "probe_transform_steps": [step.metadata() for step in probe.steps],
            "probe_npz": str(config.probe) if custom else None,
            "set_phi": config.set_phi,
            "coords_type": "relative",
            "coords_offsets_order": "position-major",
            "seed": seed,
            "intensity_scale": intensity_scale,
        },
    }


def metadata_array(metadata: dict[str, Any]) -> np.ndarray:
    """``json.dumps(metadata, indent=2)`` as a 0-d unicode array (loads without pickle)."""
    return np.array(json.dumps(metadata, indent=2))
