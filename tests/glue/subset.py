"""Choose the Glue environment's tests for ``make test``: the cheapest set that runs every line the whole set runs.

``make test`` re-runs the Glue jobs' tests on AWS Glue 5.0's Spark 3.5 and Python modules (``.venv-glue``) to catch
what differs from the main environment's Spark 4: an API the older Spark lacks, a function that behaves otherwise,
a module version. An API the jobs call is caught by any test that runs the line calling it, so a subset that runs
every line of ``glue_jobs``, ``stream`` and ``lakehouse/core`` (:data:`MEASURED`) the whole set runs keeps that
check for a fraction of the time; ``make test-glue-all`` (run by ``make bench``) still runs every test there.

Input: a coverage data file measured with per-test contexts over the whole set (pytest-cov ``--cov-context=test``:
contexts ``<node id>|setup``, ``|run``, ``|teardown``) and that run's ``--durations=0`` report (seconds per phase).
The choice is greedy weighted set cover (Chvátal, "A greedy heuristic for the set-covering problem", 1979): take
the test adding the most uncovered lines per second until nothing is left. A module's costly fixtures are built by
whichever of its tests runs first, so a test's price counts its module's fixture time (the module's longest setup)
until a test of that module is chosen, and the lines run while setting up the module's tests count for every test
of it. That is an estimate — a test may not use every fixture of its module — so ``make glue-subset`` measures the
chosen set again and adds, for each line it missed, the cheapest test that ran it (once: the 2026-12-04 choice
missed the lines of one test).

The tests of the Glue entry scripts under the ``awsglue`` stand-in (:data:`ALWAYS`) are kept whole: the code they
run exists for Glue alone.

Lines run only inside Spark's Python workers (UDF bodies) are not measured in either run (coverage follows the
driver): the subset keeps every test whose driver-side lines need it, not each UDF's.

Usage: ``python tests/glue/subset.py choose COVERAGE DURATIONS_LOG > tests/glue/subset.txt`` and
``python tests/glue/subset.py missed FULL_COVERAGE SUBSET_COVERAGE DURATIONS_LOG SUBSET`` (prints the tests to add).
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

#: ``--durations=0`` report lines: ``12.73s setup    tests/a/test_b.py::test_c[x]``
DURATION = re.compile(r"^(?P<seconds>\d+(?:\.\d+)?)s (?P<phase>setup|call|teardown)\s+(?P<node>\S.*)$")

Line = tuple[str, int]

ROOT = Path(__file__).resolve().parents[2]

#: the code that runs on Glue: the jobs and the core they import (local tooling, such as the data generator the
#: tests land their lakes with, never does)
MEASURED = ("glue_jobs", "stream", "lakehouse/core")

#: modules every test of which the subset keeps: the Glue entry scripts under the ``awsglue`` stand-in
ALWAYS = ("tests/glue_jobs/test_entry_scripts_on_glue.py", "tests/glue_jobs/test_raw_to_curated_on_glue.py",
          "tests/stream/test_glue_job.py")


def module_of(node: str) -> str:
    """``tests/a/test_b.py::test_c[x]`` -> ``tests/a/test_b.py``."""
    return node.split("::", 1)[0]


def read_durations(report: Iterable[str]) -> dict[str, dict[str, float]]:
    """Node id -> phase (setup, call, teardown) -> seconds, from a pytest ``--durations=0`` report's lines."""
    seconds: dict[str, dict[str, float]] = defaultdict(dict)
    for line in report:
        match = DURATION.match(line.strip())
        if match:
            seconds[match["node"]][match["phase"]] = float(match["seconds"])
    return dict(seconds)


