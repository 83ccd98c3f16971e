"""The registered model outside the project (panel rows in, the named forecast out; loaded
from a fresh interpreter, served over HTTP), and the MLflow metadata of runs and versions."""

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
from mlflow.exceptions import MlflowException
from mlflow.models import Model

import experiments.run
import train
from experiments import tracking
from experiments.registry import FINGERPRINT_TAG, MODEL_KIND_TAG, NOTE_TAG, SOURCE_TAG
from experiments.tracking.models import PANEL_MODEL_CODE, imported_names, model_code
from models.pipeline import MAIN_MODEL
from models.serving import ARTIFACT, OUTPUT_COLUMNS
from reports.contract import RunSummary

CHAMPION_URI = f"models:/{REGISTERED}@champion"
INTERVAL = ["probability_low", "probability_high"]

# Run in a fresh interpreter, in a folder outside the project, with the project not importable
# (isolated mode: no PYTHONPATH, no script folder on sys.path; a clean environment): load the
# registered model with MLflow alone and score panel rows.
OUTSIDE = """
import importlib.util, json, sys
import mlflow.pyfunc, pandas as pd
missing = [p for p in ("models", "features") if importlib.util.find_spec(p) is not None]
assert not missing, f"the project is importable: {missing}"
uri, panel, out = sys.argv[1], pd.read_parquet(sys.argv[2]), sys.argv[3]
mlflow.pyfunc.load_model(uri).predict(panel).to_parquet(out)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("models", "features"))))
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


def load_outside(uri: str, store: str, tmp_path: Path, panel: Path) -> dict:
    """Load the model `uri` of `store` in a fresh interpreter outside the project and score
    the panel rows in `panel` (parquet); returns its forecast, the project modules that loaded
    there and the model's files (downloaded here)."""
    mlflow.set_tracking_uri(store)
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model")))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    scored = elsewhere / "scored.parquet"
    done = subprocess.run(
        [sys.executable, "-I", "-c", OUTSIDE, uri, str(panel), str(scored)],
        cwd=elsewhere,
        env={"MLFLOW_TRACKING_URI": store, "HOME": str(elsewhere)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    project = json.loads(done.stdout.strip().splitlines()[-1])
    return {"scored": pd.read_parquet(scored), "project": project, "local": local}


def run_forecast(out: Path) -> pd.DataFrame:
    """The run's forecast.csv by district (rounded to contract.DECIMALS places)."""
    return pd.read_csv(out / "forecast.csv").set_index("district_id")


def test_the_model_logs_only_the_project_code_its_classes_import() -> None:
    files = {str(p) for p in model_code({"models.stack", "models.pipeline"})}
    assert {"models/__init__.py", "models/pipeline.py", "models/stack.py"} <= files
    assert not any(f.startswith("features/") or "explain" in f for f in files)
    assert model_code({"sklearn.pipeline"}) == []
    # the panel model's own code: the forecaster, the feature building it shares with the
    # run, the allow-list; never the explain, insight or targeting code
    files = {str(p) for p in model_code(set(imported_names(PANEL_MODEL_CODE)))}
    assert {"models/serving.py", "models/trusted.py", "features/build.py"} <= files
    assert {"features/schema.py", "features/labels.py", "features/errors.py"} <= files
    assert not any(w in f for f in files for w in ("explain", "insight", "targeting", "pipeline"))


def test_the_stack_scores_panel_rows_in_a_fresh_interpreter_outside_the_project(
    stack_run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stack_run["uri"])
    found = load_outside(
        CHAMPION_URI, stack_run["uri"], tmp_path, stack_run["out"] / "panel.parquet"
    )
    scored = found["scored"]
    assert list(scored.columns) == list(OUTPUT_COLUMNS)
    run = run_forecast(stack_run["out"])
    assert sorted(scored["district_id"]) == sorted(run.index)
    forecast = scored.set_index("district_id").loc[run.index]
    np.testing.assert_allclose(forecast["probability"], run["probability"], atol=1e-4)
    assert (forecast["forecast_period"] == run["forecast_period"]).all()
    assert forecast[INTERVAL].isna().all().all()  # no explain stage, no ensemble: no interval
    # only the code the model needs was logged with it, and that is what loaded
    code = found["local"] / "code"
    assert {p.parent.name for p in code.rglob("*.py")} == {"models", "features"}
    assert not (code / "models" / "explain.py").exists()
    assert {"models.stack", "models.serving"} <= set(found["project"])
    assert "models.explain" not in found["project"]
    # the project's own loader still gives the fitted estimator (skops, pinned allow-list)
    assert type(tracking.load_model(CHAMPION_URI)[0]).__name__ == "StackedClassifier"


def test_a_baseline_champion_reproduces_the_run_forecast_and_interval_outside_the_project(
    champion_store: dict, tmp_path: Path
) -> None:
    # the shared run's registered model: a baseline (the stack falls back on its small data),
    # with the explain stage's bootstrap refits logged beside it for the interval
    out = champion_store["out"]
    found = load_outside(CHAMPION_URI, champion_store["uri"], tmp_path, out / "panel.parquet")
    run = run_forecast(out)
    forecast = found["scored"].set_index("district_id").loc[run.index]
    np.testing.assert_allclose(forecast["probability"], run["probability"], atol=1e-4)
    np.testing.assert_allclose(forecast["probability_low"], run["risk_low"], atol=1e-4)
    np.testing.assert_allclose(forecast["probability_high"], run["risk_high"], atol=1e-4)
    assert (
        forecast["period"].astype(str) == str(champion_store["summary"]["forecast_period"])
    ).all()
    members = list((found["local"] / "artifacts" / ARTIFACT).glob("member-*.skops"))
    assert len(members) == 2  # explain.n_bootstrap
    assert not list(found["local"].rglob("*.pkl"))  # no pickle anywhere in the model


def test_signature_and_input_example_are_panel_rows_and_the_named_forecast(
    champion_store: dict, tmp_path: Path
) -> None:
    local = Path(mlflow.artifacts.download_artifacts(CHAMPION_URI, dst_path=str(tmp_path)))
    logged = Model.load(local)
    example = logged.load_input_example(local)
    inputs = logged.signature.inputs
    assert inputs.input_names() == list(example.columns)
    assert {"district_id", "period", "incidents", "poverty"} <= set(example.columns)
    assert "minority_share" not in example.columns  # protected: never a model input
    optional = {c.name for c in inputs.inputs if not c.required}
    assert optional == {"country", "admin1", "district_name"}
    assert logged.signature.outputs.input_names() == list(OUTPUT_COLUMNS)
    # the last two periods of every district: small, and valid for the history features
    summary = champion_store["summary"]
    assert example["period"].nunique() == 2
    assert example["district_id"].nunique() == summary["data"]["n_districts"]
    scored = mlflow.pyfunc.load_model(CHAMPION_URI).predict(example)
    assert list(scored.columns) == list(OUTPUT_COLUMNS)
    assert (scored["forecast_period"] == scored["period"] + 1).all()  # horizon 1, years
    assert scored["probability"].between(0, 1).all()


def test_bad_panel_rows_are_a_clear_error_naming_the_problem(champion_store: dict) -> None:
    model = mlflow.pyfunc.load_model(CHAMPION_URI)
    panel = pd.read_parquet(champion_store["out"] / "panel.parquet")
    with pytest.raises(MlflowException, match=r"missing inputs \['poverty'\]"):
        model.predict(panel.drop(columns=["poverty"]))
    with pytest.raises(MlflowException, match=r"more than one row per \(district_id, period\)"):
        model.predict(pd.concat([panel, panel.tail(1)]))
    # labels are optional; columns the model does not read (protected ones) are ignored
    bare = panel.drop(columns=["country", "admin1", "district_name", "minority_share"])
    assert len(model.predict(bare)) == champion_store["summary"]["data"]["n_districts"]


def test_the_project_refuses_a_pickled_model(fresh_store: str) -> None:
    class Pickled(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: pd.DataFrame) -> pd.DataFrame:
            return model_input

    mlflow.set_tracking_uri(fresh_store)
    with mlflow.start_run() as run:  # MLflow pickles a PythonModel object (cloudpickle)
        mlflow.pyfunc.log_model(name="model", python_model=Pickled(), pip_requirements=[])
    with pytest.raises(LookupError, match="not skops-serialised"):
        tracking.load_model(run.info.run_id)


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
        f"**Why {MAIN_MODEL}**: it beats every baseline (AUPR ",  # the selection's reason
    ):
        assert text in note, text
    assert "registered: " not in note  # the terminal's sentence is not pasted in


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
    assert "Registered because it beats every baseline (AUPR " in description


def test_descriptions_of_a_fallback_say_so_in_a_sentence(stack_run: dict) -> None:
    summary = RunSummary.from_dict(stack_run["summary"])
    summary = dataclasses.replace(summary, main_model="logistic", selection={"fell_back": True})
    reason = "stack did not beat logistic on Brier (AUPR +0.001 vs logistic)"
    note = tracking.run_description(summary, reason)
    assert f"**Why logistic**: a fallback — {reason}." in note
    version = tracking.version_description(summary, reason)
    assert version.startswith("logistic (fallback), registered as ")
    assert version.endswith(f"Registered as a fallback: {reason}.")


def test_registered_model_is_described_and_a_users_description_is_kept(
    stack_run: dict, fresh_store: str
) -> None:
    description = MlflowClient(stack_run["uri"]).get_registered_model(REGISTERED).description
    horizon = stack_run["summary"]["target"]["horizon"]
    assert f"{horizon} period(s) ahead" in description
    assert "Each version is described individually" in description
    assert "prevention" in description and "Not for security operations" in description
    client = MlflowClient(fresh_store)
    client.create_registered_model("mine")
    tracking.describe_model("mine", "first")
    assert client.get_registered_model("mine").description == "first"
    client.update_registered_model("mine", description="the user's own words")
    tracking.describe_model("mine", "rootcast's text")
    assert client.get_registered_model("mine").description == "the user's own words"


def test_mlflow_models_serve_answers_one_real_request(champion_store: dict, tmp_path: Path) -> None:
    """`mlflow models serve` of the champion on 127.0.0.1 (this environment, no conda/venv
    built): one POST of the logged serving example (panel rows) gets the named forecast of
    every district; a POST without a column the model needs gets a 400 naming it."""
    import os
    import time
    import urllib.error
    import urllib.request

    from conftest import free_loopback_port, start_server, stop

    path = Path(mlflow.artifacts.download_artifacts(CHAMPION_URI, dst_path=str(tmp_path / "m")))
    body = (path / "serving_input_example.json").read_text()
    example = Model.load(path).load_input_example(path)
    port = free_loopback_port()
    bin_dir = str(Path(sys.executable).parent)  # uvicorn lives beside this interpreter
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", CHAMPION_URI]
    command += ["--env-manager", "local", "--host", "127.0.0.1", "-p", str(port)]
    log = tmp_path / "serve.log"
    server = start_server(command, tmp_path, env, log)

    def post(data: str) -> urllib.request.Request:
        return urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=data.encode(),
            headers={"Content-Type": "application/json"},
        )

    try:
        deadline, answer = time.monotonic() + 90, None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                answer = json.loads(urllib.request.urlopen(post(body), timeout=10).read())
            except OSError:
                time.sleep(1)
        assert answer is not None, log.read_text(errors="replace")[-2000:]
        split = json.loads(body)["dataframe_split"]
        column = split["columns"].index("poverty")
        split["columns"].pop(column)
        for row in split["data"]:
            row.pop(column)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(post(json.dumps({"dataframe_split": split})), timeout=10)
    finally:
        stop(server)
    served = pd.DataFrame(answer["predictions"])
    assert list(served.columns) == list(OUTPUT_COLUMNS)
    expected = mlflow.pyfunc.load_model(CHAMPION_URI).predict(example)
    assert served["district_id"].tolist() == expected["district_id"].tolist()
    np.testing.assert_allclose(served["probability"], expected["probability"], rtol=1e-6)
    np.testing.assert_allclose(served[INTERVAL], expected[INTERVAL], rtol=1e-6)
    assert refused.value.code == 400
    assert "poverty" in refused.value.read().decode()
