"""A real MLflow tracking server (as `make server` starts it): train, retrain and compare."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import NO_EXPLAIN, TINY_REGION
from mlflow import MlflowClient

import train
from experiments.compare import NOT_COMPARABLE
from features.catalog import DEFAULT_CATALOG

STARTUP_SECONDS = 60


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    """Poll `url`/health until it answers OK; fail with the server's log when it exits or
    does not answer within STARTUP_SECONDS."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mlflow server exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"mlflow server did not answer in {STARTUP_SECONDS} s:\n{log.read_text()}")


def stop(server: subprocess.Popen) -> None:
    """Stop the server and the workers it spawned (its own process group)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
    try:  # workers that outlived their parent
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def mlflow_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """`mlflow server` with a SQLite backend and proxied local artifacts on a free loopback
    port, in a temporary folder; sets MLFLOW_TRACKING_URI to it. Yields (url, folder)."""
    folder = tmp_path / "server"
    folder.mkdir()
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--backend-store-uri", f"sqlite:///{folder / 'mlflow-server.db'}"),
        *("--artifacts-destination", str(folder / "mlartifacts"), "--serve-artifacts"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no GenAI job runner
    env.pop("MLFLOW_TRACKING_URI", None)
    log = folder / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            command, cwd=folder, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_until_healthy(url, server, log)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        yield url, folder
    finally:
        stop(server)


def test_train_retrain_and_compare_against_a_server(
    mlflow_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, folder = mlflow_server
    data = tmp_path / "data"
    assert train.main(["synth", "--out", str(data), "--districts", "40", "--periods", "8"]) == 0
    files = ["--data", str(data / "panel.csv"), "--geometry", str(data / "geometry.geojson")]
    small = [*TINY_REGION, *NO_EXPLAIN, "--catalog", str(DEFAULT_CATALOG)]
    assert train.main([*files, *small, "--output", str(tmp_path / "first"), "-q"]) == 0
    new = str(data / "new_periods.csv")
    # --force: the decision does not hang on the scores, so the aliases it moves are known
    retrain = ["retrain", "--data", new, "--force", "--output", str(tmp_path / "re"), "-q"]
    assert train.main(retrain) == 0
    record = json.loads((tmp_path / "re" / "retrain.json").read_text())
    assert record["decision"] == "promoted"
    assert (record["champion_version"], record["challenger_version"]) == ("1", "2")
    client = MlflowClient(url)
    assert str(client.get_model_version_by_alias("rootcast-h1", "champion").version) == "2"
    assert str(client.get_model_version_by_alias("rootcast-h1", "previous").version) == "1"
    csv = tmp_path / "runs.csv"
    assert train.main(["compare", "--csv", str(csv)]) == 0

    table = pd.read_csv(csv, keep_default_na=False)
    assert table["run_id"].iloc[0] == record["challenger_run_id"]  # newest first
    assert table["comparable"].tolist() == ["yes", NOT_COMPARABLE]  # the older run lacks a year
    assert table.loc[table["champion"] == "*", "model_version"].tolist() == ["rootcast-h1 v2"]
    assert table["aliases"].tolist() == ["champion", "previous"]
    # the runs live in the server's database, their artifacts in its artifact folder
    experiment = client.get_experiment_by_name("rootcast").experiment_id
    assert len(client.search_runs([experiment])) == 2
    assert (folder / "mlartifacts" / experiment / record["challenger_run_id"]).is_dir()
