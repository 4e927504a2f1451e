"""The result folder of ``run`` and ``evaluate``: claimed atomically, built aside, committed with ``metrics.json`` last.

One small API for everything a command writes::

    folder = claim(Path("out"), overwrite=False)  # first, before any work
    with folder:                                  # a failure or Ctrl-C inside discards what was staged
        ...                                       # write files under folder.staging
        folder.commit(metrics)                    # move them into folder.final; metrics.json last
    folder.final                                  # where the files are now

Claiming
    ``out`` is taken when it holds a run (:data:`RUN_MARKERS`) or another live process holds
    its claim; then ``out-2``, ``out-3``, ... are tried. With ``overwrite`` a finished run in
    ``out`` is no obstacle (a live claim still is). The claim is one atomic step: a private
    folder, holding the owner's process id and host, is renamed onto ``out/.ptychostitch-staging``,
    which fails while another process's staging folder is there. A staging folder whose owner
    died (same host, process gone) is cleared and claimed. A folder that cannot be used (it is a
    file, lies under a file, is read-only, sits under ``/proc``) is an
    :class:`~ptychostitch.errors.InputError` naming it, before anything else is done.
Committing
    The staging folder lies inside the final folder, so a commit is a few renames on one file
    system, done with Ctrl-C held back (:func:`ptychostitch.interrupts.deferred`). When an
    earlier run is replaced, its files (those its :data:`MANIFEST` lists) are moved aside (into the
    staging folder) first,
    ``metrics.json`` before all others, so the folder never shows the old ``metrics.json`` beside
    new files; other files in the folder, and the files the new run read, are left alone. Then the staged files move in (merging
    into folders that exist), the manifest is written, and ``metrics.json`` last: its presence
    means the folder is complete. A commit that fails part-way puts the earlier run back.
Abandoning
    A failure or Ctrl-C before the commit deletes the staging folder (and the final folder, if
    the claim created it and it is empty): the folder holds no ``metrics.json`` of this run, and
    an earlier run in it is untouched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, Iterable, Mapping

from ptychostitch import interrupts
from ptychostitch.atomic import write_json
from ptychostitch.errors import InputError, quoted

log = logging.getLogger(__name__)

METRICS = "metrics.json"
STAGING = ".ptychostitch-staging"
"""The claimed staging folder inside a result folder; present while a process writes into it."""
MANIFEST = ".ptychostitch-files.json"
"""Written by each commit: the files of the run (relative paths), so that ``--overwrite`` replaces exactly those."""
RUN_MARKERS = (METRICS, "run.json", "evaluate.json", "score.json", "stitched.npz", "compare.json", MANIFEST)
"""Files whose presence means a folder holds an earlier run (complete or not)."""
_UNLISTED_RUN = (METRICS, "run.json", "stitched.npz", "comparison.png", "frc.png", "checkpoint.pt", "tmp/torch_reassembly/reassembly_test.npz")
"""The files of a run committed before manifests were written."""
_OWNER = ".owner.json"
_MAX_CANDIDATES = 10_000


class ResultFolder:
    """A claimed result folder: write into :attr:`staging`, then :meth:`commit`.

    Attributes
    ----------
    final : Path
        Where the files are once committed (the requested folder or the next free ``DIR-N``).
    staging : Path
        Where to write them now (inside ``final``, hidden).
    """

    def __init__(self, final: Path, staging: Path, *, created: bool) -> None:
        self.final = final
        self.staging = staging
        self._created = created
        self._done = False

    def __enter__(self) -> "ResultFolder":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self._done:
            self.abandon()

    def final_path(self, path: str | os.PathLike[str]) -> Path:
        """Where ``path`` (under :attr:`staging`) will be after the commit."""
        return self.final / Path(path).relative_to(self.staging)

    def commit(self, metrics: Mapping[str, Any], *, keep: Iterable[str | os.PathLike[str]] = (), last: str = METRICS) -> Path:
        """Move the staged files into :attr:`final`, replacing an earlier run's, and write ``metrics.json`` last.

        Parameters
        ----------
        metrics : mapping
            The content of ``metrics.json``.
        keep : paths
            Files this run read (its inputs): never removed, even when the earlier run wrote them.
        last : str
            The name of the file written last, ``metrics.json`` unless the folder is not a result
            (``compare`` writes ``compare.json``, so that its folder is never taken for a result).

        Returns
        -------
        Path
            :attr:`final`.
        """
        if self._done:
            raise RuntimeError(f"{self.final}: already committed or abandoned")
        with interrupts.deferred():
            files = _files_under(self.staging)
            aside = Path(tempfile.mkdtemp(prefix=".replaced-", dir=self.staging))  # goes with the staging folder
            moved_old: list[PurePosixPath] = []
            moved_new: list[PurePosixPath] = []
            try:
                kept = {os.path.realpath(path) for path in keep}
                for rel in _earlier_run(self.final):
                    if os.path.realpath(self.final / rel) in kept:
                        continue
                    _move(self.final / rel, aside / rel)
                    moved_old.append(rel)
                for rel in files:
                    _move(self.staging / rel, self.final / rel)
                    moved_new.append(rel)
                write_json(self.final / MANIFEST, {"files": sorted(map(str, files)) + [last]})
                moved_new.append(PurePosixPath(MANIFEST))
                write_json(self.final / last, metrics)
            except BaseException:
                _undo(self, aside, moved_old, moved_new)
                raise
            self._done = True
            for rel in moved_old:
                _prune(self.final, rel)
            shutil.rmtree(self.staging, ignore_errors=True)
        log.info("wrote %s", self.final / last)
        return self.final

    def keep_unfinished(self) -> bool:
        """Move what was staged into :attr:`final` without ``metrics.json`` or manifest (a run to resume); True if done.

        Refused (False, and nothing moves) when :attr:`final` holds an earlier run: its files stay as they are.
        """
        if self._done or _holds_run(self.final):
            return False
        with interrupts.deferred():
            for rel in _files_under(self.staging):
                _move(self.staging / rel, self.final / rel)
            self._done = True
            shutil.rmtree(self.staging, ignore_errors=True)
        log.warning("%s: kept unfinished (no %s) to resume from", self.final, METRICS)
        return True

    def abandon(self) -> None:
        """Discard what was staged; remove :attr:`final` too if the claim created it and it is empty."""
        self._done = True
        shutil.rmtree(self.staging, ignore_errors=True)
        if self._created:
            try:
                self.final.rmdir()
            except OSError:
                pass


def claim(path: str | os.PathLike[str], *, overwrite: bool = False) -> ResultFolder:
    """Claim ``path`` (or the next free ``path-N``) for one run; see the module notes.

    Raises
    ------
    InputError
        The folder cannot be used (one line naming it and why), or no ``path-N`` is free.
    """
    path = Path(path)
    if not path.name:
        path = Path(os.path.abspath(path))
    for number in range(1, _MAX_CANDIDATES + 1):
        candidate = path if number == 1 else path.with_name(f"{path.name}-{number}")
        folder = _claim_one(candidate, replace_run=overwrite and number == 1)
        if folder is not None:
            if number > 1:
                log.warning("%s holds a run or is being written; writing to %s instead%s", path, candidate,
                            "" if overwrite else " (pass --overwrite to replace a finished run)")
            return folder
    raise InputError(f"{quoted(path)}: no free output folder: {path.name}-2 to {path.name}-{_MAX_CANDIDATES} are all taken")


def _claim_one(candidate: Path, *, replace_run: bool) -> ResultFolder | None:
    created = _make_folder(candidate)
    if not replace_run and _holds_run(candidate):
        return None
    staging = candidate / STAGING
    while True:
        try:
            private = Path(tempfile.mkdtemp(prefix=".ptychostitch-claiming-", dir=candidate))
            (private / _OWNER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
        except OSError as exc:
            raise _unusable(candidate, exc) from exc
        try:
            os.rename(private, staging)
            break
        except OSError as exc:
            shutil.rmtree(private, ignore_errors=True)
            if not staging.is_dir():
                raise _unusable(candidate, exc) from exc
            if not _clear_if_abandoned(staging):
                return None
    folder = ResultFolder(candidate, staging, created=created)
    if not replace_run and _holds_run(candidate):  # a run committed between the first look and the claim
        folder.abandon()
        return None
    return folder


def _make_folder(candidate: Path) -> bool:
    """Make ``candidate`` if needed; True if this call made it."""
    try:
        candidate.mkdir(parents=True)
        return True
    except FileExistsError as exc:
        if not candidate.is_dir():
            raise InputError(f"{quoted(candidate)}: cannot be the output folder: it exists and is not a folder") from exc
        return False
    except OSError as exc:
        raise _unusable(candidate, exc) from exc


def _unusable(candidate: Path, exc: OSError) -> InputError:
    blocking = next((parent for parent in candidate.parents if parent.exists()), None)
    where = f" ({quoted(blocking)} is not a folder)" if blocking is not None and not blocking.is_dir() else ""
    return InputError(f"{quoted(candidate)}: cannot be the output folder: {exc.strerror or exc}{where}")


def _holds_run(folder: Path) -> bool:
    return any((folder / name).exists() for name in RUN_MARKERS)


def _clear_if_abandoned(staging: Path) -> bool:
    """Remove ``staging`` if the process that claimed it is gone; True if it was (so it may be claimed)."""
    try:
        owner = json.loads((staging / _OWNER).read_text())
        pid, host = int(owner["pid"]), str(owner["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return False  # unreadable: treat as held
    if host != socket.gethostname() or _alive(pid):
        return False
    graveyard = staging.with_name(f".ptychostitch-abandoned-{uuid.uuid4().hex}")
    try:
        os.rename(staging, graveyard)
    except OSError:
        return True  # another process cleared it first: try to claim again
    log.warning("%s: clearing what a process that no longer runs (pid %d) left unfinished", staging.parent, pid)
    shutil.rmtree(graveyard, ignore_errors=True)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _files_under(folder: Path) -> list[PurePosixPath]:
    """Every file below ``folder`` (relative, sorted), except the claim's owner record."""
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            rel = PurePosixPath(Path(root, name).relative_to(folder).as_posix())
            if rel != PurePosixPath(_OWNER):
                found.append(rel)
    return sorted(found)


