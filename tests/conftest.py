"""Shared fixtures: every test gets its own MLflow store, so none touches the project's."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A temporary SQLite MLflow store for this test (created lazily on first use)."""
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


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
# fmt: on
