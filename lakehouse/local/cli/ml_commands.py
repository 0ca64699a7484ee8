"""``lakehouse ml train|evaluate|score``: churn, purchase-propensity and CLV models on the lake (docs/ml.md)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from lakehouse.local.cli.common import UserError, attach_running_emulator, console, friendly_errors, load_settings
from lakehouse.local.signals import stop_on_signals

ml_app = typer.Typer(help="Churn, purchase-propensity and CLV models: train, back-test against baselines, score.",
                     no_args_is_help=True)

HORIZON = typer.Option(None, "--horizon-days", min=1, max=730,
                       help="propensity and CLV window after the cutoff (default: settings, 90)")
CHURN = typer.Option(None, "--churn-days", min=1, max=730,
                     help="no order in this many days after the cutoff = churn (default: settings, 90)")


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def summary_table(report: dict[str, Any]) -> Table:
    """The model-vs-baselines table of an evaluation report: one row per task and model."""
    table = Table(title=f"model vs baselines — {report.get('dataset')} data, cutoff {report.get('cutoff')}, "
                        f"horizon {report.get('horizon_days')} d, churn window {report.get('churn_days')} d",
                  show_edge=False, title_justify="left")
    for column in ("task", "model", "ROC-AUC", "lift@5%", "lift@10%", "Spearman", "top-decile capture"):
        table.add_column(column, justify="left" if column in ("task", "model") else "right")

    def cell(value: Any) -> str:
        return "—" if value is None else f"{value:.3f}"


    for task, entry in report["tasks"].items():
        for model, metrics in entry["models"].items():
            style = "bold" if model == "LightGBM" else None
            table.add_row(task, model, *(cell(metrics.get(k)) for k in ("roc_auc", "lift_5", "lift_10", "spearman",
                                                                        "top_decile_capture")), style=style)
    return table


def _options(settings, horizon_days: int | None, churn_days: int | None):
    from ml.pipeline import options_of

    return options_of(settings, horizon_days, churn_days)


@ml_app.command("evaluate")
@friendly_errors
def evaluate(
    cutoff: datetime = typer.Option(..., formats=["%Y-%m-%d"], help="train before this day, test the window after it"),
    dataset: str = typer.Option("lake", help="lake (the configured lakehouse) or cdnow (the real CDNOW log, "
                                             "replayed through the ingestion API and the batch chain once)"),
    horizon_days: int = HORIZON,
    churn_days: int = CHURN,
    out: Path = typer.Option(None, help="report folder (default <home>/reports/ml/<dataset>-<cutoff>)"),
    with_star: bool = typer.Option(False, "--with-star", help="cdnow: also build the star schema and the "
                                   "warehouse from the replay (the features need the curated zone only)"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Back-test the models against the baselines at a cutoff: report.md, report.json and plots."""
    from lakehouse.local.ml_runs import DatasetError, dataset_settings, replay_cdnow, report_dir
    from ml.pipeline import MLError
    from ml.pipeline import evaluate as run_evaluation

    settings = load_settings()
    try:
        settings = dataset_settings(settings, dataset)
        if dataset == "cdnow":
            with stop_on_signals():  # Spark: a stop signal stops it and says so (friendly_errors)
                replay_cdnow(settings, say=console.print,
                             steps=("curated", "star", "warehouse") if with_star else ("curated",))
    except DatasetError as exc:
        raise UserError(str(exc)) from None
    day = cutoff.date()
    folder = out or report_dir(settings, dataset, day.isoformat())
    try:
        with console.status("training and evaluating") as status:
            report = run_evaluation(settings, day, _options(settings, horizon_days, churn_days), dataset=dataset,
                                    out_dir=folder, progress=lambda line: status.update(line))
    except MLError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        console.print_json(json.dumps({k: v for k, v in report.items() if k != "curves"}, default=str))
        return
    console.print(summary_table(report))
    console.print(f"report: {folder / 'report.md'} (+ report.json and plots)")


@ml_app.command("train")
@friendly_errors
def train(
    cutoff: datetime = typer.Option(None, formats=["%Y-%m-%d"], help="train as of this day (default: the day "
                                                                     "after the last event)"),
    horizon_days: int = HORIZON,
    churn_days: int = CHURN,
) -> None:
    """Train new model versions; each is promoted only if it beats the current one on the latest validation
    window."""
    from ml.pipeline import MLError
    from ml.pipeline import train as run_train

    settings = load_settings()
    try:
        with console.status("training") as status:
            run = run_train(settings, _day(cutoff), _options(settings, horizon_days, churn_days),
                            progress=lambda line: status.update(line))
    except MLError as exc:
        raise UserError(str(exc)) from None
    console.print(promotion_table(run.promotions))


def promotion_table(promotions: dict[str, dict[str, Any]]) -> Table:
    """Per task: candidate and current versions, their values on the same validation window, the decision."""
    table = Table(title="model versions", show_edge=False, title_justify="left")
    for column in ("task", "candidate", "value", "current", "current value", "decision"):
        table.add_column(column)
    for task, p in promotions.items():
        current_value = "—" if p["current_value"] is None else f"{p['current_value']:.3f}"
        table.add_row(task, p["candidate"], f"{p['candidate_value']:.3f}", p["current"] or "—", current_value,
                      ("promoted: " if p["promoted"] else "kept current: ") + p["reason"])
    return table


@ml_app.command("score")
@friendly_errors
def score(
    cutoff: datetime = typer.Option(None, formats=["%Y-%m-%d"], help="score as of this day (default: the day after "
                                                                     "the last event)"),
    live: bool = typer.Option(True, "--live/--no-live",
                              help="also write the scores to the live scores table (DynamoDB)"),
) -> None:
    """Score every customer with the promoted models: fact_customer_scores in the warehouse, and the live
    scores table (DynamoDB)."""
    from lakehouse.local.ml_runs import load_scores_locally
    from ml.pipeline import MLError
    from ml.pipeline import score as run_score

    settings = load_settings()
    if live and not attach_running_emulator(settings):
        raise UserError("no AWS endpoint: start the embedded one (lakehouse up) or pass --no-live")
    try:
        with console.status("scoring") as status:
            run = run_score(settings, _day(cutoff), live=live, progress=lambda line: status.update(line))
    except MLError as exc:
        raise UserError(str(exc)) from None
    loaded = load_scores_locally(settings)
    live_items = (f"{run.live['written']:,} live score items written, {run.live['unchanged']:,} unchanged, "
                  f"{run.live['kept_newer']:,} holding a newer cutoff"
                  if run.live else "live items skipped (--no-live)")
    warehouse = (f"not loaded: {loaded['skipped']}" if loaded.get("skipped")
                 else f"loaded into {loaded.get('target', 'the warehouse')}")
    console.print(f"scored {run.customers:,} customers as of {run.cutoff} (run {run.run_id}, models "
                  + ", ".join(f"{t} {v}" for t, v in run.versions.items()) + f"); fact_customer_scores {warehouse}; "
                  + live_items)
