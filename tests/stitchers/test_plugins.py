"""Plugin discovery, failures, allow/deny variables, selection and ``ptychostitch stitchers``.

Plugins here are real installed distributions made on the fly by the ``install`` fixture
(``tests/conftest.py``), found through ``importlib.metadata`` exactly as an installed package is.
"""

from __future__ import annotations

import json
import logging
import sys
import textwrap
import warnings
from typing import Callable

import pytest

from ptychostitch.errors import InputError, PluginError
from ptychostitch.plugins import ALLOW_ENV, DENY_ENV, PluginWarning
from ptychostitch.stitchers import StitchContext, available, get, registry, select
from ptychostitch.stitchers.registry import Registry

Install = Callable[..., None]

CONTEXT = StitchContext(N=8, gridsize=1, n_rows=4, frame_shape=(10, 10), frame_rows=range(4))


def plugin_module(*stitchers: tuple[str, int, bool]) -> str:
    """Source of a plugin module registering fake stitchers ``(name, priority, can_run)``."""
    calls = "\n".join(f"    register(Fake({name!r}, {priority}, {ok}))" for name, priority, ok in stitchers)
    return textwrap.dedent(
        """
        from ptychostitch import hookimpl
        from ptychostitch.stitchers import Capability

        class Fake:
            def __init__(self, name, priority, ok):
                self.name, self.priority, self.ok = name, priority, ok

            def capability(self, context):
                return Capability(self.ok, "fake can run" if self.ok else f"{self.name} refuses: fake reason")

            def stitch(self, context, batches):
                raise NotImplementedError

        @hookimpl
        def register_stitchers(register):
        """
    ) + calls + "\n"


def test_builtin_stitcher_comes_through_the_entry_point_group() -> None:
    reg = Registry.load(environ={})
    assert reg.stitchers["tf-style"].distribution == "ptychostitch"
    assert reg.stitchers["tf-style"].entry_point == "tf-style"


def test_installed_plugin_is_found_with_its_distribution(install: Install) -> None:
    install("fake-good", {"good": "fake_good"}, {"fake_good": plugin_module(("good-one", 3, True))})
    reg = Registry.load(environ={})
    found = reg.stitchers["good-one"]
    assert (found.distribution, found.entry_point, found.stitcher.priority) == ("fake-good", "good", 3)
    assert "tf-style" in reg.stitchers


def test_plugin_that_fails_to_import_is_warned_about_and_skipped(install: Install) -> None:
    install("fake-broken", {"broken": "fake_broken"}, {"fake_broken": "raise ImportError('needs missing_dep_xyz')\n"})
    install("fake-good", {"good": "fake_good"}, {"fake_good": plugin_module(("good-one", 3, True))})
    with pytest.warns(PluginWarning, match=r"plugin 'broken' from fake-broken failed to load: .*missing_dep_xyz.*skipped"):
        reg = Registry.load(environ={})
    assert "missing_dep_xyz" in reg.skipped["broken"]
    assert {"tf-style", "good-one"} <= set(reg.stitchers)


@pytest.mark.parametrize(
    "source,message",
    [
        (
            "from ptychostitch import hookimpl\n@hookimpl\ndef register_stitchers(register):\n    raise RuntimeError('hook bug')\n",
            r"failed in register_stitchers: RuntimeError\('hook bug'\)",
        ),
        (
            "from ptychostitch import hookimpl\n@hookimpl\ndef register_stitcher(register):\n    pass\n",
            r"implements an unknown hook.*register_stitcher",
        ),
        (
            "def register_stitchers(register):\n    raise AssertionError('never called')\n",
            r"implements no ptychostitch hook.*@ptychostitch.hookimpl",
        ),
        (
            "from ptychostitch import hookimpl\n@hookimpl\ndef register_stitchers(register):\n    register(object())\n",
            r"has no non-empty string `name`",
        ),
        (plugin_module(("auto", 1, True)), r"reserved name 'auto'"),
    ],
    ids=["hook raises", "misspelt hook", "no @hookimpl", "not a stitcher", "reserved name"],
)
def test_faulty_plugin_is_skipped_and_the_others_still_load(install: Install, source: str, message: str) -> None:
    install("fake-faulty", {"faulty": "fake_faulty"}, {"fake_faulty": source})
    install("fake-good", {"good": "fake_good"}, {"fake_good": plugin_module(("good-one", 3, True))})
    with pytest.warns(PluginWarning, match=message):
        reg = Registry.load(environ={})
    assert "faulty" in reg.skipped
    assert {"tf-style", "good-one"} <= set(reg.stitchers)


