"""A real MLflow tracking server (as `make server` starts it): train, retrain and compare."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from conftest import NO_EXPLAIN, PRCTL, TINY_REGION
from mlflow import MlflowClient

import train
from experiments.compare import NOT_COMPARABLE
from features.catalog import DEFAULT_CATALOG

STARTUP_SECONDS = 60


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


@pytest.fixture
def mlflow_server(mlflow_server_process: dict, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """The `mlflow server` of conftest's `mlflow_server_process` (started with the session),
    once it answers; sets MLFLOW_TRACKING_URI to it. Returns (url, folder)."""
    url, folder = mlflow_server_process["url"], mlflow_server_process["folder"]
    wait_until_healthy(url, mlflow_server_process["process"], mlflow_server_process["log"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    return url, folder


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


@pytest.mark.skipif(PRCTL is None, reason="needs Linux's prctl(PR_SET_PDEATHSIG)")
def test_a_server_ends_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from conftest import start_server; "
        "p = Path(sys.argv[1]); "
        "server = start_server([sys.executable, '-c', 'import time; time.sleep(120)'], "
        "p, {}, p / 'log'); print(server.pid, flush=True); time.sleep(120)"
    )
    starter = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=Path(__file__).parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    server_pid = None
    try:
        with ThreadPoolExecutor(1) as pool:  # a read that cannot hang the suite
            server_pid = int(pool.submit(starter.stdout.readline).result(timeout=60))
        assert _alive(server_pid)
        starter.kill()  # SIGKILL: no finally, no fixture teardown runs
        starter.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(server_pid)
    finally:
        starter.kill()
        starter.wait(timeout=10)
        starter.stdout.close()
        if server_pid is not None and _alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended but not yet reaped by init, counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
