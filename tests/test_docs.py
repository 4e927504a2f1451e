"""The documentation stands on its own: every file, module and section it cites is in the repository.

Scanned: every ``.md`` and ``.py`` file of the repository (git's tracked and not-ignored files;
the package, tests, benchmarks, docs, README, examples). Checked:

- every relative markdown link ``[text](target#anchor)`` resolves to a file or folder of the
  repository, and its anchor to a heading of the target page (GitHub's heading slugs);
- every mention of a ``*.md`` page resolves (relative to the mentioning file, to the repository
  root, or, for a bare name, to a file of that name), with its ``#anchor`` if it has one; the
  Markdown files the commands write (:data:`WRITTEN`) are named, not cited;
- every mention of a repository path (``ptychostitch/...``, ``tests/...``, ``benchmarks/...``,
  ``examples/...``, ``docs/...``) names a file or folder that exists;
- every dotted ``ptychostitch.`` name resolves to a module, followed by a name that module
  defines or imports (read from its source, nothing is imported);
- documents that are not in the repository are never cited (the design notes the project was
  built from, and section numbers of them).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Written in pieces so that this file does not cite them itself.
FORBIDDEN = tuple(stem + ".md" for stem in ("gridlines-data", "stitching-and-metrics", "field-notes")) + ("reference " + "\u00a7",)

_SKIP_DIRS = {".git", "__pycache__", "build", "dist", ".venv", "venv", "node_modules"}
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_MD_MENTION = re.compile(r"(?<![\w./-])([\w][\w./-]*\.md)(#[\w-]+)?(?![\w])")
_PATH_MENTION = re.compile(r"(?<![\w./-])((?:ptychostitch|tests|benchmarks|examples|docs)/[\w./-]*[\w/])")
_DOTTED = re.compile(r"(?<![\w./-])(ptychostitch(?:\.[A-Za-z_]\w*)+)")


def _listed() -> list[str]:
    """Repository files: tracked plus untracked-but-not-ignored; a plain walk without git."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
        return sorted({name for name in out.split("\0") if name and (ROOT / name).is_file()})
    except (OSError, subprocess.CalledProcessError):
        found = []
        for folder, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info")]
            found += [str((Path(folder) / f).relative_to(ROOT)) for f in files]
        return sorted(found)


FILES = _listed()
FILE_SET = set(FILES)
FOLDERS = {str(parent) for name in FILES for parent in Path(name).parents if str(parent) != "."}
BASENAMES = {Path(name).name for name in FILES}
THIS = str(Path(__file__).resolve().relative_to(ROOT))
WRITTEN = frozenset({"comparison.md"})
"""Markdown files the commands write (``compare``'s table): named in the docs, never pages of the repository."""
SCANNED = [name for name in FILES if name.endswith((".md", ".py")) and not name.startswith("shared/") and name != THIS]
"""Every page and module, except this file, whose examples of broken citations are deliberate."""


def _exists(relative: str) -> bool:
    path = os.path.normpath(relative)
    return path in FILE_SET or path in FOLDERS


