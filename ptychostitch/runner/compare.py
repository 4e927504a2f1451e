"""``compare``: result folders of ``run``, ``evaluate`` and ``score`` side by side, scored against one ground truth.

Each folder must be complete (``metrics.json`` present) and hold its provenance record
(``run.json``, ``evaluate.json`` or ``score.json``, :mod:`ptychostitch.runner.provenance`), whose
``inputs.test_npz`` names the test file the folder was scored against. Folders scored against
different test files (by SHA-256) are refused: their numbers do not compare. The output folder
holds

- ``comparison.csv``: one row per folder (:data:`COLUMNS` plus one ``sha256_<role>`` column per
  input role), numbers exactly as in each ``metrics.json``;
- ``comparison.md``: the same as a Markdown table (4 significant digits, digests shortened);
- ``comparison.png``: each folder's stitched amplitude and phase beside the shared ground truth,
  with error maps, on shared colour scales, in the window every folder covers;
- ``compare.json``: the provenance of the comparison, written last.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptychostitch.atomic import write_text
from ptychostitch.data import load_gridlines, read_stitched_object
from ptychostitch.errors import InputError, quoted
from ptychostitch.runner.defaults import CompareConfig
from ptychostitch.runner.figures import write_folders_comparison
from ptychostitch.runner.provenance import Stages, find_record, input_record, provenance, record_name, sha256
from ptychostitch.runner.result_folder import METRICS, claim

log = logging.getLogger(__name__)

METRIC_KEYS = ("mae", "mse", "psnr", "ssim", "ms_ssim", "frc50", "frc1over7")
"""The stitched metrics compared, each as ``<key>_amp`` and ``<key>_phase``."""

COLUMNS = (
    "folder", "command", "stitcher", "stitcher_requested", "stitch_weighting", "stitch_crop", "model", "loss", "epochs",
    "training_s", "window", "window_is_full_frame",
    *(f"{key}_{part}" for key in METRIC_KEYS for part in ("amp", "phase")),
)
"""The columns of ``comparison.csv`` before the input digests (``training_s``: the ``train`` stage of ``run``)."""

MARKDOWN_COLUMNS = (
    "folder", "command", "stitcher", "stitch_weighting", "stitch_crop", "model", "loss", "epochs", "training_s", "window",
    "ssim_amp", "ssim_phase", "ms_ssim_amp", "ms_ssim_phase", "psnr_amp", "psnr_phase", "mae_amp", "mae_phase", "frc50_amp", "frc50_phase",
)

RECORD = record_name("compare")


@dataclass(frozen=True)
class ScoredFolder:
    """A complete result folder: its metrics and its provenance record."""

    path: Path
    record: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def test_digest(self) -> str:
        """SHA-256 of the test file it was scored against."""
        return str(self.record["inputs"]["test_npz"]["sha256"])


def read_folder(path: Path) -> ScoredFolder:
    """Read the result folder ``path``; :class:`InputError` naming it when it is not a complete, scored result folder."""
    if not path.is_dir():
        raise InputError(f"{quoted(path)}: not a result folder: {'no such folder' if not path.exists() else 'not a folder'}")
    metrics = _json(path / METRICS, f"{quoted(path)}: not a result folder: expected {METRICS} (written last by run, evaluate or score), found none")
    found = find_record(path)
    if found is None:
        raise InputError(f"{quoted(path)}: not a result folder: expected run.json, evaluate.json or score.json beside {METRICS}, found none")
    record = _json(found, "")
    test = (record.get("inputs") or {}).get("test_npz") if isinstance(record, dict) else None
    if not isinstance(test, dict) or "sha256" not in test or "path" not in test:
        raise InputError(f"{quoted(found)}: key 'inputs.test_npz': expected the test file's path and SHA-256, found none "
                         f"(written by an older ptychostitch; evaluate again to compare)")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("stitched"), dict):
        raise InputError(f"{quoted(path / METRICS)}: key 'stitched': expected stitched metrics, found none (scored without a ground truth)")
    return ScoredFolder(path, record, metrics)


def _json(path: Path, missing: str) -> Any:
    if not path.is_file():
        raise InputError(missing)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{quoted(path)}: expected JSON, found unreadable content ({exc})") from exc


def same_ground_truth(folders: list[ScoredFolder]) -> None:
    """Refuse folders scored against different test files (different SHA-256), naming them by group."""
    groups: dict[str, list[str]] = {}
    for folder in folders:
        groups.setdefault(folder.test_digest, []).append(quoted(folder.path))
    if len(groups) > 1:
        described = "; ".join(f"{', '.join(paths)}: test file sha256 {digest[:12]}" for digest, paths in groups.items())
        raise InputError(f"these folders were scored against different ground truths, so they do not compare: {described}")


def row(folder: ScoredFolder, roles: list[str]) -> dict[str, Any]:
    """One row of ``comparison.csv``: the folder's options, numbers exactly as in its ``metrics.json``, and input digests."""
    metrics, record = folder.metrics, folder.record
    options = record.get("options") or {}
    stitch = metrics.get("stitch") or {}
    window = (metrics.get("stitched_evaluation") or {}).get("window")
    values: dict[str, Any] = {
        "folder": str(folder.path),
        "command": record.get("command"),
        "stitcher": metrics["stitcher"]["name"],
        "stitcher_requested": metrics["stitcher"]["requested"],
        "stitch_weighting": stitch.get("weighting"),
        "stitch_crop": stitch.get("crop"),
        "model": options.get("model"),
        "loss": options.get("loss"),
        "epochs": options.get("epochs"),
        "training_s": (record.get("timings_s") or {}).get("train"),
        "window": None if window is None else f"{window[0]}:{window[1]},{window[2]}:{window[3]}",
        "window_is_full_frame": (metrics.get("stitched_evaluation") or {}).get("window_is_full_frame"),
    }
    for key in METRIC_KEYS:
        values[f"{key}_amp"], values[f"{key}_phase"] = metrics["stitched"][key]
    for role in roles:
        values[f"sha256_{role}"] = (record["inputs"].get(role) or {}).get("sha256")
    return values


