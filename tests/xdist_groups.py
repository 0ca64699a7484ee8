"""Parallel ``make test`` (pytest-xdist, ``-n 2 --dist loadgroup``) without building a costly fixture twice.

A session fixture (a built lake, the demo run, a CDK synth) is built once per test process that uses it, so every
module that uses one must run in the same process as every other module using it. The workers, which collect the
tests, put each module in a group with the costly session fixtures its tests use, joined across modules that share
one (union-find), and write the module -> group map to a file the controller names; the controller's scheduler
(a ``LoadScopeScheduling`` whose scope is that group) then hands each group to one worker as one unit.

xdist's own ``xdist_group`` marks cannot carry this on pytest 9: xdist 3.8 appends the group to ``item._nodeid``,
which pytest 9 no longer reads (a node's id is ``item._id``), so every test was scheduled alone and both
workers built the demo run and the batch lake.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

#: session fixtures every test process builds cheaply for itself (the others are built once, in one process)
PER_PROCESS = frozenset({"spark", "moto_endpoint", "tmp_path_factory", "worker_id", "testrun_uid",
                         "monkeypatch", "request", "pytestconfig", "record_testsuite_property"})
#: the key of the group file's path in each worker's ``workerinput``
GROUPS_KEY = "lakehouse_test_groups"


def module_of(nodeid: str) -> str:
    """The test module of a node id: ``tests/a/test_b.py::test_c[x]`` -> ``tests/a/test_b.py``."""
    return nodeid.split("::", 1)[0]


def costly_fixtures(item: pytest.Item) -> list[str]:
    """The session-scoped fixtures ``item`` uses (directly or through other fixtures), but the per-process ones."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    return sorted(name for name, defs in info.name2fixturedefs.items()
                  if name not in PER_PROCESS and defs and defs[-1].scope == "session")


def module_groups(items: list[pytest.Item]) -> dict[str, str]:
    """Module -> group: modules sharing a costly session fixture, directly or through other modules, share a group
    (named after one of those fixtures); any other module is its own group."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for item in items:
        module = "module:" + module_of(item.nodeid)
        find(module)
        for name in costly_fixtures(item):
            parent[find(module)] = find("fixture:" + name)
    modules = {module_of(item.nodeid) for item in items}
    return {module: find("module:" + module) for module in sorted(modules)}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Controller, ``--dist loadgroup``: tell each worker where to write the module -> group map."""
    if node.config.getvalue("dist") == "loadgroup":
        node.workerinput[GROUPS_KEY] = str(_groups_path(node.config))


def _groups_path(config: pytest.Config) -> Path:
    return Path(tempfile.gettempdir()) / f"lakehouse-test-groups-{os.getpid()}.json"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Worker: write the module -> group map of the collected tests (every worker collects the same tests)."""
    path = getattr(config, "workerinput", {}).get(GROUPS_KEY)
    if not path:
        return
    target = Path(path)
    partial = target.with_suffix(f".{config.workerinput['workerid']}.tmp")
    partial.write_text(json.dumps(module_groups(items)))
    os.replace(partial, target)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Controller, ``--dist loadgroup``: schedule whole groups of :func:`module_groups` (read from the file the
    workers wrote before reporting their collection, so it exists when scheduling starts)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    path = _groups_path(config)

    class GroupScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                self.groups = json.loads(path.read_text())
                path.unlink(missing_ok=True)
            module = module_of(nodeid)
            return self.groups.get(module, module)

    return GroupScheduling(config, log)