def _earlier_run(folder: Path) -> list[PurePosixPath]:
    """The files of the run ``folder`` holds (``metrics.json`` first, the manifest last); [] if none."""
    listed: list[str] = list(_UNLISTED_RUN)
    try:
        document = json.loads((folder / MANIFEST).read_text())
        if isinstance(document, dict) and isinstance(document.get("files"), list):
            listed = [str(name) for name in document["files"]]
    except (OSError, ValueError):
        pass
    safe = [PurePosixPath(name) for name in listed if _inside(name)]
    present = [rel for rel in safe if (folder / rel).is_file() or (folder / rel).is_symlink()]
    present.sort(key=lambda rel: rel != PurePosixPath(METRICS))
    if (folder / MANIFEST).is_file():
        present.append(PurePosixPath(MANIFEST))
    return present


def _inside(name: str) -> bool:
    """True for a relative path that stays inside its folder (no ``..``, not absolute, not the staging folder)."""
    rel = PurePosixPath(name)
    return bool(rel.parts) and not rel.is_absolute() and ".." not in rel.parts and rel.parts[0] != STAGING


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _undo(folder: ResultFolder, aside: Path, moved_old: list[PurePosixPath], moved_new: list[PurePosixPath]) -> None:
    """Put a failed commit back: the staged files (and the new manifest) out, the earlier run into place."""
    for rel in reversed(moved_new):
        _quietly_move(folder.final / rel, folder.staging / rel)
        _prune(folder.final, rel)
    for rel in reversed(moved_old):
        _quietly_move(aside / rel, folder.final / rel)
    shutil.rmtree(aside, ignore_errors=True)


def _quietly_move(source: Path, target: Path) -> None:
    try:
        _move(source, target)
    except OSError as exc:
        log.error("could not put %s back as %s: %s", source, target, exc)


def _prune(folder: Path, rel: PurePosixPath) -> None:
    """Remove the now empty folders that held ``rel`` (a file moved away)."""
    for parent in rel.parents:
        if parent == PurePosixPath("."):
            return
        try:
            (folder / parent).rmdir()
        except OSError:
            return