def read_lines_by_test(coverage_file: Path, root: Path = ROOT) -> dict[str, dict[str, set[Line]]]:
    """Node id -> phase (setup, run, teardown) -> the (file, line) pairs run in it, from coverage data with
    pytest-cov's test contexts, for the files of :data:`MEASURED` under ``root``. Lines run outside any test (the
    empty context: collection, imports) are left out."""
    from coverage import CoverageData

    data = CoverageData(basename=str(coverage_file))
    data.read()
    packages = tuple(str(root / package) + "/" for package in MEASURED)
    lines: dict[str, dict[str, set[Line]]] = defaultdict(lambda: defaultdict(set))
    for filename in filter(lambda name: name.startswith(packages), data.measured_files()):
        for lineno, contexts in data.contexts_by_lineno(filename).items():
            for context in contexts:
                node, _, phase = context.rpartition("|")
                if node:
                    lines[node][phase].add((filename, lineno))
    return {node: dict(phases) for node, phases in lines.items()}


def choose(lines: Mapping[str, Mapping[str, set[Line]]], seconds: Mapping[str, Mapping[str, float]],
           always: Iterable[str] = ALWAYS) -> list[str]:
    """The greedy cover (module docstring) of every line in ``lines``, starting from every test of the modules in
    ``always``; node ids, those of ``always`` first, then in the order chosen."""
    module_setup: dict[str, set[Line]] = defaultdict(set)
    fixture_seconds: dict[str, float] = defaultdict(float)
    for node, phases in lines.items():
        module_setup[module_of(node)] |= phases.get("setup", set())
    for node, phases in seconds.items():
        module = module_of(node)
        fixture_seconds[module] = max(fixture_seconds[module], phases.get("setup", 0.0))
    own = {node: set().union(*phases.values()) for node, phases in lines.items()}
    left = set().union(*own.values()) if own else set()
    chosen = sorted(node for node in own if module_of(node) in set(always))
    paid = {module_of(node) for node in chosen}
    for node in chosen:
        left -= own[node] | module_setup[module_of(node)]
    while left:
        def gain(node: str, left: set[Line] = left) -> float:
            module = module_of(node)
            new = own[node] if module in paid else own[node] | module_setup[module]
            price = sum(seconds.get(node, {}).get(phase, 0.0) for phase in ("call", "teardown"))
            price += 0.0 if module in paid else fixture_seconds[module]
            return len(new & left) / max(price, 0.01)

        best = max((node for node in own if node not in chosen), key=gain)
        module = module_of(best)
        left -= own[best] | (module_setup[module] if module not in paid else set())
        paid.add(module)
        chosen.append(best)
    return chosen


def missed(full: Mapping[str, Mapping[str, set[Line]]], measured: Iterable[Line],
           seconds: Mapping[str, Mapping[str, float]], subset: Iterable[str] = ()) -> list[str]:
    """For the lines ``full`` ran and a subset's run did not (``measured``), the cheapest tests that ran them.

    A line that a test of ``subset`` ran in ``full`` but not again depends on timing (a retry, a poll): it is
    reported on standard error, not answered with another test that need not run it either."""
    ran = {node: set().union(*phases.values()) for node, phases in full.items()}
    left = set().union(*ran.values()) - set(measured)
    kept = set(subset)
    price = {node: sum(seconds.get(node, {}).values()) for node in full}
    added: list[str] = []
    for line in sorted(left):
        runners = [node for node in ran if line in ran[node]]
        if kept & set(runners):
            print(f"{line[0]}:{line[1]} ran in the whole run's {sorted(kept & set(runners))[0]}, not in the subset's",
                  file=sys.stderr)
        elif not set(added) & set(runners):
            added.append(min(runners, key=lambda node: price[node]))
    return added


def main(argv: list[str]) -> int:
    command, *paths = argv
    if command == "choose":
        coverage_file, durations_log = map(Path, paths)
        seconds = read_durations(durations_log.read_text().splitlines())
        print("\n".join(choose(read_lines_by_test(coverage_file), seconds)))
        return 0
    if command == "missed":
        full_file, subset_file, durations_log, subset = map(Path, paths)
        seconds = read_durations(durations_log.read_text().splitlines())
        run = read_lines_by_test(subset_file)
        measured = set().union(*(set().union(*phases.values()) for phases in run.values()))
        added = missed(read_lines_by_test(full_file), measured, seconds, subset.read_text().splitlines())
        print("\n".join(added), end="\n" if added else "")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
