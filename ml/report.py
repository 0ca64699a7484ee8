"""The evaluation report: every model and every baseline side by side on the same held-out window.

Input is an :class:`Evaluation` (labels and scores per task, plus importances, example reasons, training facts and
the data fingerprint). :func:`build_report` computes every metric of :mod:`ml.metrics` for every model and returns
one JSON-safe dict (no NaN: undefined metrics are ``None``); everything else is rendered from that dict, so a
stored ``report.json`` can be re-rendered later:

- ``report.md``: what was evaluated (dataset, cutoff, horizon, populations, positives), then a Markdown table per
  task, model rows x metric columns, ``—`` for an undefined metric, the best value of each column in bold;
  feature importances, example reasons, training facts, fingerprint, and the plots.
- ``report.json``: every number.
- ``calibration_<task>.png`` (probability models of a binary task, quantile bins) and ``gain_<task>.png``
  (cumulative gain of every model and the random diagonal; for CLV the share of holdout value captured).

Plots use :class:`matplotlib.figure.Figure` with the Agg canvas directly — no pyplot, no global backend change;
matplotlib is imported only when plots are drawn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from lakehouse.core.erasure import CALL_ID_FIELDS, ID_FIELDS
from ml.metrics import calibration_curve, classification_metrics, gain_curve, json_safe, regression_metrics

#: the model every baseline is compared with (exact report name)
MODEL = "LightGBM"
#: fields a report row must not carry: the lake's id fields, the API's, and the profile's e-mail
IDENTIFYING_FIELDS = frozenset((*ID_FIELDS, *CALL_ID_FIELDS, "email"))
#: metrics where a smaller value is better; every other metric is better when larger
LOWER_IS_BETTER = frozenset({"brier", "mae"})


class TaskKind(StrEnum):
    """What a task predicts: a 0/1 label or an amount."""

    BINARY = "binary"
    REGRESSION = "regression"


#: the metric columns of a task's table, in order
METRIC_COLUMNS: dict[TaskKind, tuple[str, ...]] = {
    TaskKind.BINARY: ("roc_auc", "pr_auc", "brier", "lift_5", "precision_5", "recall_5", "lift_10", "precision_10",
                      "recall_10"),
    TaskKind.REGRESSION: ("spearman", "mae", "top_decile_capture"),
}
#: the metrics printed by the CLI per (task, model)
HEADLINE_METRICS: dict[TaskKind, tuple[str, ...]] = {
    TaskKind.BINARY: ("roc_auc", "lift_10"),
    TaskKind.REGRESSION: ("spearman", "top_decile_capture"),
}
#: column headings as the literature writes them
METRIC_LABELS = {
    "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "brier": "Brier",
    "lift_5": "Lift@5%", "precision_5": "Precision@5%", "recall_5": "Recall@5%",
    "lift_10": "Lift@10%", "precision_10": "Precision@10%", "recall_10": "Recall@10%",
    "spearman": "Spearman", "mae": "MAE", "top_decile_capture": "Top-decile capture",
}
#: number formats per metric (default 3 decimals)
_FORMATS = {"brier": "{:.4f}", "lift_5": "{:.2f}", "lift_10": "{:.2f}", "mae": "{:,.2f}", "gain": "{:.1%}"}
MISSING = "—"


# --- input ----------------------------------------------------------------------------------------------------


@dataclass
class TaskEvaluation:
    """Labels and every model's scores for one task on the held-out window.

    ``y`` holds one value per customer of the task's population (0/1 for a binary task, holdout value for CLV);
    ``scores`` maps a model's report name (``"LightGBM"``, ``"RFM rule"``, …) to ``(score, is_probability)``,
    the score aligned with ``y``, higher = more likely positive / more value. For regression the flag says
    whether the score is in the label's units (money): a rank score (False) gets no MAE. ``population``
    optionally describes who is in ``y`` (rendered above the table).
    """

    task: str
    kind: TaskKind
    y: np.ndarray
    scores: dict[str, tuple[np.ndarray, bool]]
    population: str = ""

    def __post_init__(self) -> None:
        self.kind = TaskKind(self.kind)
        self.y = np.asarray(self.y, dtype=np.float64).ravel()
        for model, (score, _) in self.scores.items():
            if np.asarray(score).size != self.y.size:
                raise ValueError(f"task {self.task!r}: model {model!r} has {np.asarray(score).size} scores for "
                                 f"{self.y.size} customers")


@dataclass
class Evaluation:
    """One evaluation run: what was evaluated and the tasks, plus the model's explanations and provenance.

    ``importances`` maps a task to ``[(feature, gain), ...]`` (LightGBM total gain as a share of the model's
    total, descending);
    ``reasons_example`` maps a task to a few scored customers as dicts (e.g. rank, score, reason_1..3) with no
    identifier of the customer: a report is copied, mailed and kept outside every store ``lakehouse forget``
    rewrites (docs/erasure.md), so it names nobody; a row with an id field (:data:`IDENTIFYING_FIELDS`) raises
    :class:`ValueError`;
    ``training`` holds free-form facts about training (windows, best iteration, parameters, seconds);
    ``fingerprint`` describes the data (e.g. row counts and the hash from :func:`ml.artifacts.data_fingerprint`).
    """

    dataset: str
    cutoff: date | str
    horizon_days: int
    churn_days: int
    tasks: list[TaskEvaluation]
    importances: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    reasons_example: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for task, rows in self.reasons_example.items():
            for row in rows:
                if named := sorted(IDENTIFYING_FIELDS & set(row)):
                    raise ValueError(f"reasons_example[{task!r}]: {', '.join(named)} would name a customer in the "
                                     "report; label examples by rank instead")


# --- computing --------------------------------------------------------------------------------------------------


def task_metrics(task: TaskEvaluation) -> dict[str, dict[str, float | None]]:
    """Every metric of every model of ``task``: ``{model: metrics dict}`` in the order of ``task.scores``."""
    if task.kind is TaskKind.BINARY:
        return {m: classification_metrics(task.y, s, is_probability=p) for m, (s, p) in task.scores.items()}
    out = {}
    for model, (score, in_units) in task.scores.items():
        metrics = regression_metrics(task.y, score)
        if not in_units:  # a rank score (the RFM rule): no error in money units
            metrics["mae"] = None
        out[model] = metrics
    return out


def _beats(models: Mapping[str, Mapping[str, float | None]], metrics: Iterable[str]) -> dict[str, bool]:
    """Whether ``MODEL`` is strictly better than every other model on each metric (see :func:`beats_baselines`)."""
    if MODEL not in models:
        raise KeyError(f"no {MODEL!r} model among {list(models)}")
    ours = models[MODEL]
    out = {}
    for metric in metrics:
        value = ours.get(metric)
        others = [v[metric] for name, v in models.items() if name != MODEL and v.get(metric) is not None]
        if value is None or not others:
            out[metric] = False
        elif metric in LOWER_IS_BETTER:
            out[metric] = all(value < o for o in others)
        else:
            out[metric] = all(value > o for o in others)
    return out


def build_report(evaluation: Evaluation) -> dict[str, Any]:
    """The whole report as one JSON-safe dict (the content of ``report.json``).

    Layout: ``dataset``, ``cutoff`` (ISO date), ``horizon_days``, ``churn_days``, ``tasks`` — per task: ``kind``,
    ``population``, ``n``, and ``positives``/``base_rate`` (binary) or ``total`` (regression), ``models``
    (``{model: metrics}``), ``probability_models``, ``beats_baselines`` (``{metric: bool}``, when LightGBM is
    present), ``calibration`` (``{model: curve}``, probability models only) and ``gain`` (``{model: curve}``);
    then ``importances`` (``{task: [{"feature", "gain"}]}``), ``reasons_example``, ``training``, ``fingerprint``.
    """
    tasks: dict[str, Any] = {}
    for task in evaluation.tasks:
        models = task_metrics(task)
        entry: dict[str, Any] = {"kind": task.kind.value, "population": task.population, "n": int(task.y.size)}
        if task.kind is TaskKind.BINARY:
            positives = int(task.y.sum())
            entry["positives"] = positives
            entry["base_rate"] = positives / task.y.size if task.y.size else None
        else:
            entry["total"] = float(task.y.sum())
        entry["models"] = models
        prob_models = [m for m, (_, p) in task.scores.items() if p and task.kind is TaskKind.BINARY]
        entry["probability_models"] = prob_models
        if MODEL in models:
            entry["beats_baselines"] = _beats(models, METRIC_COLUMNS[task.kind])
        entry["calibration"] = {m: calibration_curve(task.y, task.scores[m][0]) for m in prob_models}
        entry["gain"] = {m: gain_curve(task.y, s) for m, (s, _) in task.scores.items()}
        tasks[task.task] = entry
    report = {
        "dataset": evaluation.dataset,
        "cutoff": evaluation.cutoff,
        "horizon_days": evaluation.horizon_days,
        "churn_days": evaluation.churn_days,
        "tasks": tasks,
        "importances": {t: [{"feature": f, "gain": g} for f, g in rows] for t, rows in evaluation.importances.items()},
        "reasons_example": evaluation.reasons_example,
        "training": evaluation.training,
        "fingerprint": evaluation.fingerprint,
    }
    return json_safe(report)


def _as_report(evaluation: Evaluation | Mapping[str, Any]) -> Mapping[str, Any]:
    return build_report(evaluation) if isinstance(evaluation, Evaluation) else evaluation


def summary_rows(evaluation: Evaluation | Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per (task, model) with the headline metrics, for the CLI to print.

    Binary tasks: ``{"task", "model", "roc_auc", "lift_10"}``; CLV: ``{"task", "model", "spearman",
    "top_decile_capture"}``; values None when undefined. Pass the dict of :func:`build_report` to avoid computing
    the metrics again.
    """
    report = _as_report(evaluation)
    rows = []
    for task, entry in report["tasks"].items():
        for model, metrics in entry["models"].items():
            row = {"task": task, "model": model}
            row.update({m: metrics.get(m) for m in HEADLINE_METRICS[TaskKind(entry["kind"])]})
            rows.append(row)
    return rows


