"""The benchmark suite's figures: how a benchmark records its headline numbers, and how the suite tabulates them.

A benchmark script calls :func:`record` for each headline figure it prints (a rate, a latency, a peak), with the
baseline it measured in the same run beside it. Outside the suite the call does nothing; under ``bench/suite.py``
(``make bench``) the environment variable :data:`RECORD_ENV` names a JSON-lines file the figures are appended to,
one object per figure with the keys of :data:`FIGURE_KEYS`. The suite then writes ``bench/results/<date>.json``
and ``bench/results/<date>.md`` (:func:`markdown`). :func:`growth_exponent` is the scaling run's fit.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

RECORD_ENV = "LAKEHOUSE_BENCH_RECORD"
FIGURE_KEYS = ("benchmark", "measure", "size", "value", "unit", "baseline", "baseline_value", "note")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$")
_MULTIPLIER = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def record(benchmark: str, measure: str, value: float, unit: str, *, size: str = "", baseline: str = "",
           baseline_value: float | None = None, note: str = "") -> None:
    """Append one headline figure to the file named by ``$LAKEHOUSE_BENCH_RECORD`` (nothing when it is unset).

    ``value`` is in ``unit`` (``"events/s"``, ``"s"``, ``"ms"``, ``"MiB"`` …); ``baseline_value``, when given, is
    the same-run baseline's figure in the same unit, and ``baseline`` says what that baseline is. ``size`` states
    the workload (``"1,000,000 events"``).
    """
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    figure = {"benchmark": benchmark, "measure": measure, "size": size, "value": float(value), "unit": unit,
              "baseline": baseline, "baseline_value": None if baseline_value is None else float(baseline_value),
              "note": note}
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps(figure) + "\n")


def read_figures(path: Path) -> list[dict[str, Any]]:
    """The figures :func:`record` appended to ``path`` (none when the file does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def parse_size(text: str) -> int:
    """``"30M"`` -> 30,000,000; ``"1.5k"`` -> 1,500; a plain integer as it is.

    Raises
    ------
    ValueError
        When ``text`` is not a positive number with an optional k/M/G suffix.
    """
    match = _SIZE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not a size: {text!r} (a positive number, optionally followed by k, M or G)")
    return round(float(match.group(1)) * _MULTIPLIER[match.group(2).lower()])


def size_label(count: int) -> str:
    """``30_000_000`` -> ``"30M"``, ``1_500`` -> ``"1.5k"``: the inverse of :func:`parse_size` for round sizes."""
    for suffix, multiplier in (("G", 1_000_000_000), ("M", 1_000_000), ("k", 1_000)):
        if count >= multiplier:
            return f"{count / multiplier:g}{suffix}"
    return str(count)


def growth_exponent(sizes: Sequence[float], values: Sequence[float]) -> float | None:
    """The exponent *b* of ``value ≈ a · size^b``: the least-squares slope of log(value) on log(size).

    1 is linear growth, 0 a constant, 2 quadratic. With two sizes it is ``log(v2/v1) / log(s2/s1)``. ``None`` when
    fewer than two distinct sizes have a positive value.
    """
    points = [(math.log(s), math.log(v)) for s, v in zip(sizes, values, strict=True) if s > 0 and v and v > 0]
    if len({x for x, _ in points}) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in points)
    variance = sum((x - mean_x) ** 2 for x, _ in points)
    return covariance / variance


def ratio(figure: dict[str, Any]) -> float | None:
    """``value / baseline_value`` of a figure, or ``None`` without a (non-zero) baseline."""
    baseline = figure.get("baseline_value")
    return figure["value"] / baseline if baseline else None


