"""The embedded default dataset, simulated once and reused: a cache keyed by its configuration and the simulator's version.

``ptychostitch run`` without ``--train-npz``/``--test-npz`` asks :func:`cached_dataset` for the
dataset of :data:`~ptychostitch.runner.defaults.EMBEDDED_DATASET` (with the run's seed). The
cache lives in :func:`cache_root`::

    $PTYCHOSTITCH_CACHE                  (else $XDG_CACHE_HOME/ptychostitch, else ~/.cache/ptychostitch)
      datasets/<key>/entry.json          what was simulated: key, configuration, versions, each file's size and SHA-256
      datasets/<key>/datasets/N{N}/gs{g}/{train,test}.npz

``<key>`` is the SHA-256 (first 32 hex digits) of the simulation configuration, the probe file's
SHA-256 when the probe is a file, :data:`SIMULATOR_VERSION` and ptychostitch's version: a
different configuration, simulator or release never reuses an entry.

Writing
    An entry is simulated into a temporary folder ``datasets/.<key>.*.tmp`` in the cache and
    renamed onto ``datasets/<key>`` only when ``entry.json`` is written, so an entry either is
    complete or does not exist. When two runs simulate the same entry at once, the first rename
    wins and the other run uses the winner's files. A failure or Ctrl-C removes the temporary
    folder; a process killed outright leaves it behind (a ``.tmp`` folder no run is writing to
    may be deleted).
Reusing
    An entry is used only when ``entry.json`` reads, and both files exist with the recorded size
    and SHA-256 (which ``run.json`` then records as the run's inputs). Anything else (a file
    truncated, changed or missing) is logged as a warning and the entry is simulated again and
    replaced; so does ``fresh=True`` (``run --fresh-data``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ptychostitch import __version__
from ptychostitch.atomic import current_umask
from ptychostitch.errors import InputError, quoted
from ptychostitch.runner.provenance import input_record
from ptychostitch.simulate import DatasetPaths, SimulationConfig, dataset_paths, simulate
from ptychostitch.simulate.config import IDEAL_DISK

log = logging.getLogger(__name__)

CACHE_ENV = "PTYCHOSTITCH_CACHE"
"""Environment variable naming the cache folder."""

SIMULATOR_VERSION = 1
"""Version of what :func:`ptychostitch.simulate.simulator.simulate` writes; raise it whenever the same configuration would give other files."""

ENTRY = "entry.json"
"""The record that makes a cache folder an entry; written last."""

ROLES = ("train", "test")


@dataclass(frozen=True)
class CachedDataset:
    """A dataset in the cache.

    Attributes
    ----------
    folder : Path
        The entry, ``<cache>/datasets/<key>``.
    paths : DatasetPaths
        Its train and test files.
    inputs : dict of str to dict
        ``"train"``/``"test"`` to ``{"path", "size_bytes", "sha256"}`` (:func:`~ptychostitch.runner.provenance.input_record`).
    simulated : bool
        True when this call simulated it, False when it was reused.
    """

    folder: Path
    paths: DatasetPaths
    inputs: dict[str, dict[str, Any]]
    simulated: bool


def cache_root() -> Path:
    """``$PTYCHOSTITCH_CACHE``, else ``$XDG_CACHE_HOME/ptychostitch``, else ``~/.cache/ptychostitch``."""
    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ptychostitch"


def cache_key(config: SimulationConfig) -> str:
    """The key of ``config``'s entry (see the module notes); ``config.seed`` must be set."""
    if config.seed is None:
        raise ValueError("a dataset with a fresh random seed is never cached: give SimulationConfig a seed")
    record: dict[str, Any] = {"config": asdict(config), "simulator": SIMULATOR_VERSION, "ptychostitch": __version__}
    if config.probe != IDEAL_DISK:
        record["probe_sha256"] = input_record(config.probe)["sha256"]
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:32]


def usable_root(root: Path | None = None) -> Path:
    """The cache folder, created; an :class:`~ptychostitch.errors.InputError` naming it when it cannot be written."""
    folder = (root if root is not None else cache_root()) / "datasets"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{quoted(folder)}: the dataset cache ({CACHE_ENV}): expected a folder it can create, found {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{quoted(folder)}: the dataset cache ({CACHE_ENV}): expected a writable folder, found it read-only")
    return folder


def cached_dataset(config: SimulationConfig, *, fresh: bool = False, root: Path | None = None) -> CachedDataset:
    """The dataset ``config`` describes, from the cache, simulated into it first when needed (or when ``fresh``)."""
    folder = usable_root(root)
    key = cache_key(config)
    entry = folder / key
    if not fresh:
        found = _read_entry(entry, config)
        if found is not None:
            log.info("reusing cached dataset at %s", entry)
            return found
    log.info("simulating the embedded dataset into %s", entry)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=folder))
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; an entry gets the usual permissions
        paths = simulate(config, tmp, overwrite=True)
        files = {role: input_record(getattr(paths, role)) for role in ROLES}
        record = {
            "key": key, "config": asdict(config), "simulator": SIMULATOR_VERSION, "ptychostitch": __version__,
            "files": {role: {**files[role], "path": str(Path(files[role]["path"]).relative_to(tmp))} for role in ROLES},
        }
        (tmp / ENTRY).write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        if _install(tmp, entry, config, replace=fresh):
            return _entry(entry, config, record, simulated=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = _read_entry(entry, config)
    if found is None:
        raise RuntimeError(f"{entry}: another process installed a cache entry that does not verify")
    log.info("another run cached the same dataset first; using %s", entry)
    return found


def _install(tmp: Path, entry: Path, config: SimulationConfig, *, replace: bool) -> bool:
    """Rename the finished ``tmp`` onto ``entry``; False when another process's valid entry is kept instead."""
    try:
        os.rename(tmp, entry)
        return True
    except OSError:
        pass  # the entry exists
    if not replace and _read_entry(entry, config, quiet=True) is not None:
        return False
    aside = entry.with_name(f".{entry.name}.{uuid.uuid4().hex}.old")
    try:
        os.rename(entry, aside)
    except FileNotFoundError:
        pass
    try:
        os.rename(tmp, entry)
        return True
    except OSError:
        return False  # yet another process installed one meanwhile
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _read_entry(entry: Path, config: SimulationConfig, *, quiet: bool = False) -> CachedDataset | None:
    """The entry at ``entry`` when it is complete and its files are unchanged; None otherwise (logged unless ``quiet``)."""
    if not entry.exists():
        return None
    try:
        record = json.loads((entry / ENTRY).read_text(encoding="utf-8"))
        files = record["files"]
        for role in ROLES:
            path = entry / files[role]["path"]
            found = input_record(path)
            if (found["size_bytes"], found["sha256"]) != (files[role]["size_bytes"], files[role]["sha256"]):
                raise ValueError(f"{path} has changed since it was cached")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if not quiet:
            log.warning("cached dataset at %s is incomplete or damaged (%s); simulating it again", entry, exc)
        return None
    return _entry(entry, config, record, simulated=False)


def _entry(entry: Path, config: SimulationConfig, record: dict[str, Any], *, simulated: bool) -> CachedDataset:
    paths = dataset_paths(entry, config.N, config.gridsize)
    inputs = {role: {**record["files"][role], "path": str(getattr(paths, role))} for role in ROLES}
    return CachedDataset(folder=entry, paths=paths, inputs=inputs, simulated=simulated)
