"""Start-up time of the command line, as ratios to ``python -c "import numpy"`` measured in the same run.

Each command runs in a fresh process, ``--repeats`` times in turn with the baseline, and the
best (shortest) wall time of each is kept, so a busy moment on a shared machine does not count.
The processes run in a temporary folder, so the package measured is the one ``import
ptychostitch`` finds there (set ``PYTHONPATH`` to measure a checkout); its path is printed.
Targets (issue 14): help and usage errors at most 2x the baseline, an error for a missing input
file at most 3x; ``stitchers --json`` (entry-point metadata, no stitcher imported) has no target.

Usage: ``python benchmarks/cli_startup.py [--repeats 7]``. Results: ``docs/performance.md#startup``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cases(missing: Path, out: Path) -> list[tuple[str, list[str], int, float | None]]:
    """``(label, arguments after python, expected exit status, target ratio)`` for every measurement."""
    cli = ["-m", "ptychostitch"]
    return [
        ('python -c "import numpy" (baseline)', ["-c", "import numpy"], 0, None),
        ("ptychostitch --help", [*cli, "--help"], 0, 2.0),
        ("ptychostitch --version", [*cli, "--version"], 0, 2.0),
        ("ptychostitch evaluate --help", [*cli, "evaluate", "--help"], 0, 2.0),
        ("usage error (run --epochs x)", [*cli, "run", "--epochs", "x"], 2, 2.0),
        ("missing input file (evaluate)", [*cli, "evaluate", "--test-npz", str(missing), "--predictions", str(missing), "--output-dir", str(out)], 2, 3.0),
        ("ptychostitch stitchers --json", [*cli, "stitchers", "--json"], 0, None),
    ]


def _time(arguments: list[str], expected: int, cwd: str) -> float:
    """Wall seconds of one run of ``python arguments`` in ``cwd``; a wrong exit status is an error."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != expected:
        raise SystemExit(f"{' '.join(arguments)}: exit {done.returncode}, expected {expected}: {done.stderr.decode()[-300:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each command; the best is kept (default: 7)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = _cases(Path(tmp) / "no-such.npz", Path(tmp) / "out")
        where = subprocess.run([sys.executable, "-c", "import ptychostitch; print(ptychostitch.__file__)"], capture_output=True, text=True, cwd=tmp, check=True)
        best = {label: float("inf") for label, *_ in cases}
        for _ in range(options.repeats):
            for label, arguments, expected, _target in cases:
                best[label] = min(best[label], _time(arguments, expected, tmp))
    baseline = best[cases[0][0]]
    print(f"package: {where.stdout.strip()}")
    print(f"best of {options.repeats}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'command':<38} {'best s':>8} {'ratio':>7} {'target':>7}  met?")
    for label, _arguments, _expected, target in cases:
        ratio = best[label] / baseline
        verdict = "" if target is None else ("yes" if ratio <= target else "NO")
        shown = "" if target is None else f"<= {target:g}x"
        print(f"{label:<38} {best[label]:8.3f} {ratio:7.2f} {shown:>7}  {verdict}")


if __name__ == "__main__":
    main()