def merge_runs(earlier: Iterable[dict[str, Any]], newer: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each benchmark's newest run: a run in ``newer`` replaces an earlier one of the same name."""
    runs = {run["benchmark"]: run for run in earlier}
    runs.update({run["benchmark"]: run for run in newer})
    return list(runs.values())


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:,.1f}"
    else:
        text = f"{value:,.3g}"
    return f"{text} {unit}".strip()


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(runs: Sequence[dict[str, Any]], *, command: str) -> str:
    """The suite's table: one row per figure, each beside its same-run baseline; then each run's status.

    ``runs`` are the suite's run records (keys ``benchmark``, ``args``, ``seconds``, ``status``, ``figures`` and,
    for the scaling run, ``scaling``); ``command`` is the command line that produced them.
    """
    lines = [f"Written by `{command}`; a benchmark it did not run keeps the figures of its latest recorded run "
             "(the last table says when each ran).", "",
             "| benchmark | measure | size | figure | baseline (same run) | ratio |", "|---|---|---|---|---|---|"]
    for run in runs:
        for figure in run.get("figures", []):
            baseline = ""
            if figure.get("baseline_value") is not None:
                baseline = f"{_number(figure['baseline_value'], figure['unit'])} — {figure['baseline']}"
            elif figure.get("baseline"):
                baseline = figure["baseline"]
            share = ratio(figure)
            measure = figure["measure"] + (f" ({figure['note']})" if figure.get("note") else "")
            lines.append("| " + " | ".join(_cell(c) for c in (
                figure["benchmark"], measure, figure.get("size", ""), _number(figure["value"], figure["unit"]),
                baseline, "" if share is None else f"{share:.2f}x" if share >= 0.1 else f"{share:.2g}x")) + " |")
    scaling = [run for run in runs if run.get("scaling")]
    for run in scaling:
        lines += ["", scaling_markdown(run["scaling"])]
    lines += ["", "| benchmark | command | started (UTC) | wall time | status |", "|---|---|---|---|---|"]
    for run in runs:
        command_line = " ".join(["python", run.get("script", ""), *run.get("args", [])]).strip()
        lines.append(f"| {_cell(run['benchmark'])} | `{_cell(command_line)}` | {run.get('started_at', '')[:16]} | "
                     f"{run.get('seconds', 0):,.0f} s | {_cell(run.get('status', ''))} |")
    return "\n".join(lines) + "\n"


def scaling_markdown(scaling: dict[str, Any]) -> str:
    """The scaling run as a table: per stage, time and peak memory at each size, and each one's growth exponent."""
    sizes = [run["events"] for run in scaling["sizes"]]
    header = ["stage"] + [f"{s:,} events: time / peak" for s in sizes] + ["time exponent", "memory exponent"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for stage in scaling["stages"]:
        cells = [stage]
        times, peaks = [], []
        for run in scaling["sizes"]:
            measured = run["stages"].get(stage)
            if measured is None:
                cells.append("not run")
                times.append(0)
                peaks.append(0)
                continue
            cells.append(f"{_number(measured['wall_s'], 's')} / {_number(measured['peak_pss_mib'], 'MiB')}")
            times.append(measured["wall_s"])
            peaks.append(measured["peak_pss_mib"])
        done = [(s, t, p) for s, t, p in zip(sizes, times, peaks, strict=True) if t]
        time_b = growth_exponent([s for s, _, _ in done], [t for _, t, _ in done])
        memory_b = growth_exponent([s for s, _, _ in done], [p for _, _, p in done])
        cells += ["" if time_b is None else f"{time_b:.2f}", "" if memory_b is None else f"{memory_b:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scaling_figures(scaling: dict[str, Any]) -> list[dict[str, Any]]:
    """The scaling run's headline figures (the records :func:`record` would write): at the largest size, the events
    per second of every stage that handles events beside the read floor of that size; and each stage's time
    exponent beside the read floor's. (Every size's time and peak is in :func:`scaling_markdown`'s table.)"""
    figures = []
    baseline = "read floor (gzip + JSON parse of the raw zone, one process)"
    largest = max(scaling["sizes"], key=lambda run: run["events"])
    floor = largest["stages"]["read floor"]["wall_s"]
    for stage in ("land", "raw -> curated", "star", "warehouse"):
        figures.append({"benchmark": "scaling", "measure": f"{stage}, events/s",
                        "size": f"{largest['events']:,} events",
                        "value": largest["events"] / largest["stages"][stage]["wall_s"], "unit": "events/s",
                        "baseline": baseline, "baseline_value": largest["events"] / floor,
                        "note": f"peak {largest['stages'][stage]['peak_pss_mib']:,.0f} MiB"})
    sizes = [run["events"] for run in scaling["sizes"]]
    labels = " -> ".join(size_label(run.get("requested_events", run["events"])) for run in scaling["sizes"])
    floor_b = growth_exponent(sizes, [run["stages"]["read floor"]["wall_s"] for run in scaling["sizes"]])
    for stage in scaling["stages"]:
        exponent = growth_exponent(sizes, [run["stages"][stage]["wall_s"] for run in scaling["sizes"]])
        if exponent is not None and stage != "read floor":
            figures.append({"benchmark": "scaling", "measure": f"{stage}, time growth exponent", "size": labels,
                            "value": exponent, "unit": "", "baseline": "the read floor's (linear work)",
                            "baseline_value": floor_b, "note": ""})
    return figures
