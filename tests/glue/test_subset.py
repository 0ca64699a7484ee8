"""The Glue environment's subset: its chooser, and the chosen list against the tests that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.glue.subset import ALWAYS, choose, missed, module_of, read_durations

ROOT = Path(__file__).resolve().parents[2]
SUBSET = ROOT / "tests" / "glue" / "subset.txt"


def test_durations_are_read_per_phase_with_spaces_in_parameter_ids() -> None:
    report = [
        "============================= slowest durations =============================",
        "83.10s call     tests/a/test_b.py::test_c[truncated gzip]",
        "1.50s setup    tests/a/test_b.py::test_c[truncated gzip]",
        "0.01s teardown tests/a/test_b.py::test_d",
        "(3 durations < 0.005s hidden.)",
    ]
    assert read_durations(report) == {
        "tests/a/test_b.py::test_c[truncated gzip]": {"call": 83.1, "setup": 1.5},
        "tests/a/test_b.py::test_d": {"teardown": 0.01},
    }


def test_the_cover_runs_every_line_and_prefers_a_module_already_paid_for() -> None:
    """Module m's fixture (60 s) runs lines 1-3 in its first test's setup; n's tests are cheap but n's fixture is not
    needed: a cheap test of m, once m is paid, beats a new module for the same line."""
    lines = {
        "m.py::a": {"setup": {("f", 1), ("f", 2), ("f", 3)}, "run": {("f", 4)}},
        "m.py::b": {"run": {("f", 5)}},
        "n.py::c": {"run": {("f", 5)}},
        "n.py::d": {"run": {("f", 6)}},
    }
    seconds = {
        "m.py::a": {"setup": 60.0, "call": 1.0},
        "m.py::b": {"call": 1.0},
        "n.py::c": {"setup": 30.0, "call": 0.5},
        "n.py::d": {"setup": 30.0, "call": 0.5},
    }
    chosen = choose(lines, seconds, always=())
    assert set(chosen) == {"m.py::a", "m.py::b", "n.py::d"}
    everything = set().union(*(set().union(*phases.values()) for phases in lines.values()))
    assert set().union(*(lines[node].get(phase, set()) for node in chosen for phase in lines[node])) == everything


def test_modules_kept_whole_come_first_and_the_rest_covers_what_they_miss() -> None:
    lines = {"g.py::x": {"run": {("f", 1)}}, "g.py::y": {"run": {("f", 1)}}, "h.py::z": {"run": {("f", 2)}}}
    chosen = choose(lines, {}, always=("g.py",))
    assert chosen == ["g.py::x", "g.py::y", "h.py::z"]


def test_a_missed_line_brings_in_the_cheapest_test_that_ran_it() -> None:
    full = {"m.py::a": {"run": {("f", 1), ("f", 2)}}, "m.py::b": {"run": {("f", 2)}}, "m.py::c": {"run": {("f", 3)}}}
    seconds = {"m.py::a": {"call": 9.0}, "m.py::b": {"call": 1.0}, "m.py::c": {"call": 1.0}}
    assert missed(full, measured={("f", 1), ("f", 3)}, seconds=seconds) == ["m.py::b"]
    assert missed(full, measured={("f", 1), ("f", 2), ("f", 3)}, seconds=seconds) == []


def test_a_line_the_subset_ran_once_and_not_again_is_reported_not_answered(capsys) -> None:
    full = {"m.py::a": {"run": {("f", 1)}}, "m.py::b": {"run": {("f", 1)}}}
    assert missed(full, measured=set(), seconds={}, subset=["m.py::a"]) == []
    assert "f:1 ran in the whole run's m.py::a" in capsys.readouterr().err


def _makefile_list(name: str) -> list[str]:
    """A ``NAME := ...`` list of the Makefile, continuation lines joined."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    return shlex.split(re.search(rf"^{name}\s*:=(.*)$", text, re.MULTILINE)[1])


def test_every_listed_test_exists_in_the_glue_tests_and_none_twice() -> None:
    """Each line of subset.txt (one pytest argument per line, as ``pytest @file`` reads them) names a test function
    defined in its module, within ``GLUE_TESTS`` and outside ``GLUE_SKIP``; a renamed or moved test fails here
    instead of making pytest stop on an unknown node id."""
    listed = SUBSET.read_text().splitlines()
    assert listed and all(listed) and len(listed) == len(set(listed))
    roots = _makefile_list("GLUE_TESTS")
    skipped = {arg.split("=", 1)[1] for arg in _makefile_list("GLUE_SKIP")}
    for node in listed:
        module, _, name = node.partition("::")
        function = name.split("[", 1)[0]
        assert any(module == root or module.startswith(root.rstrip("/") + "/") for root in roots), node
        assert module not in skipped, node
        assert re.search(rf"^(async )?def {re.escape(function)}\(", (ROOT / module).read_text(), re.MULTILINE), node
    assert set(ALWAYS) <= {module_of(node) for node in listed}
