"""Command-line flags generated from a config dataclass, and the config built back from them.

Each option is declared once, on its dataclass field: the field gives the name, the type and the
default; ``field(..., metadata={...})`` gives what the command line needs besides:

``help`` (required)
    The flag's help text; the default is appended from the dataclass.
``flag``
    The flag when it is not ``--`` + the field name with ``-`` for ``_`` (e.g. ``--stitch-weighting``).
``metavar``
    As in :meth:`argparse.ArgumentParser.add_argument`.
``check``
    ``"positive"``, ``"non-negative"`` or ``"fraction"`` (``0 <= x < 1``), for ``int`` and ``float``
    fields (floats must be finite); :data:`ptychostitch.options.NUMBER_CHECKS`.
``default_text``
    What the help says the default is when the default is None (e.g. ``"whole patch"``).
``group``
    Title of the argument group the flag is listed under.
``input``
    True for a ``Path`` field naming a file that must exist: a missing one is a usage error at
    parse time (``argument --test-npz: 'P': file not found``), before anything is imported or done.
``negative``
    For a ``bool`` field that defaults to True: ``(flag, help)`` of the flag that turns it off.
``nested``
    For a field holding a config dataclass: the names of its fields that become flags (each
    declared on the nested dataclass); its other fields keep the outer field's default. Their
    parsed values are ``args.<outer>_<inner>`` (e.g. ``args.stitch_crop``).

Field types: ``int``, ``float``, ``str``, ``Path``, ``bool`` (a switch), ``Literal[...]`` (its
values are the choices), each optionally ``| None``. A field without a default is a required flag.
``tuple[str, ...]`` or ``tuple[Path, ...]`` without a default is a positional argument taking one
or more values (named by ``metavar``).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Callable, Literal, Union

from ptychostitch.options import NUMBER_CHECKS, flag_name, number_problem

KEYS = frozenset({"help", "flag", "metavar", "check", "default_text", "group", "input", "negative", "nested"})
"""The metadata keys this module reads; any other key in a flag's metadata is an error."""


def _number(kind: Callable[[str], float], text: str, check: str | None) -> float:
    what = ("an integer" if kind is int else "a finite number") + ("" if check is None else f" {NUMBER_CHECKS[check][0]}")
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, found {text!r}") from None
    if number_problem(value, check):
        raise argparse.ArgumentTypeError(f"expected {what}, found {text}")
    return value


def _parser(kind: type, check: str | None) -> Callable[[str], Any]:
    """The argparse ``type`` for a number that passes ``check``."""

    def parse(text: str) -> Any:
        return _number(kind, text, check)

    return parse


