"""Every built-in stitcher (distribution ``ptychostitch``) passes ``check_stitcher``.

Stitchers are found through the entry-point group (ignoring any allow/deny variables set in
the shell), so a built-in added later is checked automatically.
"""

import pytest

from ptychostitch.stitchers.registry import Registry
from ptychostitch.testing import check_stitcher

INSTALLED = Registry.load(environ={}).stitchers
BUILTIN = sorted(name for name, found in INSTALLED.items() if found.distribution == "ptychostitch")


def test_builtins_are_registered() -> None:
    assert "tf-style" in BUILTIN


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_stitcher_conforms(name: str) -> None:
    check_stitcher(INSTALLED[name].stitcher)