def test_two_stitchers_with_one_name_is_an_error_naming_both_distributions(install: Install) -> None:
    install("fake-alpha", {"alpha": "fake_alpha"}, {"fake_alpha": plugin_module(("same", 1, True))})
    install("fake-beta", {"beta": "fake_beta"}, {"fake_beta": plugin_module(("same", 2, True))})
    with pytest.raises(PluginError, match=r"'same' is registered twice") as raised:
        Registry.load(environ={})
    assert "'fake-alpha'" in str(raised.value) and "'fake-beta'" in str(raised.value)
    # Blocking one of them by its entry point resolves the clash.
    assert Registry.load(environ={DENY_ENV: "beta"}).stitchers["same"].distribution == "fake-alpha"


def test_one_entry_point_name_from_two_distributions_is_an_error(install: Install) -> None:
    install("fake-alpha", {"twin": "fake_alpha"}, {"fake_alpha": plugin_module(("a", 1, True))})
    install("fake-beta", {"twin": "fake_beta"}, {"fake_beta": plugin_module(("b", 1, True))})
    with pytest.raises(PluginError, match=r"entry point 'twin'.*'fake-alpha'.*'fake-beta'|entry point 'twin'.*'fake-beta'.*'fake-alpha'"):
        Registry.load(environ={})


def test_allow_list_loads_only_the_named_entry_points(install: Install, caplog: pytest.LogCaptureFixture) -> None:
    install("fake-broken", {"broken": "fake_broken"}, {"fake_broken": "raise ImportError('never imported')\n"})
    install("fake-good", {"good": "fake_good"}, {"fake_good": plugin_module(("good-one", 3, True))})
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)
        reg = Registry.load(environ={ALLOW_ENV: " good , not-installed"})
    assert set(reg.stitchers) == {"good-one"}
    assert reg.skipped["tf-style"] == f"not listed in {ALLOW_ENV}"
    assert "fake_broken" not in sys.modules
    assert "not-installed" in caplog.text
    assert Registry.load(environ={ALLOW_ENV: ""}).stitchers == {}


def test_deny_list_blocks_entry_points_and_wins_over_the_allow_list(install: Install) -> None:
    install("fake-broken", {"broken": "fake_broken"}, {"fake_broken": "raise ImportError('never imported')\n"})
    install("fake-good", {"good": "fake_good"}, {"fake_good": plugin_module(("good-one", 3, True))})
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)
        reg = Registry.load(environ={DENY_ENV: "broken,good"})
        both = Registry.load(environ={ALLOW_ENV: "good,tf-style", DENY_ENV: "good"})
    assert "tf-style" in reg.stitchers and "good-one" not in reg.stitchers
    assert reg.skipped["broken"] == f"listed in {DENY_ENV}"
    assert set(both.stitchers) == {"tf-style"}