def existing_file(text: str) -> Path:
    """The argparse ``type`` of an input file: the path, or a usage error when it is no file."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text!r}: file not found")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a file, found a folder")
    return path


def _without_none(hint: Any) -> tuple[Any, bool]:
    """``(T, True)`` for ``T | None``, ``(hint, False)`` otherwise."""
    if typing.get_origin(hint) in (Union, UnionType):
        args = [a for a in typing.get_args(hint) if a is not NoneType]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _default(spec: dataclasses.Field) -> Any:  # type: ignore[type-arg]
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


def _help(meta: dict[str, Any], default: Any) -> str:
    """The help text with the default appended (``%`` escaped for argparse)."""
    shown = meta.get("default_text")
    if shown is None and default is not None and not isinstance(default, bool) and default is not dataclasses.MISSING:
        shown = f"{default:g}" if isinstance(default, float) else str(default)
    text = meta["help"] if shown is None else f"{meta['help']} (default: {shown})"
    return text.replace("%", "%%")


def _add(target: Any, owner: type, spec: dataclasses.Field, hint: Any, dest: str, default: Any) -> None:  # type: ignore[type-arg]
    """Add the flag(s) of one field to ``target`` (a parser or an argument group)."""
    meta = dict(spec.metadata)
    where = f"{owner.__name__}.{spec.name}"
    if "help" not in meta or set(meta) - KEYS:
        raise TypeError(f"{where}: flag metadata needs 'help' and only the keys {sorted(KEYS)}, found {sorted(meta)}")
    flag = flag_name(spec)
    kind, optional = _without_none(hint)
    if typing.get_origin(kind) is tuple:
        items = typing.get_args(kind)
        if optional or default is not dataclasses.MISSING or len(items) != 2 or items[1] is not Ellipsis or items[0] not in (str, Path):
            raise TypeError(f"{where}: a tuple field is a positional argument: tuple[str, ...] or tuple[Path, ...] without a default, found {hint}")
        target.add_argument(dest, nargs="+", type=items[0], metavar=meta.get("metavar"), help=_help(meta, None))
        return
    options: dict[str, Any] = {"dest": dest, "help": _help(meta, default)}
    if default is dataclasses.MISSING:
        options["required"] = True
    else:
        options["default"] = default
    if kind is bool:
        if optional or "check" in meta or "metavar" in meta:
            raise TypeError(f"{where}: a bool flag is a switch; found {hint} with {sorted(meta)}")
        if default is True:
            if "negative" not in meta:
                raise TypeError(f"{where}: a bool that defaults to True needs metadata 'negative' (the flag that turns it off)")
            negative, negative_help = meta["negative"]
            pair = target.add_mutually_exclusive_group()
            pair.add_argument(flag, action="store_true", **{**options, "help": f"{meta['help']} (default)"})
            pair.add_argument(negative, dest=dest, action="store_false", help=negative_help)
            return
        target.add_argument(flag, action="store_true", **options)
        return
    if "metavar" in meta:
        options["metavar"] = meta["metavar"]
    if typing.get_origin(kind) is Literal:
        options["choices"] = typing.get_args(kind)
        if not all(isinstance(choice, str) for choice in options["choices"]):
            raise TypeError(f"{where}: Literal choices must be strings, found {hint}")
    elif kind in (int, float):
        options["type"] = _parser(kind, meta.get("check"))
    elif kind in (str, Path):
        options["type"] = existing_file if meta.get("input") else kind
    else:
        raise TypeError(f"{where}: no command-line form for type {hint}")
    if meta.get("input") and kind is not Path:
        raise TypeError(f"{where}: 'input' applies to Path fields, found {hint}")
    if "check" in meta and meta["check"] not in NUMBER_CHECKS:
        raise TypeError(f"{where}: 'check' must be one of {sorted(NUMBER_CHECKS)}, found {meta['check']!r}")
    if "check" in meta and kind not in (int, float):
        raise TypeError(f"{where}: 'check' applies to int and float fields, found {hint}")
    target.add_argument(flag, **options)


def _flags(cls: type) -> list[tuple[type, dataclasses.Field, Any, str, Any, str | None]]:  # type: ignore[type-arg]
    """``(owner, field, type hint, dest, default, group)`` for every flag of ``cls``, in field order."""
    found = []
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        nested = spec.metadata.get("nested")
        group = spec.metadata.get("group")
        if nested is None:
            found.append((cls, spec, hints[spec.name], spec.name, _default(spec), group))
            continue
        inner = hints[spec.name]
        inner_fields = {f.name: f for f in dataclasses.fields(inner)}
        inner_hints = typing.get_type_hints(inner)
        outer_default = _default(spec)
        for name in nested:
            found.append((inner, inner_fields[name], inner_hints[name], f"{spec.name}_{name}", getattr(outer_default, name), group))
    return found


def add_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one flag per field of the config dataclass ``cls`` (nested fields as their ``nested`` metadata says)."""
    groups: dict[str, Any] = {}
    for owner, spec, hint, dest, default, title in _flags(cls):
        if title is not None and title not in groups:
            groups[title] = parser.add_argument_group(title)
        _add(parser if title is None else groups[title], owner, spec, hint, dest, default)


def config_from_args(cls: type, args: argparse.Namespace) -> Any:
    """The ``cls`` instance the parsed ``args`` of :func:`add_flags` ask for."""
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        nested = spec.metadata.get("nested")
        if nested is None:
            value = getattr(args, spec.name)
            values[spec.name] = tuple(value) if isinstance(value, list) else value
        else:
            values[spec.name] = dataclasses.replace(_default(spec), **{name: getattr(args, f"{spec.name}_{name}") for name in nested})
    return cls(**values)
