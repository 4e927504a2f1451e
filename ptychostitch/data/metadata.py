"""The fields of a grid-lines ``_metadata`` object that ptychostitch reads, checked before any is used.

PtychoPINN's metadata (``ptycho/metadata.py::MetadataManager``) is free-form JSON; only the
fields in :data:`FIELDS` shape what ptychostitch does (the scan grid, sizes, photons). Each is
checked by :func:`check_metadata` for its type and range, so that ``Infinity``, ``1e400``,
``NaN``, a string or a section that is not a JSON object is one clear error naming the file,
the key path, what was expected and what was found, instead of a silently ignored grid or a
crash later. A field that is absent or ``null`` is allowed (it means "not recorded"). Other
fields are kept as they are and never interpreted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ptychostitch.errors import InputError, quoted

SECTIONS = ("physics_parameters", "additional_parameters", "creation_info", "training_parameters")
"""Top-level keys that, when present and not ``null``, must be JSON objects."""


@dataclass(frozen=True)
class Field:
    """What one metadata field must hold: a finite number of at least ``low``, integral if ``integral``."""

    low: float
    integral: bool

    @property
    def expected(self) -> str:
        if self.integral:
            return f"an integer >= {int(self.low)}"
        return "a finite number > 0"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.integral:
            return float(value).is_integer() and value >= self.low
        return value > self.low


_COUNT = Field(low=1, integral=True)

FIELDS: dict[tuple[str, str], Field] = {
    ("physics_parameters", "N"): _COUNT,
    ("physics_parameters", "gridsize"): _COUNT,
    ("physics_parameters", "nphotons"): Field(low=0, integral=False),
    ("additional_parameters", "size"): _COUNT,
    ("additional_parameters", "offset"): Field(low=0, integral=True),
    ("additional_parameters", "outer_offset_train"): _COUNT,
    ("additional_parameters", "outer_offset_test"): _COUNT,
    ("additional_parameters", "nimgs_train"): _COUNT,
    ("additional_parameters", "nimgs_test"): _COUNT,
}
"""Section and key of every number ptychostitch reads, with what it must hold."""


def check_metadata(path: Path, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Check the sections and the fields of :data:`FIELDS`; return ``metadata`` with integral fields as ``int``.

    Raises
    ------
    InputError
        ``PATH: key '_metadata': SECTION.KEY: expected E, found F`` for the first bad field.
    """
    checked = dict(metadata)
    for section in SECTIONS:
        value = checked.get(section)
        if value is not None and not isinstance(value, dict):
            _refuse(path, section, "a JSON object", value)
    for (section, key), field in FIELDS.items():
        value = (checked.get(section) or {}).get(key)
        if value is None:
            continue
        if not field.accepts(value):
            _refuse(path, f"{section}.{key}", field.expected, value)
        if field.integral and not isinstance(value, int):
            checked[section] = {**checked[section], key: int(value)}
    return checked


def _refuse(path: Path, key_path: str, expected: str, value: Any) -> None:
    raise InputError(f"{quoted(path)}: key '_metadata': {key_path}: expected {expected}, found {_describe(value)}")


def _describe(value: Any) -> str:
    """A short, one-line account of a JSON value (``Infinity``, ``NaN``, ``a list``, ``'392'``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("-Infinity" if value < 0 else "Infinity (or a number too large for a float)")
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}" + ("..." if len(value) > 40 else "")
    return repr(value)
