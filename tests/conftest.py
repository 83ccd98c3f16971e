"""Shared fixtures: every test gets its own MLflow store, so none touches the project's.

Tests that only read a trained run share one: `champion_run` trains the small synthetic region
once per session in a store of its own, and `champion_store` points a test at that store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import mlflow.models
import pytest
from mlflow import MlflowClient

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A temporary SQLite MLflow store for this test (created lazily on first use)."""
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def _default_requirements(model_uri: str, flavor: str, fallback=None, **kwargs) -> list | None:
    return fallback


@pytest.fixture(scope="session", autouse=True)
def no_requirements_inference() -> Iterator[None]:
    """MLflow infers a logged model's pip requirements by loading the model in a new Python
    process: about 3.5 s per logged model, most of a small training run. No test reads those
    requirements, so in this process a logged model gets the flavour's default requirements,
    which is what MLflow itself falls back to when inference fails. The subprocess test in
    test_train_cli.py still runs the real inference."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mlflow.models, "infer_pip_requirements", _default_requirements)
        yield


# fmt: off
SMALL_REGION = [
    "--set", "synthetic.n_districts=80",
    "--set", "synthetic.n_periods=10",
    "--set", "split.n_folds=2",
    "--set", "split.min_train_periods=4",
    "--set", "model.xgboost.n_estimators=40",
    "--set", "model.xgboost.n_jobs=1",  # tiny data: threads cost more than they give
    "--set", "explain.n_bootstrap=2",
    "--set", "evaluation.top_k=8",
]
# For tests of mechanics (logging, registry, CLI, search), where the figures do not matter:
# the smallest region the config accepts, few trees, no bootstrap refits.
TINY_REGION = [
    "--set", "synthetic.n_districts=40",
    "--set", "synthetic.n_periods=8",
    "--set", "split.n_folds=2",
    "--set", "split.min_train_periods=4",
    "--set", "model.xgboost.n_estimators=10",
    "--set", "model.xgboost.n_jobs=1",
    "--set", "explain.n_bootstrap=0",
    "--set", "evaluation.top_k=5",
]
NO_EXPLAIN = ["--set", "explain.enabled=false"]
# fmt: on

REGISTERED = "rootcast-h1"
# fits a report must never call (reports read results; they never refit a model)
REFITS = [
    "xgboost.train",
    "xgboost.XGBClassifier.fit",
    "sklearn.pipeline.Pipeline.fit",
    "sklearn.linear_model.LogisticRegression.fit",
    "sklearn.isotonic.IsotonicRegression.fit",
]


@pytest.fixture(scope="session")
def champion_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One small synthetic training run (explanations and plan on) in its own MLflow store,
    shared by every test that only reads it; its model is version 1 and `champion` of
    rootcast-h1. Returns code, out (results folder), uri (the store) and summary."""
    import train

    base = tmp_path_factory.mktemp("champion")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        code = train.main(["--output", str(base / "out"), "-q", *SMALL_REGION])
    summary = json.loads((base / "out" / "summary.json").read_text())
    return {"code": code, "out": base / "out", "uri": uri, "summary": summary}


@pytest.fixture
def champion_store(
    isolated_mlflow: str, champion_run: dict, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict]:
    """Point this test at the champion run's store (after `isolated_mlflow`, so this wins).
    The store is shared: a test may read it but must not log to it, which is checked after
    the test (still one run and one model version, version 1 still champion)."""
    uri = champion_run["uri"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)  # MLflow's fluent API keeps the last URI it was given
    yield champion_run
    client = MlflowClient(uri)
    assert len(client.search_model_versions(f"name='{REGISTERED}'")) == 1
    assert str(client.get_model_version_by_alias(REGISTERED, "champion").version) == "1"
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert len(client.search_runs(experiments)) == 1


def _refuse(*args, **kwargs):
    raise AssertionError("building a report must not fit a model")


@pytest.fixture(scope="session")
def champion_report(champion_run: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The champion run's HTML report, built once with every model's `fit` disabled (reports
    never refit). Returns the champion run's entries plus html (the file) and text."""
    from reports.risk_report import build_report

    base = tmp_path_factory.mktemp("champion-report")
    with pytest.MonkeyPatch.context() as patch:
        for target in REFITS:
            patch.setattr(target, _refuse)
        html = build_report(champion_run["out"], base / "report.html")
    return {**champion_run, "html": html, "text": html.read_text()}
