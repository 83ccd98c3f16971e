"""Hyper-parameter search as nested MLflow runs; the registered champion loads as pyfunc."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
from conftest import NO_EXPLAIN, TINY_REGION, copy_store
from mlflow import MlflowClient

import train
from experiments.search import SEARCH_SPACE, suggest_params
from features.build import build_features
from features.catalog import load_catalog
from features.schema import validate_panel
from features.spatial import queen_adjacency
from features.synthetic import generate_region
from models.pipeline import PeriodCalibratedClassifier

N_TRIALS = 3
PARENT = "tags.mlflow.parentRunId"


@pytest.fixture(scope="module")
def searched(
    tmp_path_factory: pytest.TempPathFactory, store_template: Path
) -> Iterator[tuple[str, Path]]:
    """One `train.py --search 3` on the tiny region, in a store shared by this module's
    tests; yields (tracking URI, output folder)."""
    root = tmp_path_factory.mktemp("search")
    uri = copy_store(store_template, root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        argv = [*TINY_REGION, *NO_EXPLAIN, "--output", str(root / "out")]
        assert train.main([*argv, "--search", str(N_TRIALS), "-q"]) == 0
    yield uri, root / "out"


@pytest.fixture
def store(isolated_mlflow: str, searched, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point this test at the searched store; returns the search's output folder."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", searched[0])
    mlflow.set_tracking_uri(searched[0])  # MLflow's fluent API keeps the last URI it was given
    return searched[1]


def _children(parent: str) -> pd.DataFrame:
    return mlflow.search_runs(search_all_experiments=True, filter_string=f"{PARENT} = '{parent}'")


def test_trials_are_nested_runs_under_one_parent(store: Path) -> None:
    summary = json.loads((store / "search.json").read_text())
    children = _children(summary["parent_run_id"])
    kinds = children["tags.rootcast.run_kind"].fillna("training").value_counts().to_dict()
    assert kinds == {"search_trial": N_TRIALS, "training": 1}
    trials = children[children["tags.rootcast.run_kind"] == "search_trial"]
    assert trials["metrics.xgboost.aupr"].notna().all()
    assert {f"params.model.xgboost.{name}" for name in SEARCH_SPACE} <= set(trials.columns)


def test_parent_records_the_best_trial_and_the_final_run(store: Path) -> None:
    summary = json.loads((store / "search.json").read_text())
    parent = MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_run(summary["parent_run_id"])
    trials = pd.read_csv(store / "search_trials.csv")
    assert parent.data.metrics["search.best_aupr"] == pytest.approx(trials["aupr"].max())
    final = json.loads((store / "summary.json").read_text())["run_id"]
    assert parent.data.tags["search.final_run_id"] == final


def test_final_run_trains_with_the_best_parameters(store: Path) -> None:
    summary = json.loads((store / "search.json").read_text())
    final = MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_run(
        json.loads((store / "summary.json").read_text())["run_id"]
    )
    for name, value in summary["best_params"].items():
        assert float(final.data.params[f"model.xgboost.{name}"]) == pytest.approx(value)
    # same folds, seed and parameters: the final run's held-out AUPR is the best trial's
    assert final.data.metrics["xgboost.aupr"] == pytest.approx(summary["best_value"], abs=1e-9)


def test_sampler_is_seeded() -> None:
    def first_point(seed: int) -> dict:
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        return suggest_params(study.ask())

    assert first_point(3) == first_point(3) != first_point(4)


def test_search_refuses_zero_trials_and_logs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train.main([*TINY_REGION, "--search", "0", "-q"]) == 2
    assert "error: --search 0" in capsys.readouterr().err
    assert not (tmp_path / "mlflow" / "mlflow.db").exists()  # no store, hence no run, was made


def _contract_valid_features() -> pd.DataFrame:
    """Model features of a new small synthetic panel, validated against the data contract."""
    catalog = load_catalog()
    region = generate_region(n_districts=40, n_periods=8, seed=5)
    panel = validate_panel(region.panel, catalog, "synthetic seed 5")
    ids = pd.Index(sorted(panel["district_id"].unique()))
    frame, extended = build_features(panel, catalog, queen_adjacency(region.geometry, ids), ids)
    return frame[extended.model_features]


def test_pyfunc_champion_returns_calibrated_probabilities(store: Path) -> None:
    uri = "models:/rootcast-h1@champion"
    X = _contract_valid_features()
    predicted = np.asarray(mlflow.pyfunc.load_model(uri).predict(X))
    # the model is logged with pyfunc_predict_fn="predict_proba": column 1 is P(incident)
    assert predicted.shape == (len(X), 2)
    probability = predicted[:, 1]
    assert ((probability > 0) & (probability < 1)).all()
    model = mlflow.sklearn.load_model(uri)
    assert isinstance(model, PeriodCalibratedClassifier) and model.calibrator_ is not None
    expected = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(probability, expected, rtol=0, atol=1e-12)
    assert np.unique(probability).size > 5  # calibrated probabilities, not a constant
