"""The package's layering, read from its source with ``ast``: lower parts never import higher ones.

Data flows data -> model -> patch stream -> stitchers -> metrics -> runner, with simulate beside
data and commands/cli on top (``docs/architecture.md``). A module may import only parts at its
own rank or below; ``metrics`` draws nothing (no matplotlib); and no built-in stitcher is named
in code outside ``stitchers/``: the runner learns of stitchers only through the registry.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ptychostitch

PACKAGE = Path(ptychostitch.__file__).parent

RANK = {
    "": 0, "errors": 0, "atomic": 0, "interrupts": 0, "geometry": 0, "patch_stream": 0, "progress": 0, "hookspecs": 0, "plugins": 0, "options": 0,
    "data": 1, "simulate": 2, "model": 3, "stitchers": 4, "metrics": 5, "testing": 5,
    "runner": 6, "commands": 7, "cli": 8, "__main__": 9,
}  # fmt: skip
"""Rank of each top-level part of the package ("" is ``ptychostitch/__init__.py``)."""

BUILT_IN_STITCHERS = ("torch-mmap", "tf-shift-sum", "tf-style")


def _modules() -> list[tuple[str, Path]]:
    """``(part, file)`` for every module of the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        part = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        found.append(("" if part == "__init__" else part, path))
    return found


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in ``path``, at any depth (lazy imports included)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            if node.module == "ptychostitch":
                out += [(node.lineno, f"ptychostitch.{alias.name}") for alias in node.names]
    return out


def _part_of(module: str) -> str | None:
    """The top-level part a ``ptychostitch...`` module belongs to; None for other packages."""
    names = module.split(".")
    if names[0] != "ptychostitch":
        return None
    return names[1] if len(names) > 1 and names[1] in RANK else ""


def test_every_part_has_a_rank() -> None:
    unranked = sorted({part for part, _ in _modules()} - set(RANK))
    assert not unranked, f"give these parts of the package a rank in RANK: {unranked}"


@pytest.mark.parametrize("part, path", _modules(), ids=lambda v: str(v.relative_to(PACKAGE)) if isinstance(v, Path) else v)
def test_no_module_imports_a_higher_part(part: str, path: Path) -> None:
    upward = []
    for line, module in _imports(path):
        target = _part_of(module)
        if target is not None and RANK[target] > RANK[part]:
            upward.append(f"line {line}: {module} ({target}, rank {RANK[target]})")
    assert not upward, f"{path.relative_to(PACKAGE)} ({part or '__init__'}, rank {RANK[part]}) imports higher parts: {upward}"


def test_metrics_draw_nothing() -> None:
    drawing = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for part, path in _modules()
        if part == "metrics"
        for line, module in _imports(path)
        if module.split(".")[0] == "matplotlib"
    ]
    assert not drawing, f"metrics must be pure functions over arrays, but import matplotlib at {drawing}"


def _code_strings(tree: ast.AST) -> list[ast.Constant]:
    """String constants of a module, docstrings excluded."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_no_built_in_stitcher_is_named_outside_stitchers() -> None:
    named = []
    for part, path in _modules():
        if part == "stitchers":
            continue
        for node in _code_strings(ast.parse(path.read_text(encoding="utf-8"))):
            named += [f"{path.relative_to(PACKAGE)}:{node.lineno} {name!r}" for name in BUILT_IN_STITCHERS if name in node.value]
    assert not named, f"only the registry knows the stitchers; these name one: {named}"


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The helpers above see an upward import, a lazy one, and a stitcher name in code."""
    module = tmp_path / "m.py"
    module.write_text('"""torch-mmap in a docstring is fine."""\ndef f():\n    from ptychostitch.runner import run\n    return "tf-style"\n')
    assert [_part_of(m) for _, m in _imports(module)] == ["runner"]
    assert [n.value for n in _code_strings(ast.parse(module.read_text()))] == ["tf-style"]