def csv_text(rows: list[dict[str, Any]]) -> str:
    """``rows`` as CSV; numbers written as Python writes floats (they read back exactly), None as an empty cell."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def markdown_text(rows: list[dict[str, Any]], test: dict[str, Any], roles: list[str]) -> str:
    """``rows`` as Markdown: the metrics table, then the inputs by digest."""

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    def table(columns: list[str], shown: list[dict[str, Any]]) -> list[str]:
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        return lines + ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in shown]

    digests = [{"folder": r["folder"], **{f"sha256_{role}": (r[f"sha256_{role}"] or "")[:12] or None for role in roles}} for r in rows]
    text = [
        "# Comparison", "",
        f"Ground truth: `YY_ground_truth` of `{test['path']}` (sha256 `{test['sha256']}`), shared by every folder. "
        "Stitched metrics as each folder's `metrics.json` records them (amplitude and phase; window: rows, columns scored).", "",
        *table(list(MARKDOWN_COLUMNS), rows), "",
        "## Inputs by SHA-256 (first 12 hex digits)", "",
        *table(["folder", *(f"sha256_{role}" for role in roles)], digests),
    ]
    return "\n".join(text) + "\n"


def compare(config: CompareConfig) -> Path:
    """Compare ``config.folders``; return the output folder used.

    Raises
    ------
    InputError
        A folder is not a complete, scored result folder (naming it), the folders were scored
        against different test files (naming them), or the test file they name is missing or changed.
    """
    stage = Stages()
    with stage("load"):
        folders = [read_folder(Path(path)) for path in config.folders]
        same_ground_truth(folders)
        test = folders[0].record["inputs"]["test_npz"]
        test_path = Path(folders[0].record.get("cwd") or ".") / test["path"]  # a relative path is relative to where the folder was made
        if not test_path.is_file():
            raise InputError(f"{quoted(test_path)}: the test file the folders were scored against: file not found")
        if sha256(test_path) != test["sha256"]:
            raise InputError(f"{quoted(test_path)}: expected the test file the folders were scored against (sha256 {test['sha256'][:12]}), "
                             f"found a file with another SHA-256 (changed since)")
        truth = load_gridlines(test_path).YY_ground_truth
        if truth is None:
            raise InputError(f"{quoted(test_path)}: key 'YY_ground_truth': expected the ground truth, found none")
        objects = [read_stitched_object(folder.path / "stitched.npz", truth.shape) for folder in folders]
    roles = list(dict.fromkeys(role for folder in folders for role in folder.record["inputs"]))
    rows = [row(folder, roles) for folder in folders]
    with claim(config.output_dir, overwrite=config.overwrite) as out:
        with stage("write"):
            write_text(out.staging / "comparison.csv", csv_text(rows))
            write_text(out.staging / "comparison.md", markdown_text(rows, test, roles))
            write_folders_comparison(
                out.staging / "comparison.png", truth, [str(f.path) for f in folders],
                [found.object for found in objects], [found.coverage for found in objects],
            )
        inputs = {str(folder.path): input_record(folder.path / METRICS) for folder in folders}
        inputs["test_npz"] = test
        options = {"folders": [str(path) for path in config.folders]}
        out.commit(provenance("compare", inputs, options, None, stage.seconds), last=RECORD)
    log.info("compared %d folders into %s", len(folders), out.final)
    return out.final
