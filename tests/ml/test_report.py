"""ml.report: the files it writes, the JSON against independent computations, the Markdown table, the PNGs."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.stats import mannwhitneyu, rankdata

from ml.report import (
    Evaluation,
    TaskEvaluation,
    TaskKind,
    beats_baselines,
    build_report,
    render_markdown,
    summary_rows,
    write_report,
)

N = 400
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _evaluation(clv_y: np.ndarray | None = None) -> Evaluation:
    rng = np.random.default_rng(11)
    churn = (rng.random(N) < 0.3).astype(float)
    buy = (rng.random(N) < 0.2).astype(float)
    clv = rng.gamma(1.0, 50.0, N) * buy if clv_y is None else clv_y
    tasks = [
        TaskEvaluation("churn", TaskKind.BINARY, churn, {
            "LightGBM": (_sigmoid(2.5 * churn - 1.2 + rng.normal(size=N)), True),
            "RFM rule": (rng.integers(3, 16, N).astype(float), False),
            "Logistic (RFM)": (_sigmoid(1.0 * churn - 1.0 + rng.normal(size=N)), True),
        }, population="customers with an order before the cutoff"),
        TaskEvaluation("propensity", "binary", buy, {
            "LightGBM": (_sigmoid(2.0 * buy - 1.5 + rng.normal(size=N)), True),
            "BG/NBD": (_sigmoid(0.5 * buy - 1.5 + rng.normal(size=N)), True),
        }),
        TaskEvaluation("clv", TaskKind.REGRESSION, clv, {
            "LightGBM": (clv * 0.8 + rng.gamma(1.0, 10.0, N), True),
            "BG/NBD + Gamma-Gamma": (rng.gamma(1.0, 40.0, N), True),
            "RFM rule": (rng.integers(0, 16, N).astype(float), False),  # a rank score: no MAE
        }),
    ]
    return Evaluation(
        dataset="generated", cutoff=date(2025, 3, 1), horizon_days=90, churn_days=90, tasks=tasks,
        importances={"churn": [("recency_days", 0.605), ("frequency", 0.2)]},
        reasons_example={"churn": [{"rank": 1, "churn_probability": 0.91, "reason_1": "recency_days"}]},
        training={"seed": 7, "best_iteration": np.int64(120), "auc_folds": np.array([0.8, float("nan")])},
        fingerprint={"sha256": "ab" * 32, "orders": 1234},
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Evaluation, dict[str, Path]]:
    evaluation = _evaluation()
    return evaluation, write_report(evaluation, tmp_path_factory.mktemp("report"))


def test_every_file_is_written(written: tuple[Evaluation, dict[str, Path]]) -> None:
    _, files = written
    assert sorted(files) == sorted([
        "report.json", "report.md", "calibration_churn.png", "gain_churn.png", "calibration_propensity.png",
        "gain_propensity.png", "gain_clv.png",
    ])
    assert all(path.is_file() for path in files.values())


def test_json_round_trips_and_matches_independent_metrics(written: tuple[Evaluation, dict[str, Path]]) -> None:
    """LightGBM's churn numbers recomputed here: ROC-AUC from scipy's Mann-Whitney U, lift/precision/recall@10 %
    by sorting (continuous scores: no ties), Brier from its formula; CLV Spearman and top-decile capture likewise."""
    evaluation, files = written
    text = files["report.json"].read_text()
    stored = json.loads(text)
    assert stored == build_report(evaluation)
    assert "NaN" not in text and stored["training"]["auc_folds"] == [0.8, None]

    churn = evaluation.tasks[0]
    y, p = churn.y, churn.scores["LightGBM"][0]
    got = stored["tasks"]["churn"]["models"]["LightGBM"]
    u = mannwhitneyu(p[y == 1], p[y == 0]).statistic
    assert got["roc_auc"] == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()))
    top = np.argsort(-p)[:40]  # ceil(10 % of 400)
    assert got["precision_10"] == pytest.approx(y[top].mean())
    assert got["recall_10"] == pytest.approx(y[top].sum() / y.sum())
    assert got["lift_10"] == pytest.approx(y[top].mean() / y.mean())
    assert got["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert stored["tasks"]["churn"]["positives"] == int(y.sum())

    clv = evaluation.tasks[2]
    y, pred = clv.y, clv.scores["LightGBM"][0]
    got = stored["tasks"]["clv"]["models"]["LightGBM"]
    assert got["spearman"] == pytest.approx(np.corrcoef(rankdata(y), rankdata(pred))[0, 1])
    assert got["top_decile_capture"] == pytest.approx(y[np.argsort(-pred)[:40]].sum() / y.sum())
    assert got["mae"] == pytest.approx(np.abs(y - pred).mean())
    assert stored["tasks"]["clv"]["models"]["RFM rule"]["mae"] is None


def _row(markdown: str, task: str, model: str) -> list[str]:
    section = markdown.split(f"## {task} ")[1].split("\n## ")[0]
    line = next(line for line in section.splitlines() if line.startswith(f"| {model} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def _header(markdown: str, task: str) -> list[str]:
    section = markdown.split(f"## {task} ")[1]
    line = next(line for line in section.splitlines() if line.startswith("| Model |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_markdown_table_has_every_model_a_dash_for_undefined_and_bold_best(
        written: tuple[Evaluation, dict[str, Path]]) -> None:
    evaluation, files = written
    md = files["report.md"].read_text()
    assert "generated" in md and "2025-03-01" in md and "90 days" in md
    for task in evaluation.tasks:
        for model in task.scores:
            assert _row(md, task.task, model)[0] == model
    header = _header(md, "churn")
    rfm = _row(md, "churn", "RFM rule")
    assert rfm[header.index("Brier")] == "—"
    # the best ROC-AUC, found here, is the bold one; the others are not bold
    aucs = {m: mannwhitneyu(s[task_y == 1], s[task_y == 0]).statistic
            for task_y in [evaluation.tasks[0].y] for m, (s, _) in evaluation.tasks[0].scores.items()}
    best = max(aucs, key=aucs.get)
    for model in aucs:
        cell = _row(md, "churn", model)[header.index("ROC-AUC")]
        assert cell.startswith("**") == (model == best), (model, cell)
    # Brier: lower is better, so the bold one is the smaller of the two probability models
    briers = {m: np.mean((evaluation.tasks[0].scores[m][0] - evaluation.tasks[0].y) ** 2)
              for m in ("LightGBM", "Logistic (RFM)")}
    best_brier = min(briers, key=briers.get)
    assert _row(md, "churn", best_brier)[header.index("Brier")].startswith("**")
    assert f"Positives: **{int(evaluation.tasks[0].y.sum()):,}**" in md
    assert "customers with an order before the cutoff" in md
    assert "| recency_days | 60.5% |" in md  # a share of the total gain


def test_pngs_are_valid_images(written: tuple[Evaluation, dict[str, Path]]) -> None:
    _, files = written
    for name, path in files.items():
        if name.endswith(".png"):
            data = path.read_bytes()
            assert data.startswith(PNG_MAGIC), name
            assert len(data) > 10_000, (name, len(data))
            with Image.open(path) as image:
                image.verify()
            with Image.open(path) as image:
                assert image.size == (600, 500)


def test_summary_rows_one_per_task_and_model(written: tuple[Evaluation, dict[str, Path]]) -> None:
    evaluation, _ = written
    rows = summary_rows(evaluation)
    assert [(r["task"], r["model"]) for r in rows] == [(t.task, m) for t in evaluation.tasks for m in t.scores]
    report = build_report(evaluation)
    churn_lgbm = rows[0]
    assert set(churn_lgbm) == {"task", "model", "roc_auc", "lift_10"}
    assert churn_lgbm["roc_auc"] == report["tasks"]["churn"]["models"]["LightGBM"]["roc_auc"]
    assert set(rows[-1]) == {"task", "model", "spearman", "top_decile_capture"}
    assert summary_rows(report) == rows


def test_beats_baselines_is_strict_and_skips_undefined() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1, 0], dtype=float)
    good = np.array([0.1, 0.2, 0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.6, 0.4])
    tie = TaskEvaluation("churn", "binary", y, {
        "LightGBM": (good, True), "Logistic (RFM)": (good.copy(), True), "RFM rule": (np.arange(10.0), False)})
    evaluation = Evaluation("t", "2025-01-01", 30, 30, [tie])
    # same ROC-AUC as a baseline: not strictly better
    assert beats_baselines(evaluation, "churn", ["roc_auc"]) == {"roc_auc": False}
    worse = good.copy()
    worse[[2, 4]] = worse[[4, 2]]  # swap a positive and a negative: the baseline gets worse
    better = TaskEvaluation("churn", "binary", y, {
        "LightGBM": (good, True), "Logistic (RFM)": (worse, True), "RFM rule": (np.arange(10.0), False)})
    result = beats_baselines(Evaluation("t", "2025-01-01", 30, 30, [better]), "churn", ["roc_auc", "brier"])
    # Brier of the RFM rule is undefined and skipped; LightGBM's is lower than the logistic's (formula below)
    assert np.mean((good - y) ** 2) < np.mean((worse - y) ** 2)
    assert result == {"roc_auc": True, "brier": True}
    with pytest.raises(KeyError, match="no task"):
        beats_baselines(evaluation, "clv", ["spearman"])


def test_non_positive_clv_total_and_one_class_stay_json_safe(tmp_path: Path) -> None:
    """A holdout with no value (all zero CLV) has no capture and no gain chart; a window where nobody bought has
    no ROC-AUC — None, not NaN, in the JSON, and "—" in the table."""
    evaluation = _evaluation(clv_y=np.zeros(N))
    propensity = evaluation.tasks[1]
    evaluation.tasks[1] = TaskEvaluation("propensity", "binary", np.zeros(N), propensity.scores)
    files = write_report(evaluation, tmp_path)
    assert "gain_clv.png" not in files and "gain_propensity.png" not in files
    assert "calibration_propensity.png" in files  # all predictions vs an observed rate of 0 still make a plot
    report = json.loads(files["report.json"].read_text())
    assert report["tasks"]["clv"]["models"]["LightGBM"]["top_decile_capture"] is None
    assert report["tasks"]["propensity"]["models"]["LightGBM"]["roc_auc"] is None
    assert report["tasks"]["propensity"]["beats_baselines"]["roc_auc"] is False
    md = render_markdown(report)
    assert "No gain chart" in md
    assert _row(md, "propensity", "LightGBM")[_header(md, "propensity").index("ROC-AUC")] == "—"


def test_matplotlib_is_imported_lazily_and_pyplot_never() -> None:
    """Importing ml.report must not import matplotlib; drawing must not import pyplot (no global backend)."""
    code = (
        "import sys, ml.report as r\n"
        "assert 'matplotlib' not in sys.modules\n"
        "rep = {'tasks': {'t': {'kind': 'binary', 'calibration': {}, "
        "'gain': {'m': {'share_targeted': [0, 1], 'share_captured': [0, 1]}}}}}\n"
        "assert r.render_plots(rep)['gain_t.png'][:4] == b'\\x89PNG'\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


@pytest.mark.parametrize("field", ["customer_id", "userId", "anonymous_id", "email"])
def test_an_example_naming_a_customer_is_refused(field: str) -> None:
    """An example reason row carrying an id field never reaches a report file (a report names nobody)."""
    with pytest.raises(ValueError, match=f"reasons_example.'churn'.: {field} would name a customer"):
        Evaluation(dataset="d", cutoff=date(2025, 3, 1), horizon_days=90, churn_days=90, tasks=[],
                   reasons_example={"churn": [{"rank": 1, field: "c1", "reason_1": "recency_days=3 (+0.2)"}]})
