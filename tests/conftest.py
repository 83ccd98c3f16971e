"""Shared fixtures: every test gets its own MLflow store, so none touches the project's.

Tests that only read a trained run share one: `champion_run` trains the small synthetic region
once per session in a store of its own, and `champion_store` points a test at that store.
New stores that tests fill are copies of one empty store made once (`store_template`), and the
real-subprocess training run (`cli_training`) starts with the session, beside the other tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import mlflow.models
import pytest
from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[1]
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
def grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scale backends' small grid panel (`scale_grid.CELLS` x `MONTHS`, seed 3), written
    once per session by benchmarks/scale_panel.py: the dask and lean tests share it."""
    from scale_grid import CELLS, FEATURES, MONTHS

    from benchmarks.scale_panel import generate

    folder = tmp_path_factory.mktemp("grid")
    generate(folder, CELLS, MONTHS, FEATURES, seed=3)
    return folder


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store, made once: MLflow creates and migrates its tables on
    first use, about a second per store. `copy_store` gives tests copies of it."""
    path = tmp_path_factory.mktemp("store-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments(max_results=1)
    return path


def copy_store(template: Path, folder: Path) -> str:
    """A new store in `folder` (mlflow.db, a copy of the empty template); returns its URI."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture
def fresh_store(isolated_mlflow: str, store_template: Path) -> str:
    """This test's own store (`isolated_mlflow`'s), made up front from the template, for tests
    that train: it exists from the start. Returns its URI."""
    copy_store(store_template, Path(isolated_mlflow.removeprefix("sqlite:///")).parent)
    return isolated_mlflow


@pytest.fixture(scope="session")
def cli_training(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], dict]]:
    """`train.py` on the tiny region (explanations on) as a real subprocess, in a new store of
    its own, with MLflow's real requirement inference. Started when the session starts if a
    selected test needs it (`start_early`), so it runs beside the in-process tests. Yields a
    function that waits for it and returns returncode, stdout, stderr and uri (the store)."""
    base = tmp_path_factory.mktemp("cli")
    uri = f"sqlite:///{base / 'cli.db'}"
    command = [sys.executable, "train.py", "--output", str(base / "out"), *TINY_REGION]
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    stdout, stderr = base / "stdout.txt", base / "stderr.txt"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)

    def result() -> dict:
        process.wait(timeout=300)
        return {
            "returncode": process.returncode,
            "stdout": stdout.read_text(),
            "stderr": stderr.read_text(),
            "uri": uri,
        }

    try:
        yield result
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prctl():
    """libc's prctl, looked up here (not in a forked child), or None off Linux / glibc."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


PRCTL = _prctl()
PR_SET_PDEATHSIG = 1


def _end_with_parent(parent: int) -> None:
    """Run in the child before the command: SIGTERM when the thread that started it ends
    (fixtures start servers from pytest's main thread, so: when the test run ends, even by
    SIGKILL; the server's own process group keeps it out of signals sent to the run's group).
    If `parent` already ended meanwhile, end at once."""
    PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)


def start_server(command: list[str], folder: Path, env: dict, log: Path) -> subprocess.Popen:
    """`command` started in `folder` in a process group of its own (so `stop` ends its
    workers too), output to `log`; on Linux (glibc) it is also ended when this process ends."""
    parent = os.getpid()
    with log.open("wb") as sink:
        return subprocess.Popen(
            command, cwd=folder, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=(lambda: _end_with_parent(parent)) if PRCTL is not None else None,
        )  # fmt: skip


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


@pytest.fixture(scope="session")
def mlflow_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`mlflow server` (as `make server` starts it) with a new SQLite backend and proxied local
    artifacts on a free loopback port, in a temporary folder. Started when the session starts
    if a selected test needs it (`start_early`): it takes seconds to come up. Yields url,
    folder, process and log; test_server.py waits until it answers."""
    folder = tmp_path_factory.mktemp("server")
    port = free_loopback_port()
    command = [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--backend-store-uri", f"sqlite:///{folder / 'mlflow-server.db'}"),
        *("--artifacts-destination", str(folder / "mlartifacts"), "--serve-artifacts"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no GenAI job runner
    env.pop("MLFLOW_TRACKING_URI", None)
    log = folder / "server.log"
    server = start_server(command, folder, env, log)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "folder": folder, "process": server, "log": log}
    finally:
        stop(server)


# session fixtures worth starting at once: their subprocesses run on the second core meanwhile
START_EARLY = ("cli_training", "mlflow_server_process")


@pytest.fixture(scope="session", autouse=True)
def start_early(request: pytest.FixtureRequest) -> None:
    """Start the START_EARLY fixtures that a selected test needs when the session starts."""
    needed = {name for item in request.session.items for name in item.fixturenames}
    for name in START_EARLY:
        if name in needed:
            request.getfixturevalue(name)


@pytest.fixture(scope="session")
def champion_run(tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> dict:
    """One small synthetic training run (explanations and plan on) in its own MLflow store,
    shared by every test that only reads it; its model is version 1 and `champion` of
    rootcast-h1. Returns code, out (results folder), uri (the store) and summary."""
    import train

    base = tmp_path_factory.mktemp("champion")
    uri = copy_store(store_template, base)
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
