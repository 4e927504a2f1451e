"""What every config dataclass's field metadata means, where more than the command line reads it.

Options are declared once, on dataclass fields (:mod:`ptychostitch.commands.flags` turns them into
flags). Two parts of that declaration are needed below the command line too, and live here:
the flag that names a field (so an error can name it) and the range checks of numbers (so a
config built in Python is checked exactly as its flags are).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

from ptychostitch.errors import InputError

NUMBER_CHECKS: dict[str, tuple[str, Callable[[float], bool]]] = {
    "positive": ("> 0", lambda value: value > 0),
    "non-negative": (">= 0", lambda value: value >= 0),
    "fraction": ("in [0, 1)", lambda value: 0 <= value < 1),
}
"""Metadata ``check`` -> (what it expects, in words; whether a finite value passes)."""


def flag_name(spec: dataclasses.Field) -> str:  # type: ignore[type-arg]
    """The command-line flag of a field: metadata ``flag``, else ``--`` + its name with ``-`` for ``_``."""
    return spec.metadata.get("flag", "--" + spec.name.replace("_", "-"))


def number_problem(value: Any, check: str | None) -> str:
    """What is wrong with the number ``value`` under ``check`` (``""`` when nothing): e.g. ``"expected a finite number >= 0, found -1"``."""
    kind = "an integer" if isinstance(value, int) and not isinstance(value, bool) else "a finite number"
    expected = kind if check is None else f"{kind} {NUMBER_CHECKS[check][0]}"
    if not math.isfinite(value) or (check is not None and not NUMBER_CHECKS[check][1](value)):
        return f"expected {expected}, found {value:g}" if isinstance(value, float) else f"expected {expected}, found {value}"
    return ""


def check_numbers(config: Any) -> None:
    """Check every number of the config dataclass ``config`` (its ``nested`` fields too) against its declared ``check``.

    None values pass (they mean "not given"). The command line checks the same while parsing;
    this is for a config built in Python.

    Raises
    ------
    InputError
        ``--flag: expected ..., found ...`` for the first number out of range.
    """
    for spec in dataclasses.fields(config):
        value = getattr(config, spec.name)
        nested = spec.metadata.get("nested")
        if nested is None:
            pairs = [(spec, value)]
        else:
            inner = {field.name: field for field in dataclasses.fields(value)}
            pairs = [(inner[name], getattr(value, name)) for name in nested]
        for field, number in pairs:
            check = field.metadata.get("check")
            if check is None or isinstance(number, bool) or not isinstance(number, (int, float)):
                continue
            problem = number_problem(number, check)
            if problem:
                raise InputError(f"{flag_name(field)}: {problem}")
