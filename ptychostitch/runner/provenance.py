"""Provenance of a result folder: the one section ``run``, ``evaluate`` and ``score`` write into ``<command>.json``.

Each command writes its record beside ``metrics.json`` (``run.json``, ``evaluate.json``,
``score.json``); the record starts with the keys of :func:`provenance`, the same for every
command, and ``run`` adds its own (model, training, checkpoint)::

    command     "run" | "evaluate" | "score"
    argv        the command line (``sys.argv``)
    cwd         the working folder it ran in
    created_utc when the record was made (ISO 8601, UTC)
    inputs      role -> {"path", "size_bytes", "sha256"} for every file read (streamed, 1 MiB at a time)
    options     every option that shaped the result
    stitcher    the selection (``Selection.as_json``: name, requested, fallback, reason, rejected), or null
    versions    python, ptychostitch, numpy, torch, tensorflow, numba (null when not installed)
    plugins     each loaded plugin (entry point) with its distribution, version and stitchers
    timings_s   wall-clock seconds per stage, in the order they ran

``compare`` records its own provenance the same way, in ``compare.json``.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from ptychostitch import __version__
from ptychostitch.stitchers import Selection
from ptychostitch.stitchers.registry import get_registry

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
"""Bytes read at a time when hashing an input."""

DISTRIBUTIONS = {
    "numpy": ("numpy",),
    "torch": ("torch",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"),
    "numba": ("numba",),
}
"""Library -> the distributions that provide it, read from package metadata (nothing is imported)."""

RECORDED_COMMANDS = ("run", "evaluate", "score")
"""The commands whose result folders hold a provenance record."""


@dataclass
class Stages:
    """Wall-clock seconds per stage that finished, in the order they ran (``with stages("name"): ...``).

    A finished stage is one INFO line; a stage that fails logs nothing, so an input error stays one line.
    """

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        log.debug("stage %s ...", name)
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        log.info("stage %s took %.1f s", name, self.seconds[name])


def sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of the file at ``path`` (hex), read :data:`CHUNK_BYTES` at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def input_record(path: str | os.PathLike[str], recorded_as: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``{"path", "size_bytes", "sha256"}`` of the file at ``path``.

    ``recorded_as`` is the path written down when it differs from where the file is read now
    (a file in a staging folder, recorded at its final place).
    """
    return {"path": str(recorded_as if recorded_as is not None else path), "size_bytes": os.path.getsize(path), "sha256": sha256(path)}


def distribution_version(*names: str) -> str | None:
    """The version of the first installed distribution among ``names``; None if none is installed."""
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def versions() -> dict[str, str | None]:
    """Versions of Python, ptychostitch and the numerical libraries (null when not installed); nothing is imported."""
    found: dict[str, str | None] = {"python": platform.python_version(), "ptychostitch": __version__}
    found.update({library: distribution_version(*names) for library, names in DISTRIBUTIONS.items()})
    return found


def plugins() -> list[dict[str, Any]]:
    """Each loaded plugin (entry point of group ``ptychostitch``): its distribution, that distribution's version, its stitchers."""
    by_entry_point: dict[str, dict[str, Any]] = {}
    for name, found in sorted(get_registry().stitchers.items()):
        record = by_entry_point.setdefault(
            found.entry_point,
            {"entry_point": found.entry_point, "distribution": found.distribution,
             "version": distribution_version(found.distribution), "stitchers": []},
        )
        record["stitchers"].append(name)
    return [by_entry_point[name] for name in sorted(by_entry_point)]


def json_values(options: Any) -> Any:
    """``options`` (a dataclass or a mapping) as JSON values, paths as strings."""
    return json.loads(json.dumps(asdict(options) if is_dataclass(options) else options, default=str))


def provenance(
    command: str,
    inputs: Mapping[str, dict[str, Any] | str | os.PathLike[str] | None],
    options: Any,
    selection: Selection | None,
    timings: Mapping[str, float],
) -> dict[str, Any]:
    """The provenance section (see the module notes); every command's ``<command>.json`` starts with it.

    Parameters
    ----------
    command : str
        The sub-command.
    inputs : mapping
        Role (``"test_npz"``, ...) to a file path, or to a record :func:`input_record` made
        already; None entries (inputs not given) are left out.
    options : dataclass or mapping
        Every option that shaped the result, resolved (the stitch options as the stitcher got them).
    selection : Selection or None
        The chosen stitcher; None when nothing was stitched here.
    timings : mapping
        Seconds per stage.
    """
    records = {role: value if isinstance(value, dict) else input_record(value) for role, value in inputs.items() if value is not None}
    return {
        "command": command,
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "inputs": records,
        "options": json_values(options),
        "stitcher": None if selection is None else selection.as_json(),
        "versions": versions(),
        "plugins": plugins(),
        "timings_s": dict(timings),
    }


def record_name(command: str) -> str:
    """The file a command's provenance goes to: ``<command>.json``."""
    return f"{command}.json"


def find_record(folder: str | os.PathLike[str]) -> Path | None:
    """The provenance record a result folder holds (``run.json``, ``evaluate.json`` or ``score.json``); None when none."""
    for command in RECORDED_COMMANDS:
        path = Path(folder) / record_name(command)
        if path.is_file():
            return path
    return None
