"""Issue 13's acceptance on generated data (run by ``make bench``: ~15 minutes on 2 cores): a data set generated
with the generator's churn and purchase signal, posted through the ingestion API, curated by the raw -> curated
job, then back-tested; each LightGBM model must beat every baseline of its task on the held-out window — ROC-AUC
and lift@5 % for churn and propensity, Spearman and top-decile capture for CLV (whose score is not a
probability: ROC-AUC and lift are undefined for it)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from lakehouse.core.config import Settings
from lakehouse.core.spark import local_spark
from lakehouse.local.aws.embedded import stop_detached
from lakehouse.local.batch import run_batch
from lakehouse.local.demo import Demo, DemoOptions
from ml.pipeline import evaluate, options_of
from ml.report import MODEL

CUSTOMERS, DAYS, WINDOW = 6_000, 270, 30
METRICS = {"churn": ("roc_auc", "lift_5"), "propensity": ("roc_auc", "lift_5"),
           "clv": ("spearman", "top_decile_capture")}


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_each_model_beats_every_baseline_on_generated_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = Settings(home=tmp_path / "home", stage="mlaccept")
    demo = Demo(settings, DemoOptions(customers=CUSTOMERS, days=DAYS, keep_running=False), Console(quiet=True))
    try:
        demo.start_aws()
        demo.generate_events()
        demo.ingest_events()
    finally:
        stop_detached(settings.run_dir)
    run_batch(settings, local_spark("ml-acceptance"), steps=("curated",))
    cutoff = date(2025, 1, 1) + timedelta(days=DAYS - WINDOW)
    report = evaluate(settings, cutoff, options_of(settings, WINDOW, WINDOW), dataset="generated",
                      out_dir=tmp_path / "report")
    print(json.dumps({t: {m: {k: e["models"][m].get(k) for k in METRICS[t]} for m in e["models"]}
                      for t, e in report["tasks"].items()}, indent=1))
    for task, metrics in METRICS.items():
        models = report["tasks"][task]["models"]
        for metric in metrics:
            ours = models[MODEL][metric]
            for name, values in models.items():
                if name != MODEL:
                    assert ours > values[metric], f"{task}: LightGBM {metric} {ours:.4f} <= {name} {values[metric]:.4f}"
