"""Processes, not functions: a run killed mid-way changes nothing, and runs started together on
a new SQLite store all succeed. Each test runs `train.py` as real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[1]
# fmt: off
TINY = [
    "--set", "synthetic.n_districts=40", "--set", "synthetic.n_periods=8",
    "--set", "split.n_folds=1", "--set", "split.min_train_periods=4",
    "--set", "model.xgboost.n_estimators=10", "--set", "model.xgboost.n_jobs=1",
    "--set", "explain.enabled=false",
]
# fmt: on


def _train(out: Path, uri: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    return subprocess.Popen(
        [sys.executable, "train.py", "--output", str(out), *TINY, *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_at(process: subprocess.Popen, message: str) -> None:
    for line in process.stderr:
        if message in line:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
    process.wait()
    raise AssertionError(f"the run ended before {message!r}")


def test_runs_at_once_on_a_new_store_and_a_killed_run_change_nothing(
    tmp_path: Path, isolated_mlflow: str
) -> None:
    # four runs started at once on a new SQLite store all succeed, one version is champion
    runs = [
        _train(tmp_path / f"out{k}", isolated_mlflow, "--set", f"model.seed={k}") for k in range(4)
    ]
    for process in runs:
        assert process.wait() == 0, process.stderr.read()
    client = MlflowClient(isolated_mlflow)
    versions = client.search_model_versions("name = 'rootcast-h1'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]
    champion = str(client.get_model_version_by_alias("rootcast-h1", "champion").version)
    for k in range(4):
        assert (tmp_path / f"out{k}" / "summary.json").exists()

    # a run killed while logging to MLflow changes no result file, registers nothing and
    # moves no alias
    out = tmp_path / "out0"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _kill_at(_train(out, isolated_mlflow, "--set", "model.seed=5"), "logging to MLflow")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert len(client.search_model_versions("name = 'rootcast-h1'")) == 4
    assert str(client.get_model_version_by_alias("rootcast-h1", "champion").version) == champion

    # the next run on this machine ends the killed run's RUNNING run as KILLED, sweeps staging
    last = _train(tmp_path / "last", isolated_mlflow)
    assert last.wait() == 0, last.stderr.read()
    (experiment,) = [e for e in client.search_experiments() if e.name == "rootcast"]
    statuses = [r.info.status for r in client.search_runs([experiment.experiment_id])]
    assert "RUNNING" not in statuses and statuses.count("FINISHED") == 5
    assert not list(tmp_path.glob(".*.staging-*"))
