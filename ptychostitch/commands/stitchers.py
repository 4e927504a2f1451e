"""``ptychostitch stitchers``: list registered stitchers, optionally with their verdict on a dataset."""

from __future__ import annotations

import argparse
import json
import sys

from ptychostitch.plugins import registry
from ptychostitch.stitchers import available

NAME = "stitchers"
HELP = "List every registered stitcher: name, distribution, priority (and, with --test-npz, whether it can run)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def execute(args: argparse.Namespace) -> int:
    reg = registry()
    rows = [
        {"name": name, "distribution": reg.stitchers[name].distribution, "priority": s.priority}
        for name, s in available().items()
    ]
    if args.json:
        json.dump({"stitchers": rows, "skipped_plugins": reg.skipped}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    width = max([len(r["name"]) for r in rows] + [4])
    for r in rows:
        print(f"{r['name']:<{width}}  priority {r['priority']:>4}  from {r['distribution']}")
    for name, why in reg.skipped.items():
        print(f"(skipped plugin {name}: {why})")
    return 0
