"""The flag generator on small dataclasses: types, checks, switches, nesting, and its refusals."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from ptychostitch.commands.flags import add_flags, config_from_args


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(message)


@dataclass(frozen=True)
class Inner:
    size: int = field(default=3, metadata={"help": "inner size", "flag": "--inner-size", "check": "positive"})
    mode: Literal["a", "b"] = field(default="a", metadata={"help": "inner mode"})
    hidden: str = "kept"


@dataclass(frozen=True)
class Outer:
    path: Path = field(metadata={"help": "a required path", "metavar": "P"})
    count: int = field(default=0, metadata={"help": "how many", "check": "non-negative"})
    rate: float = field(default=0.5, metadata={"help": "a rate %", "check": "positive"})
    limit: float | None = field(default=None, metadata={"help": "optional limit", "default_text": "none at all"})
    name: str | None = field(default=None, metadata={"help": "a name"})
    flag: bool = field(default=False, metadata={"help": "switch on"})
    keep: bool = field(default=True, metadata={"help": "keep it", "negative": ("--drop", "drop it"), "group": "extra"})
    inner: Inner = field(default=Inner(size=5), metadata={"nested": ("size", "mode"), "group": "extra"})


def parser_for(cls: type) -> argparse.ArgumentParser:
    parser = _Parser(prog="t")
    add_flags(parser, cls)
    return parser


def parse(*argv: str) -> Outer:
    return config_from_args(Outer, parser_for(Outer).parse_args(list(argv)))


def test_defaults_come_from_the_dataclass_and_nested_default() -> None:
    assert parse("--path", "x") == Outer(path=Path("x"))
    assert parse("--path", "x").inner == Inner(size=5, mode="a", hidden="kept")


def test_every_kind_of_field_parses() -> None:
    got = parse(
        "--path", "p", "--count", "0", "--rate", "2.5", "--limit", "1e3", "--name", "n", "--flag", "--drop",
        "--inner-size", "7", "--mode", "b",
    )
    assert got == Outer(path=Path("p"), count=0, rate=2.5, limit=1000.0, name="n", flag=True, keep=False, inner=Inner(7, "b"))
    assert isinstance(got.count, int) and isinstance(got.path, Path)
    assert parse("--path", "p", "--keep").keep is True


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--count", "-1"], "argument --count: expected an integer >= 0, found -1"),
        (["--count", "1.5"], "argument --count: expected an integer >= 0, found '1.5'"),
        (["--rate", "0"], "argument --rate: expected a finite number > 0, found 0"),
        (["--rate", "nan"], "argument --rate: expected a finite number > 0, found nan"),
        (["--limit", "inf"], "argument --limit: expected a finite number, found inf"),
        (["--inner-size", "0"], "argument --inner-size: expected an integer > 0, found 0"),
        (["--mode", "c"], "argument --mode: invalid choice: 'c'"),
        (["--keep", "--drop"], "argument --drop: not allowed with argument --keep"),
        ([], "the following arguments are required: --path"),
    ],
)
def test_bad_values_name_the_flag(argv: list[str], words: str) -> None:
    with pytest.raises(ValueError) as error:
        parse(*(argv if not argv else ["--path", "p", *argv]))
    assert words in str(error.value)


def test_help_shows_defaults_groups_and_escapes_percent() -> None:
    text = " ".join(parser_for(Outer).format_help().split())
    assert "a rate % (default: 0.5)" in text
    assert "optional limit (default: none at all)" in text
    assert "how many (default: 0)" in text
    assert "inner size (default: 5)" in text  # the outer field's default, not Inner's own
    assert "keep it (default)" in text and "drop it" in text
    assert "a name (default" not in text and "switch on (default" not in text
    assert "extra:" in text and "hidden" not in text


def test_bad_declarations_are_refused() -> None:
    @dataclass
    class NoHelp:
        x: int = 1

    @dataclass
    class UnknownKey:
        x: int = field(default=1, metadata={"help": "h", "hepl": "typo"})

    @dataclass
    class TrueWithoutOff:
        x: bool = field(default=True, metadata={"help": "h"})

    @dataclass
    class CheckOnText:
        x: str = field(default="a", metadata={"help": "h", "check": "positive"})

    @dataclass
    class IntChoices:
        x: Literal[1, 2] = field(default=1, metadata={"help": "h"})

    @dataclass
    class ListField:
        x: list = field(default_factory=list, metadata={"help": "h"})  # type: ignore[type-arg]

    for cls, words in [
        (NoHelp, "needs 'help'"), (UnknownKey, "hepl"), (TrueWithoutOff, "negative"), (CheckOnText, "'check' applies"),
        (IntChoices, "must be strings"), (ListField, "no command-line form"),
    ]:
        with pytest.raises(TypeError, match=words):
            parser_for(cls)


@dataclass(frozen=True)
class Many:
    folders: tuple[Path, ...] = field(metadata={"help": "folders", "metavar": "DIR"})
    out: Path = field(default=Path("o"), metadata={"help": "output"})


def test_tuple_field_is_a_positional_argument_of_one_or_more() -> None:
    got = config_from_args(Many, parser_for(Many).parse_args(["a", "b", "--out", "x"]))
    assert got == Many(folders=(Path("a"), Path("b")), out=Path("x"))
    with pytest.raises(ValueError, match="required"):
        parser_for(Many).parse_args(["--out", "x"])
    assert "DIR [DIR ...]" in parser_for(Many).format_usage()


def test_tuple_field_with_a_default_is_refused() -> None:
    @dataclass(frozen=True)
    class Bad:
        folders: tuple[Path, ...] = field(default=(), metadata={"help": "folders"})

    with pytest.raises(TypeError, match="positional argument"):
        parser_for(Bad)
