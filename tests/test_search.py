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
from experiments import search
from experiments.config import ExperimentConfig, SplitSection, load_config
from experiments.search import SEARCH_SPACE, inner_fold_count, suggest_params
from features.build import PERIOD_INDEX
from models.pipeline import MAIN_MODEL
from models.validate import cross_validated_predictions

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
    assert trials[f"metrics.{MAIN_MODEL}.aupr"].notna().all()
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


def test_search_records_tuning_periods_apart_from_the_reported_ones(store: Path) -> None:
    summary = json.loads((store / "search.json").read_text())
    reported = [
        f["test_period_index"] for f in json.loads((store / "summary.json").read_text())["folds"]
    ]
    # the tiny region: years 2005-2012, horizon 1, two outer folds testing 2010 and 2011
    assert summary["reported_test_periods"] == reported == [2010, 2011]
    assert summary["tuning_periods"] == [2005, 2006, 2007, 2008, 2009]
    assert summary["inner_folds"] == [{"test_period": 2009, "train_periods": [2005, 2008]}]
    parent = MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_run(summary["parent_run_id"])
    assert parent.data.params["search.tuning_periods"] == "2005..2009 (5 periods)"
    assert parent.data.params["search.reported_test_periods"] == "2010, 2011"
    assert parent.data.params["search.inner_test_periods"] == "2009"
    assert parent.data.params["search.inner_folds"] == "1"


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


def _config(*arguments: list[str]) -> ExperimentConfig:
    """The config train.py builds from these `--set key=value` pairs."""
    pairs = [item for argument in arguments for item in argument]
    return load_config(None, pairs[1::2])


# horizon 2 needs more periods: years 2005-2014, 2005-2012 labelled; outer folds test 2011
# and 2012, tuning uses 2005-2009 (labels 2007-2011), one inner fold testing 2009 on 2005-2007
HORIZON_2 = [
    *("--set", "synthetic.n_periods=10"),
    *("--set", "split.min_train_periods=3"),
    *("--set", "target.horizon=2"),
]


@pytest.mark.parametrize("horizon, extra", [(1, []), (2, HORIZON_2)], ids=["h1", "h2"])
def test_no_trial_sees_a_reported_period_or_label(
    fresh_store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    horizon: int,
    extra: list[str],
) -> None:
    seen: list[tuple[np.ndarray, np.ndarray]] = []  # (fitted, scored) periods of every fold

    def recording(frame: pd.DataFrame, models, features, folds, on_fold=None) -> pd.DataFrame:
        periods = frame[PERIOD_INDEX].to_numpy()
        seen.extend((periods[f.train_index], periods[f.test_index]) for f in folds)
        return cross_validated_predictions(frame, models, features, folds, on_fold)

    monkeypatch.setattr(search, "cross_validated_predictions", recording)
    config = _config(TINY_REGION, NO_EXPLAIN, extra)
    assert config.target.horizon == horizon
    found = search.run_search(config, 2, tmp_path / "out", progress=lambda _: None)
    first = min(fold.test_period for fold in search.search_data(config).folds)
    assert len(seen) == 2 * len(found.periods["inner_folds"]) > 0  # every trial, every fold
    for fitted, scored in seen:
        assert len(fitted) and len(scored)
        # the label of a row at period t is at t + horizon: every label a trial fits or scores
        # lies before the first reported row's label (first + horizon), in fact at or before
        # `first`: the rows lie inside the first outer training window
        assert (fitted + horizon).max() < first + horizon and (
            scored + horizon
        ).max() < first + horizon
        assert fitted.max() <= first - horizon and scored.max() <= first - horizon
        # inside the tuning window too, no fitted label lies after the scored rows' period
        assert (fitted + horizon).max() <= scored.min()
    assert max(found.periods["tuning_periods"]) == first - horizon
    assert min(found.periods["reported_test_periods"]) == first


def test_inner_fold_count_follows_the_split_and_horizon() -> None:
    split = SplitSection(n_folds=2, min_train_periods=4)
    assert inner_fold_count(10, split, 1) == 3  # at most MAX_INNER_FOLDS
    assert inner_fold_count(7, split, 1) == 3
    assert inner_fold_count(6, split, 1) == 2
    assert inner_fold_count(6, split, 2) == 1
    assert inner_fold_count(4, split, 1) == 0  # too few: the search refuses


def test_search_refuses_too_few_periods_before_the_reported_folds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 7 labelled periods hold two outer folds with 5 training periods, but the 5 periods before
    # the first reported one hold no inner fold with 5 training periods
    argv = [*TINY_REGION, "--set", "split.min_train_periods=5", "--search", "2", "-q"]
    assert train.main(argv) == 2
    error = capsys.readouterr().err
    assert "error: --search tunes only on the periods before the reported folds" in error
    assert "lower split.n_folds (now 2) or split.min_train_periods (now 5)" in error
    assert not (tmp_path / "mlflow" / "mlflow.db").exists()  # no store, hence no run, was made


def test_pyfunc_champion_scores_panel_rows_as_the_run_did(store: Path) -> None:
    uri = "models:/rootcast-h1@champion"
    panel = pd.read_parquet(store / "panel.parquet")
    scored = mlflow.pyfunc.load_model(uri).predict(panel).set_index("district_id")
    probability = scored["probability"]
    assert ((probability > 0) & (probability < 1)).all()
    assert np.unique(probability).size > 5  # calibrated probabilities, not a constant
    # the registered model (the tuned stack, or the baseline it fell back to) is the run's
    run = pd.read_csv(store / "forecast.csv").set_index("district_id")["probability"]
    np.testing.assert_allclose(probability.loc[run.index], run, atol=1e-4)
