"""The registered model outside the project, and the MLflow metadata of runs and versions."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import NO_EXPLAIN, REGISTERED, TINY_REGION, copy_store
from mlflow import MlflowClient
from mlflow.models import Model

import experiments.run
import train
from experiments import tracking
from experiments.registry import FINGERPRINT_TAG, MODEL_KIND_TAG, NOTE_TAG, SOURCE_TAG
from experiments.tracking.models import model_code
from models.pipeline import MAIN_MODEL

CHAMPION_URI = f"models:/{REGISTERED}@champion"

# Run in a fresh interpreter, in a folder outside the project, with the project not importable
# (isolated mode: no PYTHONPATH, no script folder on sys.path; a clean environment).
OUTSIDE = """
import importlib.util, json, sys
import mlflow.pyfunc, mlflow.sklearn, pandas as pd
missing = [p for p in ("models", "features") if importlib.util.find_spec(p) is not None]
assert not missing, f"the project is importable: {missing}"
uri, features = sys.argv[1], pd.read_parquet(sys.argv[2])
fitted = mlflow.sklearn.load_model(uri)
scored = mlflow.pyfunc.load_model(uri).predict(features)
print(json.dumps({
    "class": f"{type(fitted).__module__}.{type(fitted).__qualname__}",
    "sklearn": fitted.predict_proba(features)[:, 1].tolist(),
    "pyfunc": pd.DataFrame(scored).iloc[:, 1].tolist(),
    "project": sorted(m for m in sys.modules if m.split(".")[0] in ("models", "features")),
}))
"""


@pytest.fixture(scope="module")
def stack_run(tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> dict:
    """A tiny training run (no explanations) in its own store whose registered model is the
    stack (the main model), whatever the selection rule would say on so little data.
    Returns out, uri and summary."""
    base = tmp_path_factory.mktemp("stack-run")
    uri = copy_store(store_template, base)
    select = experiments.run.select_model

    def the_candidate(*args, **kwargs):
        chosen = select(*args, **kwargs)
        return dataclasses.replace(chosen, chosen=chosen.candidate, fell_back=False, lost_to=[])

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.setattr(experiments.run, "select_model", the_candidate)
        code = train.main(["--output", str(base / "out"), "-q", *TINY_REGION, *NO_EXPLAIN])
    assert code == 0
    summary = json.loads((base / "out" / "summary.json").read_text())
    assert summary["main_model"] == MAIN_MODEL
    return {"out": base / "out", "uri": uri, "summary": summary}


def load_outside(uri: str, store: str, tmp_path: Path) -> dict:
    """Load the model `uri` of `store` in a fresh interpreter outside the project and score
    its own input example; returns what it found and the project's own probabilities."""
    mlflow.set_tracking_uri(store)
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model")))
    logged = Model.load(local)
    features = logged.load_input_example(local)
    assert logged.signature.inputs.input_names() == list(features.columns)
    data = tmp_path / "features.parquet"
    features.to_parquet(data)
    expected = tracking.load_model(uri)[0].predict_proba(features)[:, 1]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-I", "-c", OUTSIDE, uri, str(data)],
        cwd=elsewhere,
        env={"MLFLOW_TRACKING_URI": store, "HOME": str(elsewhere)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(found["sklearn"], expected, rtol=1e-6)
    np.testing.assert_allclose(found["pyfunc"], expected, rtol=1e-6)
    assert pd.Series(found["pyfunc"]).between(0, 1).all()
    return {**found, "local": local, "features": features}


def test_the_model_logs_only_the_project_code_its_classes_import() -> None:
    files = {str(p) for p in model_code({"models.stack", "models.pipeline"})}
    assert {"models/__init__.py", "models/pipeline.py", "models/stack.py"} <= files
    assert not any(f.startswith("features/") or "explain" in f for f in files)
    assert model_code({"sklearn.pipeline"}) == []


def test_the_stack_loads_and_predicts_in_a_fresh_interpreter_outside_the_project(
    stack_run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stack_run["uri"])
    found = load_outside(CHAMPION_URI, stack_run["uri"], tmp_path)
    assert found["class"] == "models.stack.StackedClassifier"
    assert list(found["features"].columns) == stack_run["summary"]["features"]
    # only the code the model needs was logged with it, and that is what loaded
    code = found["local"] / "code"
    assert {p.parent.name for p in code.rglob("*.py")} == {"models"}
    assert not (code / "models" / "explain.py").exists()
    assert "models.stack" in found["project"] and "models.explain" not in found["project"]


def test_a_baseline_champion_loads_outside_the_project_too(
    champion_store: dict, tmp_path: Path
) -> None:
    # the shared run's registered model: a baseline (the stack falls back on its small data)
    found = load_outside(CHAMPION_URI, champion_store["uri"], tmp_path)
    assert list(found["features"].columns) == champion_store["summary"]["features"]


def test_run_has_a_name_and_a_description_of_data_folds_model_and_selection(
    stack_run: dict,
) -> None:
    summary = stack_run["summary"]
    run = MlflowClient(stack_run["uri"]).get_run(summary["run_id"])
    assert re.fullmatch(
        rf"{re.escape(summary['config_name'])}-{MAIN_MODEL}-\d{{8}}-\d{{4}}", run.info.run_name
    )
    assert run.data.tags[MODEL_KIND_TAG] == MAIN_MODEL
    note = run.data.tags[NOTE_TAG]
    data = summary["data"]
    for text in (
        data["source"],
        data["fingerprint"],
        f"{data['n_districts']} districts",
        "SYNTHETIC",
        f"{len(summary['folds'])} rolling-origin folds",
        f"{MAIN_MODEL}, registered as {REGISTERED} version 1",
        "registered: stack, which beats every baseline",  # the selection sentence
    ):
        assert text in note, text


def test_registered_version_has_a_description_and_tags(stack_run: dict) -> None:
    summary = stack_run["summary"]
    version = MlflowClient(stack_run["uri"]).get_model_version(REGISTERED, "1")
    pooled = summary["metrics"][MAIN_MODEL]
    assert version.tags["pooled.aupr"] == f"{pooled['aupr']:.4f}"
    assert version.tags["pooled.brier"] == f"{pooled['brier']:.4f}"
    assert version.tags[FINGERPRINT_TAG] == summary["data"]["fingerprint"]
    assert version.tags[SOURCE_TAG] == summary["data"]["source"]
    assert version.tags[MODEL_KIND_TAG] == MAIN_MODEL
    description = version.description
    assert summary["run_id"] in description and summary["data"]["fingerprint"] in description
    assert f"AUPR {pooled['aupr']:.4f}, Brier {pooled['brier']:.4f}" in description


def test_mlflow_models_serve_answers_one_real_request(champion_store: dict, tmp_path: Path) -> None:
    """`mlflow models serve` of the champion on 127.0.0.1 (this environment, no conda/venv
    built): one POST of the logged input example gets P(no incident), P(incident) per row."""
    import os
    import time
    import urllib.request

    from conftest import free_loopback_port, start_server, stop

    uri = f"models:/{REGISTERED}@champion"
    path = mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model"))
    example = Model.load(path).load_input_example(path)
    port = free_loopback_port()
    bin_dir = str(Path(sys.executable).parent)  # uvicorn lives beside this interpreter
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri]
    command += ["--env-manager", "local", "--host", "127.0.0.1", "-p", str(port)]
    log = tmp_path / "serve.log"
    server = start_server(command, tmp_path, env, log)
    try:
        body = json.dumps(
            {"dataframe_split": json.loads(example.to_json(orient="split", index=False))}
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        deadline, answer = time.monotonic() + 90, None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                answer = json.loads(urllib.request.urlopen(request, timeout=10).read())
            except OSError:
                time.sleep(1)
        assert answer is not None, log.read_text(errors="replace")[-2000:]
    finally:
        stop(server)
    predictions = np.asarray(answer["predictions"])
    assert predictions.shape == (len(example), 2)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0)
    expected = mlflow.sklearn.load_model(uri).predict_proba(example)
    np.testing.assert_allclose(predictions, expected, rtol=1e-6)
