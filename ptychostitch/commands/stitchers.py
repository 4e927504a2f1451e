"""``ptychostitch stitchers``: list registered stitchers, optionally with their verdict on a dataset."""

from __future__ import annotations

import argparse
import json
import sys

from ptychostitch.commands.flags import existing_file
from ptychostitch.data import load_gridlines
from ptychostitch.runner.context import stitch_context
from ptychostitch.stitchers import available, check_context, guard
from ptychostitch.stitchers.registry import get_registry

NAME = "stitchers"
HELP = "List every registered stitcher: name, priority, distribution and entry point (and, with --test-npz, whether it can run)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--test-npz", type=existing_file, metavar="P", help="also say whether each stitcher can run on this grid-lines test split, and why not")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def execute(args: argparse.Namespace) -> int:
    reg = get_registry()
    context = stitch_context(load_gridlines(args.test_npz)) if args.test_npz is not None else None
    if context is not None:
        check_context(context)  # the check selection makes before asking any stitcher
    rows: list[dict[str, object]] = []
    for name, stitcher in available().items():
        found = reg.stitchers[name]
        row: dict[str, object] = {"name": name, "distribution": found.distribution, "entry_point": found.entry_point, "priority": stitcher.priority}
        if context is not None:
            verdict, _ = guard.capability(stitcher, context, registry=reg)
            row.update(can_run=verdict.ok, reason=verdict.reason)
        rows.append(row)
    if args.json:
        document: dict[str, object] = {"stitchers": rows, "skipped_plugins": reg.skipped}
        if args.test_npz is not None:
            document["test_npz"] = str(args.test_npz)
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    width = max([len(str(r["name"])) for r in rows] + [4])
    for r in rows:
        # The entry point is what PTYCHOSTITCH_PLUGINS / PTYCHOSTITCH_DISABLE_PLUGINS name.
        line = f"{r['name']:<{width}}  priority {r['priority']:>4}  from {r['distribution']} (entry point {r['entry_point']})"
        if context is not None:
            line += f"  {'can run' if r['can_run'] else 'cannot run'}: {r['reason']}"
        print(line)
    for name, why in reg.skipped.items():
        print(f"(skipped plugin {name}: {why})")
    return 0