def test_process_registry_reads_the_environment_once_until_reset(install: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    install("fake-good", {"good": "fake_good"}, {"fake_good": plugin_module(("good-one", 3, True))})
    monkeypatch.setenv(DENY_ENV, "tf-style")
    assert "tf-style" not in available() and "good-one" in available()
    monkeypatch.delenv(DENY_ENV)
    assert "tf-style" not in available()  # cached
    registry.reset()
    assert "tf-style" in available()


@pytest.fixture
def ranked(install: Install) -> Registry:
    """A registry of three fake stitchers: 'high' (30) cannot run, 'mid' (20) and 'low' (1) can."""
    source = plugin_module(("high", 30, False), ("mid", 20, True), ("low", 1, True))
    install("fake-select", {"ranked": "fake_ranked"}, {"fake_ranked": source})
    return Registry.load(environ={ALLOW_ENV: "ranked"})


def test_auto_takes_the_highest_priority_capable_stitcher_and_records_rejections(
    ranked: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ptychostitch")
    choice = select(CONTEXT, registry=ranked)
    assert choice.stitcher.name == "mid" and choice.fallback
    assert choice.rejected == {"high": "high refuses: fake reason"}
    assert choice.as_json() == {
        "name": "mid", "requested": "auto", "fallback": True, "reason": "fake can run",
        "rejected": {"high": "high refuses: fake reason"},
    }  # fmt: skip
    assert "high" in caplog.text and "fake reason" in caplog.text
    assert any(r.levelno == logging.WARNING and "falling back" in r.getMessage() for r in caplog.records)


def test_auto_without_rejections_is_no_fallback(install: Install) -> None:
    install("fake-select", {"ranked": "fake_ranked"}, {"fake_ranked": plugin_module(("b", 5, True), ("a", 5, True), ("c", 1, True))})
    choice = select(CONTEXT, "auto", registry=Registry.load(environ={ALLOW_ENV: "ranked"}))
    assert (choice.stitcher.name, choice.fallback, choice.rejected) == ("a", False, {})  # equal priority: by name


def test_explicit_name_is_used_or_refused_with_its_reason(ranked: Registry) -> None:
    choice = select(CONTEXT, "low", registry=ranked)
    assert (choice.stitcher.name, choice.requested, choice.fallback) == ("low", "low", False)
    with pytest.raises(InputError, match=r"stitcher 'high' cannot run on this dataset: high refuses: fake reason"):
        select(CONTEXT, "high", registry=ranked)


def test_unknown_name_lists_the_known_ones(ranked: Registry) -> None:
    with pytest.raises(InputError, match=r"unknown stitcher 'nope'; registered stitchers: high, mid, low$"):
        select(CONTEXT, "nope", registry=ranked)
    with pytest.raises(InputError, match="unknown stitcher"):
        get("nope", registry=ranked)


def test_no_capable_stitcher_is_an_input_error_with_every_reason(install: Install) -> None:
    install("fake-select", {"ranked": "fake_ranked"}, {"fake_ranked": plugin_module(("x", 2, False), ("y", 1, False))})
    with pytest.raises(InputError, match=r"no stitcher can run.*x: x refuses: fake reason; y: y refuses: fake reason"):
        select(CONTEXT, registry=Registry.load(environ={ALLOW_ENV: "ranked"}))


def test_capability_check_that_raises_counts_as_a_rejection(install: Install) -> None:
    crashing = textwrap.dedent(
        """
        from fake_ranked import Fake, hookimpl

        class Crashing(Fake):
            def capability(self, context):
                raise ValueError("capability bug")

        @hookimpl
        def register_stitchers(register):
            register(Crashing("crashing", 99, True))
        """
    )
    install("fake-select", {"ranked": "fake_ranked"}, {"fake_ranked": plugin_module(("fine", 1, True))})
    install("fake-crash", {"crash": "fake_crash"}, {"fake_crash": crashing})
    choice = select(CONTEXT, registry=Registry.load(environ={ALLOW_ENV: "ranked,crash"}))
    assert choice.stitcher.name == "fine" and choice.fallback
    assert "capability bug" in choice.rejected["crashing"]


def test_select_uses_the_process_registry_by_default(install: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    install("fake-select", {"ranked": "fake_ranked"}, {"fake_ranked": plugin_module(("top", 99, True))})
    monkeypatch.setenv(ALLOW_ENV, "ranked,tf-style")
    assert select(CONTEXT).stitcher.name == "top"


def test_stitchers_json_lists_name_distribution_entry_point_priority(install: Install, run_cli) -> None:  # noqa: ANN001
    install("fake-select", {"ranked": "fake_ranked"}, {"fake_ranked": plugin_module(("mid", 20, True))})
    install("fake-broken", {"broken": "fake_broken"}, {"fake_broken": "raise ImportError('needs missing_dep_xyz')\n"})
    status, out, err = run_cli("stitchers", "--json")
    assert status == 0
    listing = json.loads(out)
    rows = {row["name"]: row for row in listing["stitchers"]}
    assert rows["mid"] == {"name": "mid", "distribution": "fake-select", "entry_point": "ranked", "priority": 20}
    assert rows["tf-style"] == {"name": "tf-style", "distribution": "ptychostitch", "entry_point": "tf-style", "priority": 10}
    assert list(rows).index("mid") < list(rows).index("tf-style")  # highest priority first
    assert "missing_dep_xyz" in listing["skipped_plugins"]["broken"]
    assert "broken" in err  # the warning reaches the person on stderr


def test_stitchers_table_and_duplicate_error_on_the_command_line(install: Install, run_cli) -> None:  # noqa: ANN001
    install("fake-alpha", {"alpha": "fake_alpha"}, {"fake_alpha": plugin_module(("same", 1, True))})
    status, out, _ = run_cli("stitchers")
    assert status == 0 and "tf-style" in out
    assert any("same" in line and "from fake-alpha (entry point alpha)" in line for line in out.splitlines()), out
    install("fake-beta", {"beta": "fake_beta"}, {"fake_beta": plugin_module(("same", 2, True))})
    registry.reset()
    status, out, err = run_cli("stitchers")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "fake-alpha" in err and "fake-beta" in err