def _resolve(source: str, target: str) -> str | None:
    """The repository path ``target`` names when mentioned in ``source``, or None."""
    for base in (str(Path(source).parent), ""):
        candidate = os.path.normpath(os.path.join(base, target))
        if not candidate.startswith("..") and _exists(candidate):
            return candidate
    return None


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _prose(text: str) -> list[str]:
    """The lines of a markdown page, those inside code fences (and the fences) blanked."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            lines.append("")
            continue
        lines.append("" if fenced else line)
    return lines


@lru_cache(maxsize=None)
def _anchors(page: str) -> frozenset[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in _prose((ROOT / page).read_text(encoding="utf-8")):
        match = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = _slug(match.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(anchors)


def _check_anchor(page: str, anchor: str) -> str | None:
    if page.endswith(".md") and anchor and anchor not in _anchors(page):
        return f"no heading with anchor #{anchor} in {page}"
    return None


@lru_cache(maxsize=None)
def _text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8", errors="replace")


def _scan(name: str) -> list[str]:
    """Every broken citation in file ``name``, as ``line N: problem``."""
    problems: list[str] = []
    text = _text(name)
    prose = _prose(text) if name.endswith(".md") else text.splitlines()
    for number, line in enumerate(text.splitlines(), start=1):
        for bad in FORBIDDEN:
            if bad in line:
                problems.append(f"line {number}: cites {bad!r}, which the repository does not hold")
    for number, raw in enumerate(prose, start=1):
        line = _URL.sub(" ", raw)
        if name.endswith(".md"):
            for target in _LINK.findall(raw):
                if _URL.match(target) or target.startswith("mailto:"):
                    continue
                path, _, anchor = target.partition("#")
                page = _resolve(name, path) if path else name
                if page is None:
                    problems.append(f"line {number}: link to {target!r}, which is not in the repository")
                elif (problem := _check_anchor(page, anchor)) is not None:
                    problems.append(f"line {number}: link {target!r}: {problem}")
        for mention, anchor in _MD_MENTION.findall(line):
            page = _resolve(name, mention)
            if page is None and "/" not in mention and (mention in BASENAMES or mention in WRITTEN):
                continue
            if page is None:
                problems.append(f"line {number}: mentions {mention!r}, which is not in the repository")
            elif (problem := _check_anchor(page, anchor.lstrip("#"))) is not None:
                problems.append(f"line {number}: mention {mention}{anchor}: {problem}")
        for mention in _PATH_MENTION.findall(line):
            if _resolve(name, mention.rstrip("/")) is None:
                problems.append(f"line {number}: mentions {mention!r}, which is not in the repository")
        for dotted in _DOTTED.findall(line):
            if (problem := _dotted_problem(dotted)) is not None:
                problems.append(f"line {number}: {dotted}: {problem}")
    return problems


def _module_file(module: str) -> str | None:
    base = module.replace(".", "/")
    for candidate in (base + ".py", base + "/__init__.py"):
        if candidate in FILE_SET:
            return candidate
    return None


@lru_cache(maxsize=None)
def _top_level_names(path: str) -> frozenset[str]:
    names = set()
    for node in ast.parse(_text(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return frozenset(names)


def _dotted_problem(dotted: str) -> str | None:
    """None when ``dotted`` is a module, or a module followed by a name it defines."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        path = _module_file(".".join(parts[:cut]))
        if path is None:
            continue
        if cut == len(parts) or parts[cut] in _top_level_names(path) or parts[cut].startswith("__"):
            return None  # module attributes such as __file__ and __version__ are always there
        return f"{'.'.join(parts[:cut])} ({path}) has no module or name {parts[cut]!r}"
    return "no such module"


def test_the_scan_covers_the_documentation() -> None:
    for expected in ("README.md", "docs/architecture.md", "docs/performance.md", "ptychostitch/geometry.py", "tests/conftest.py"):
        assert expected in SCANNED, f"{expected} is not scanned: the file list is wrong"
    assert THIS not in SCANNED


def test_the_checks_catch_broken_citations() -> None:
    """The detectors themselves, on lines that must and must not be reported."""
    assert _slug("The reference model (`--model reference`, the default)") == "the-reference-model---model-reference-the-default"
    assert _slug("### `_metadata`".lstrip("# ")) == "_metadata"
    assert _resolve("docs/data.md", "geometry.md") == "docs/geometry.md"
    assert _resolve("docs/data.md", "missing.md") is None
    assert _check_anchor("docs/geometry.md", "the-convention") is None
    assert _check_anchor("docs/geometry.md", "no-such-heading") is not None
    assert _dotted_problem("ptychostitch.data.reassembly.write_reassembly") is None
    assert _dotted_problem("ptychostitch.metrics.eval_reconstruction") is None
    assert _dotted_problem("ptychostitch.runner.pipeline") is not None
    assert _dotted_problem("ptychostitch.__file__") is None
    assert _dotted_problem("ptychostitch.dataset") is not None
    assert _MD_MENTION.findall("see docs/metrics.md#patch-metrics, and README.md") == [
        ("docs/metrics.md", "#patch-metrics"), ("README.md", "")]
    assert _LINK.findall("[a](b.md#c) and [d](https://e.org/f.md)") == ["b.md#c", "https://e.org/f.md"]


@pytest.mark.parametrize("name", SCANNED)
def test_every_citation_resolves(name: str) -> None:
    problems = _scan(name)
    assert not problems, f"{name}: " + "; ".join(problems)
