"""``ptychostitch stitchers``: list registered stitchers, optionally with their verdict on a dataset."""

from __future__ import annotations

import argparse
import json
import sys

from ptychostitch.commands.flags import add_flags, config_from_args
from ptychostitch.data import load_gridlines
from ptychostitch.errors import InputError
from ptychostitch.runner.context import stitch_context, stitch_options
from ptychostitch.runner.defaults import STITCH_OPTIONS, StitchersConfig
from ptychostitch.stitchers import available, check_context, verdict
from ptychostitch.stitchers.registry import get_registry

NAME = "stitchers"
HELP = (
    "List every registered stitcher: name, priority, distribution and entry point (and, with --test-npz, "
    "whether it can run with the given --stitch-weighting and --crop, exactly as run and evaluate would decide)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, StitchersConfig)


def execute(args: argparse.Namespace) -> int:
    config: StitchersConfig = config_from_args(StitchersConfig, args)
    if config.test_npz is None and config.stitch != STITCH_OPTIONS:
        raise InputError("--stitch-weighting and --crop say how a dataset is stitched: give --test-npz too")
    reg = get_registry()
    context = None
    if config.test_npz is not None:
        dataset = load_gridlines(config.test_npz)
        context = stitch_context(dataset, stitch_options(dataset, config.stitch))
        check_context(context)  # the check selection makes before asking any stitcher
    rows: list[dict[str, object]] = []
    for name, stitcher in available().items():
        found = reg.stitchers[name]
        row: dict[str, object] = {"name": name, "distribution": found.distribution, "entry_point": found.entry_point, "priority": stitcher.priority}
        if context is not None:
            answer, _ = verdict(stitcher, context, registry=reg)
            row.update(can_run=answer.ok, reason=answer.reason)
        rows.append(row)
    if config.json:
        document: dict[str, object] = {"stitchers": rows, "skipped_plugins": reg.skipped}
        if context is not None:
            document["test_npz"] = str(config.test_npz)
            document["options"] = {"weighting": context.options.weighting, "crop": context.options.crop}
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
