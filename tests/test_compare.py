"""Comparing runs: the table's shape (pure, on made-up runs) and `train.py compare` end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import NO_EXPLAIN, TINY_REGION, copy_store
from mlflow import MlflowClient

import train
from experiments.compare import (
    NOT_COMPARABLE,
    CompareError,
    CompareOptions,
    comparison_table,
    render_html,
    render_terminal,
)

NO_VERSIONS = pd.DataFrame(columns=["run_id", "model", "version", "aliases"])


def _runs(*rows: dict) -> pd.DataFrame:
    """Runs as `mlflow.search_runs` gives them; each row: id, minute, fingerprint, aupr."""
    return pd.DataFrame(
        [
            {
                "run_id": row["id"] * 8,
                "start_time": pd.Timestamp("2026-01-01", tz="UTC")
                + pd.Timedelta(minutes=row["minute"]),
                "metrics.xgboost.aupr": row["aupr"],
                "metrics.logistic.aupr": 0.5,
                "metrics.fold1.xgboost.aupr": row["aupr"] - 0.1,
                "metrics.drift.outcome_rate": 0.1,
                "params.name": "default",
                "params.model.xgboost.max_depth": str(row.get("depth", 3)),
                "params.model.calibration": "sigmoid",
                "tags.data.fingerprint": row["fingerprint"],
                "tags.rootcast.run_kind": row.get("kind"),
            }
            for row in rows
        ]
    )


def test_runs_on_other_data_than_the_newest_are_not_comparable() -> None:
    runs = _runs(
        {"id": "a", "minute": 1, "fingerprint": "old", "aupr": 0.9},
        {"id": "b", "minute": 2, "fingerprint": "new", "aupr": 0.6},
    )
    table = comparison_table(runs, NO_VERSIONS)
    assert table["run"].tolist() == ["bbbbbbbb", "aaaaaaaa"]  # newest first
    assert table["comparable"].tolist() == ["yes", NOT_COMPARABLE]
    assert table.attrs["reference_fingerprint"] == "new"


def test_pooled_metrics_per_model_without_fold_or_drift_metrics() -> None:
    runs = _runs({"id": "a", "minute": 1, "fingerprint": "f", "aupr": 0.7})
    table = comparison_table(runs, NO_VERSIONS)
    metric_columns = [c for c in table.columns if c.endswith(".aupr")]
    assert metric_columns == ["xgboost.aupr", "logistic.aupr"]


def test_sort_by_metric_then_keep_max_runs() -> None:
    runs = _runs(
        *(
            {"id": i, "minute": m, "fingerprint": "f", "aupr": a}
            for i, m, a in [("a", 1, 0.7), ("b", 2, 0.9), ("c", 3, 0.8)]
        )
    )
    table = comparison_table(runs, NO_VERSIONS, CompareOptions(sort_by="xgboost.aupr", max_runs=2))
    assert table["xgboost.aupr"].tolist() == [0.9, 0.8]


def test_parameters_sort_as_numbers() -> None:
    runs = _runs(
        *(
            {"id": i, "minute": m, "fingerprint": "f", "aupr": 0.7, "depth": d}
            for i, m, d in [("a", 1, 10), ("b", 2, 9), ("c", 3, 2)]
        )
    )
    options = CompareOptions(sort_by="max_depth", ascending=True)
    assert comparison_table(runs, NO_VERSIONS, options)["max_depth"].tolist() == [2, 9, 10]


def test_sort_by_a_logged_metric_not_shown_adds_its_column() -> None:
    runs = _runs({"id": "a", "minute": 1, "fingerprint": "f", "aupr": 0.7})
    table = comparison_table(runs, NO_VERSIONS, CompareOptions(sort_by="fold1.xgboost.aupr"))
    assert table["fold1.xgboost.aupr"].iloc[0] == pytest.approx(0.6)


def test_unknown_sort_key_or_metric_is_a_compare_error() -> None:
    runs = _runs({"id": "a", "minute": 1, "fingerprint": "f", "aupr": 0.7})
    with pytest.raises(CompareError, match="--sort-by 'nothing'"):
        comparison_table(runs, NO_VERSIONS, CompareOptions(sort_by="nothing"))
    with pytest.raises(CompareError, match="unknown metric"):
        comparison_table(runs, NO_VERSIONS, CompareOptions(metrics=("accuracy",)))


def test_search_parents_and_trials_are_left_out_unless_asked() -> None:
    runs = _runs(
        {"id": "a", "minute": 1, "fingerprint": "f", "aupr": 0.7},
        {"id": "p", "minute": 2, "fingerprint": "f", "aupr": 0.7, "kind": "search"},
        {"id": "t", "minute": 3, "fingerprint": "f", "aupr": 0.7, "kind": "search_trial"},
    )
    assert comparison_table(runs, NO_VERSIONS)["run"].tolist() == ["aaaaaaaa"]
    every = comparison_table(runs, NO_VERSIONS, CompareOptions(include_search=True))
    assert len(every) == 3


def test_no_training_run_is_a_compare_error() -> None:
    with pytest.raises(CompareError, match="no training runs"):
        comparison_table(pd.DataFrame(), NO_VERSIONS)


def test_registered_version_and_champion_marker() -> None:
    runs = _runs(
        {"id": "a", "minute": 1, "fingerprint": "f", "aupr": 0.7},
        {"id": "b", "minute": 2, "fingerprint": "f", "aupr": 0.8},
    )
    versions = pd.DataFrame(
        [
            {"run_id": "a" * 8, "model": "rootcast-h1", "version": "1", "aliases": "previous"},
            {"run_id": "b" * 8, "model": "rootcast-h1", "version": "2", "aliases": "champion"},
        ]
    )
    table = comparison_table(runs, versions).set_index("run")
    assert table.loc["bbbbbbbb", ["model_version", "champion"]].tolist() == ["rootcast-h1 v2", "*"]
    assert table.loc["aaaaaaaa", ["aliases", "champion"]].tolist() == ["previous", ""]


def test_terminal_shows_runs_side_by_side_and_html_escapes_values() -> None:
    runs = _runs(
        {"id": "a", "minute": 1, "fingerprint": "<old>", "aupr": 0.7},
        {"id": "b", "minute": 2, "fingerprint": "new", "aupr": 0.8},
    )
    table = comparison_table(runs, NO_VERSIONS)
    text = render_terminal(table)
    assert text.splitlines()[0].split() == ["bbbbbbbb", "aaaaaaaa"]
    assert NOT_COMPARABLE in text and "0.8000" in text
    page = render_html(table, "runs")
    assert "&lt;old&gt;" in page and "<old>" not in page
    assert page.count('class="other-data"') == 1


def _train(out: Path, seed: int) -> None:
    argv = [*TINY_REGION, *NO_EXPLAIN, "--set", f"synthetic.seed={seed}"]
    assert train.main([*argv, "--output", str(out), "-q"]) == 0


def test_compare_on_the_local_store_marks_the_other_seed_not_comparable(
    fresh_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _train(tmp_path / "seed1", 1)
    _train(tmp_path / "seed2", 2)
    capsys.readouterr()
    csv, html = tmp_path / "runs.csv", tmp_path / "runs.html"
    assert train.main(["compare", "--csv", str(csv), "--html", str(html)]) == 0
    printed = capsys.readouterr().out
    assert "2 run(s) of experiment 'rootcast'" in printed and NOT_COMPARABLE in printed
    table = pd.read_csv(csv, keep_default_na=False)
    assert table["comparable"].tolist() == ["yes", NOT_COMPARABLE]  # seed 2 is the newest
    assert table["champion"].tolist() == ["", "*"]  # the first version became champion
    assert table["model_version"].tolist() == ["rootcast-h1 v2", "rootcast-h1 v1"]
    assert {"xgboost.brier", "historical_rate.roc_auc", "logistic.aupr"} <= set(table.columns)
    assert "not comparable" in html.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def empty_experiment(tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> str:
    """A store holding experiment 'rootcast' without runs, shared by the read-only mistakes
    below (making a new store costs more than the command); returns its URI."""
    uri = copy_store(store_template, tmp_path_factory.mktemp("compare-empty"))
    MlflowClient(uri).create_experiment("rootcast")
    return uri


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--experiment", "nowhere"], "experiment 'nowhere' not found"),
        (["--filter", "tags.x ="], "filter 'tags.x ='"),
        ([], "no training runs"),
        (["--max-runs", "0"], "--max-runs must be >= 1"),
    ],
)
def test_compare_mistakes_are_one_error_line_and_exit_2(
    argv: list[str],
    message: str,
    empty_experiment: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", empty_experiment)
    assert train.main(["compare", *argv]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith(f"error: {message}")
    client = MlflowClient(empty_experiment)  # the shared store is left as it was
    experiments = client.search_experiments()
    assert {e.name for e in experiments} == {"rootcast", "Default"}
    assert client.search_runs([e.experiment_id for e in experiments]) == []