def beats_baselines(evaluation: Evaluation | Mapping[str, Any], task: str, metrics: Iterable[str]) -> dict[str, bool]:
    """Whether LightGBM is *strictly* better than every baseline of ``task`` on each of ``metrics``.

    Better means larger, except for Brier and MAE (smaller). A baseline whose metric is undefined (None, e.g. the
    RFM rule's Brier) is not compared; when no baseline has a value, or LightGBM's own value is undefined, the
    answer is False (nothing was shown to be beaten). Raises ``KeyError`` for an unknown task or without a
    LightGBM model.
    """
    report = _as_report(evaluation)
    if task not in report["tasks"]:
        raise KeyError(f"no task {task!r} in the evaluation (tasks: {list(report['tasks'])})")
    return _beats(report["tasks"][task]["models"], metrics)


# --- Markdown ---------------------------------------------------------------------------------------------------


def _fmt(metric: str, value: float | None) -> str:
    return MISSING if value is None else _FORMATS.get(metric, "{:.3f}").format(value)


def _cell(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _best(values: Sequence[float | None], metric: str) -> float | None:
    defined = [v for v in values if v is not None]
    if not defined:
        return None
    return min(defined) if metric in LOWER_IS_BETTER else max(defined)


def _metrics_table(entry: Mapping[str, Any]) -> list[str]:
    columns = METRIC_COLUMNS[TaskKind(entry["kind"])]
    models = entry["models"]
    lines = ["| Model | " + " | ".join(METRIC_LABELS[c] for c in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    best = {c: _best([m.get(c) for m in models.values()], c) for c in columns}
    for name, metrics in models.items():
        cells = []
        for c in columns:
            text = _fmt(c, metrics.get(c))
            cells.append(f"**{text}**" if metrics.get(c) is not None and metrics.get(c) == best[c] else text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _dict_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_cell(row.get(k)) for k in keys) + " |" for row in rows]
    return lines


def plot_names(report: Mapping[str, Any]) -> dict[str, list[str]]:
    """The PNG file names :func:`render_plots` draws, per task (a calibration plot only for probability models,
    a gain plot only when the task's total is positive)."""
    out: dict[str, list[str]] = {}
    for task, entry in report["tasks"].items():
        names = []
        if entry["calibration"]:
            names.append(f"calibration_{task}.png")
        if any(c["share_captured"] is not None for c in entry["gain"].values()):
            names.append(f"gain_{task}.png")
        out[task] = names
    return out


def render_markdown(report: Mapping[str, Any]) -> str:
    """``report.md`` from the dict of :func:`build_report`."""
    lines = [
        f"# Model evaluation: {report['dataset']}, cutoff {report['cutoff']}",
        "",
        f"- Dataset: **{report['dataset']}**",
        f"- Cutoff: **{report['cutoff']}** (features from data strictly before 00:00 UTC of this day, labels from "
        "the window that starts then)",
        f"- Horizon: **{report['horizon_days']} days**; churn window: **{report['churn_days']} days**",
        "",
        f"Metrics on the held-out window. {MISSING} = not defined for that model (e.g. Brier for a score that is not "
        "a probability); **bold** = best in the column. Top k % = the ceil(k % x n) highest scores, ties averaged.",
        "",
    ]
    plots = plot_names(report)
    for task, entry in report["tasks"].items():
        lines.append(f"## {task} ({entry['kind']})")
        lines.append("")
        population = f" — {entry['population']}" if entry.get("population") else ""
        lines.append(f"- Population: **{entry['n']:,}** customers{population}")
        if entry["kind"] == TaskKind.BINARY:
            rate = MISSING if entry["base_rate"] is None else f"{entry['base_rate']:.2%}"
            lines.append(f"- Positives: **{entry['positives']:,}** (base rate {rate})")
        else:
            lines.append(f"- Total holdout value: **{entry['total']:,.2f}**")
        beats = entry.get("beats_baselines")
        if beats:
            won = [METRIC_LABELS[m] for m, ok in beats.items() if ok]
            lines.append(f"- {MODEL} beats every baseline on: {', '.join(won) if won else 'no metric'}")
        lines += ["", *_metrics_table(entry), ""]
        lines += [f"![{name[:-4]}]({name})" for name in plots[task]]
        if plots[task]:
            lines.append("")
        if not any(c["share_captured"] is not None for c in entry["gain"].values()):
            lines += ["No gain chart: nothing to capture (no positives, or a holdout total <= 0).", ""]
    if report.get("importances"):
        lines += ["## Feature importances (LightGBM total gain, as a share of the model's)", ""]
        for task, rows in report["importances"].items():
            lines += [f"### {task}", "", "| Feature | Gain |", "|---|---:|"]
            lines += [f"| {r['feature']} | {_fmt('gain', r['gain'])} |" for r in rows]
            lines.append("")
    if report.get("reasons_example"):
        lines += ["## Example reasons (LightGBM contributions, `pred_contrib`)", ""]
        for task, rows in report["reasons_example"].items():
            if rows:
                lines += [f"### {task}", "", *_dict_table(rows), ""]
    for title, key in (("Training", "training"), ("Data fingerprint", "fingerprint")):
        if report.get(key):
            lines += [f"## {title}", "", "```json", json.dumps(report[key], indent=2, ensure_ascii=False), "```", ""]
    return "\n".join(lines)


# --- plots ------------------------------------------------------------------------------------------------------


def _png(fig: Any) -> bytes:
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def render_plots(report: Mapping[str, Any]) -> dict[str, bytes]:
    """PNG bytes per file name (see :func:`plot_names`), drawn with matplotlib's Agg canvas (no pyplot)."""
    from matplotlib.figure import Figure

    out: dict[str, bytes] = {}
    for task, names in plot_names(report).items():
        entry = report["tasks"][task]
        if f"calibration_{task}.png" in names:
            fig = Figure(figsize=(6, 5))
            ax = fig.subplots()
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
            for model, curve in entry["calibration"].items():
                ax.plot(curve["mean_predicted"], curve["fraction_positive"], marker="o", label=model)
            ax.set(xlabel="mean predicted probability (quantile bins)", ylabel="observed fraction positive",
                   title=f"Calibration: {task}", xlim=(0, 1), ylim=(-0.02, 1.02))
            ax.legend(loc="upper left")
            out[f"calibration_{task}.png"] = _png(fig)
        if f"gain_{task}.png" in names:
            regression = entry["kind"] == TaskKind.REGRESSION
            fig = Figure(figsize=(6, 5))
            ax = fig.subplots()
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
            for model, curve in entry["gain"].items():
                if curve["share_captured"] is not None:
                    ax.plot(curve["share_targeted"], curve["share_captured"], label=model)
            ax.set(xlabel="share of customers targeted (highest scores first)",
                   ylabel="share of holdout value captured" if regression else "share of positives captured",
                   title=f"Cumulative gain: {task}", xlim=(0, 1))
            ax.legend(loc="lower right")
            out[f"gain_{task}.png"] = _png(fig)
    return out


# --- files ------------------------------------------------------------------------------------------------------


def render_report(evaluation: Evaluation | Mapping[str, Any]) -> dict[str, bytes]:
    """Every report file as bytes: ``report.json``, ``report.md`` and the PNGs (for a local folder or the lake)."""
    report = _as_report(evaluation)
    files = {
        "report.json": json.dumps(report, indent=2, allow_nan=False, ensure_ascii=False).encode(),
        "report.md": render_markdown(report).encode(),
    }
    files.update(render_plots(report))
    return files


def write_report(evaluation: Evaluation | Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write :func:`render_report`'s files into ``out_dir`` (created); returns ``{file name: path}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, data in render_report(evaluation).items():
        path = out_dir / name
        path.write_bytes(data)
        written[name] = path
    return written
