"""The dask backend (`scale.backend = "dask"`) on a small grid panel, on a LocalCluster: the
same features, baseline metrics and (within tolerance) xgboost metrics as the single-machine
path; a registered model that loads and forecasts without Dask; bad files named; the scale
config validated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scale_grid import CELLS, MONTHS, single_machine_predictions

from experiments import tracking
from experiments.config import ConfigError, load_config
from experiments.data import load_inputs
from experiments.plan import PlanRequest, make_plan
from experiments.prepare import prepare
from experiments.retrain import RetrainRequest, retrain
from experiments.run import run_training
from experiments.scale.cluster import dask_client
from experiments.scale.frame import panel_files, prepare_lazy
from experiments.search import run_search
from features.build import PERIOD_INDEX
from features.errors import DataContractError
from models import distributed
from models.evaluate import score_predictions
from models.explain import tree_shap
from models.probability import logit

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ["scale.n_workers=1", "scale.threads_per_worker=1", 'scale.memory_limit="2GiB"']


def grid_config(grid: Path, *overrides: str):
    return load_config(grid / "scale.toml", ['scale.backend="dask"', *LOCAL, *overrides])


@pytest.fixture(scope="module")
def dask_run(grid: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One dask-backend training (explanations on) in a store of its own."""
    folder = tmp_path_factory.mktemp("dask-run")
    with pytest.MonkeyPatch.context() as patch:
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        config = grid_config(grid, "scale.shap_holdout_rows=50")
        result = run_training(config, folder / "out", lambda message: None)
    return {"result": result, "out": folder / "out", "uri": uri, "config": config}


def test_same_metrics_as_the_single_machine_path(grid: Path, dask_run: dict) -> None:
    single, models = single_machine_predictions(grid)
    ours = dask_run["result"].predictions
    keys = ["district_id", "period", "fold", "target"]
    assert ours[keys].reset_index(drop=True).equals(single[keys].reset_index(drop=True))
    k = dask_run["config"].evaluation.top_k
    theirs = score_predictions(single, models, k).set_index(["model", "fold"])
    mine = dask_run["result"].scores.set_index(["model", "fold"])
    for baseline in ("historical_rate", "persistence"):  # the same code on the same rows
        np.testing.assert_allclose(
            mine.loc[baseline, ["aupr", "brier"]], theirs.loc[baseline, ["aupr", "brier"]]
        )
    # xgboost on the workers: the same parameters and rows, quantile sketches built apart
    pooled_mine, pooled_theirs = mine.loc[("xgboost", "pooled")], theirs.loc[("xgboost", "pooled")]
    assert abs(pooled_mine["aupr"] - pooled_theirs["aupr"]) < 0.03
    assert abs(pooled_mine["brier"] / pooled_theirs["brier"] - 1) < 0.03
    assert np.corrcoef(ours["xgboost"], single["xgboost"])[0, 1] > 0.97


def test_features_equal_the_single_machine_frame(grid: Path) -> None:
    config = grid_config(grid)
    data = prepare(load_config(grid / "scale.toml"), load_inputs(load_config(grid / "scale.toml")))
    with dask_client(config.scale, lambda message: None) as client:
        lazy = prepare_lazy(config, panel_files(config.data.panel), client, lambda m: None)
        workers = lazy.model_frame.compute()
        # TreeSHAP through the Dask predict = TreeSHAP of the registered pipeline, locally
        settings, features = config.model.xgboost, lazy.prepared.features
        labelled = lazy.model_frame[lazy.model_frame["target"].notnull()]
        booster = distributed.fit_booster(
            client, labelled[features], labelled["target"], settings, 0
        )
        last = lazy.model_frame[lazy.model_frame[PERIOD_INDEX] == workers[PERIOD_INDEX].max()]
        on_workers = distributed.tree_shap(client, booster, last[features].compute())
    rows = workers[workers[PERIOD_INDEX] == workers[PERIOD_INDEX].max()].reset_index(drop=True)
    pipeline = distributed.as_pipeline(booster, features, settings, 0, rows)
    here = tree_shap(pipeline, rows[features])
    np.testing.assert_allclose(on_workers.to_numpy(), here.to_numpy(), atol=1e-5)
    assert list(on_workers.columns) == list(here.columns)
    assert lazy.prepared.features == data.features
    order = ["district_id", PERIOD_INDEX]
    workers = workers.sort_values(order).reset_index(drop=True)
    frame = data.frame.sort_values(order).reset_index(drop=True)
    assert workers["district_id"].tolist() == frame["district_id"].tolist()
    np.testing.assert_allclose(
        workers[data.features].to_numpy(float), frame[data.features].to_numpy(float), rtol=1e-6
    )
    np.testing.assert_array_equal(workers["target"].to_numpy(float), frame["target"].to_numpy())


def test_result_files_and_explanations(dask_run: dict) -> None:
    out = dask_run["out"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["baselines"] == ["historical_rate", "persistence"]
    assert summary["data"]["n_rows"] == CELLS * MONTHS
    assert summary["model_version"] == "1" and summary["became_champion"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", dask_run["uri"])
        assert tracking.run_tag(summary["run_id"], "rootcast.dask_workers") == "1"
        assert tracking.run_tag(summary["run_id"], "rootcast.dask_threads") == "1"
    forecast = pd.read_csv(out / "forecast.csv")
    assert len(forecast) == CELLS
    assert forecast.get("risk_low", pd.Series(dtype=float)).isna().all()  # no refits: none
    drivers = pd.read_parquet(out / "district_drivers.parquet")
    assert drivers.groupby("district_id").size().eq(len(summary["features"])).all()
    assert summary["explain"]["explain.shap_rows"] == CELLS + 50
    if summary["main_model"] == "xgboost":  # TreeSHAP adds up to the forecast's log-odds
        margin = drivers.groupby("district_id")["shap_value"].sum()
        base = drivers.groupby("district_id")["base_value"].first()
        probability = forecast.set_index("district_id")["probability"]
        total = (margin + base).reindex(probability.index)
        np.testing.assert_allclose(total, logit(probability.to_numpy()), atol=2e-3)


def test_registered_model_forecasts_without_dask(dask_run: dict, tmp_path: Path) -> None:
    """A fresh interpreter loads the champion with MLflow and forecasts panel rows without a
    cluster (Dask's `distributed` is never imported; scikit-learn may import `dask` itself
    when it is installed) and the model's requirements name neither; the forecast is
    forecast.csv's."""
    summary = dask_run["result"].summary
    rows = tmp_path / "rows.parquet"  # a caller's panel rows: the history features need all
    files = sorted(Path(dask_run["config"].data.panel).glob("*.parquet"))
    pd.concat([pd.read_parquet(f) for f in files]).to_parquet(rows)
    uri = f"models:/{summary.registered_model}@champion"
    script = (
        "import sys, mlflow, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model({uri!r})\n"
        f"out = model.predict(pd.read_parquet({str(rows)!r}))\n"
        "assert not any(m.split('.')[0] == 'distributed' for m in sys.modules)\n"
        f"need = mlflow.pyfunc.get_model_dependencies({uri!r})\n"
        "text = open(need).read()\n"
        "assert 'dask' not in text and 'distributed' not in text, text\n"
        "print(out.to_json(orient='records'))\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": dask_run["uri"]}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    served = pd.DataFrame(json.loads(done.stdout.strip().splitlines()[-1]))
    forecast = pd.read_csv(dask_run["out"] / "forecast.csv").set_index("district_id")
    np.testing.assert_allclose(
        served.set_index("district_id")["probability"].reindex(forecast.index),
        forecast["probability"],
        atol=1e-4,
    )


def test_a_bad_file_is_named_and_nothing_is_written(grid: Path, tmp_path: Path) -> None:
    panel = tmp_path / "panel"
    panel.mkdir()
    for path in sorted((grid / "panel").glob("*.parquet")):
        part = pd.read_parquet(path)
        if path.name.endswith("2002.parquet"):
            part.loc[7, "driver_01"] = np.inf
        part.to_parquet(panel / path.name)
    config = grid_config(grid, f'data.panel="{panel}"')
    with pytest.raises(DataContractError, match=r"part-2002\.parquet.*driver_01"):
        run_training(config, tmp_path / "out", lambda message: None)
    assert not (tmp_path / "out").exists()


def test_scale_config_is_validated(grid: Path) -> None:
    with pytest.raises(ConfigError, match="reads a Parquet panel"):
        load_config(None, ['scale.backend="dask"'])
    with pytest.raises(ConfigError, match="no scheduler address"):
        load_config(None, ['scale.scheduler="localhost:8786"'])
    with pytest.raises(ConfigError, match="scale.backend"):
        load_config(None, ['scale.backend="spark"'])
    with pytest.raises(ConfigError, match="memory_limit"):
        run_training(grid_config(grid, 'scale.memory_limit="lots"'), grid / "x", print)
    with pytest.raises(ConfigError, match="--search runs on the single-machine path"):
        run_search(grid_config(grid), 2, grid / "x", print)
    assert not (grid / "x").exists()
    bare = load_config(grid / "scale.toml", ["scale.backend=dask", "scale.scheduler=tcp://h:1"])
    assert (bare.scale.backend, bare.scale.scheduler) == ("dask", "tcp://h:1")  # bare text


def test_the_single_machine_path_refuses_a_panel_beyond_its_limit(grid: Path) -> None:
    config = load_config(grid / "scale.toml", ["scale.max_rows_in_memory=1000"])
    with pytest.raises(ConfigError, match=r"3,600 rows .* scale\.backend=\"dask\""):
        run_training(config, grid / "never", print)
    assert not (grid / "never").exists()


def test_files_split_by_month_and_an_empty_file_are_one_panel(grid: Path, tmp_path: Path) -> None:
    """Files need not be whole periods: gaps are checked across files, empty files skipped."""
    whole = pd.concat([pd.read_parquet(f) for f in sorted((grid / "panel").glob("*.parquet"))])
    month = whole["period"].str[5:7].astype(int)
    panel = tmp_path / "panel"
    panel.mkdir()
    whole[month % 2 == 0].to_parquet(panel / "even.parquet")
    whole[month % 2 == 1].to_parquet(panel / "odd.parquet")
    whole.head(0).to_parquet(panel / "zz-empty.parquet")
    config = grid_config(grid, f'data.panel="{panel}"')
    with dask_client(config.scale, lambda message: None) as client:
        lazy = prepare_lazy(config, panel_files(config.data.panel), client, lambda m: None)
        rows = len(lazy.model_frame)
    assert rows == len(lazy.prepared.frame) == CELLS * MONTHS
    assert [f.name for f in lazy.files] == ["even.parquet", "odd.parquet"]
    # plan, predict and retrain read the data the model learnt from, empty file included
    assert lazy.prepared.inputs.fingerprint == load_inputs(config).fingerprint


def test_plan_and_retrain_on_a_dask_champion(dask_run: dict, tmp_path: Path) -> None:
    """plan knows the data the model learnt from (no false "data changed" warning);
    retrain refuses a dask challenger before writing anything."""
    name = dask_run["result"].summary.registered_model
    messages: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", dask_run["uri"])
        make_plan(PlanRequest(f"{name}@champion", budget=3.0), tmp_path / "plan", messages.append)
        request = RetrainRequest(new_data=str(tmp_path / "new.parquet"), model=f"{name}@champion")
        pd.DataFrame({"district_id": ["x"]}).to_parquet(tmp_path / "new.parquet")
        with pytest.raises(ConfigError, match="scale.backend=pandas"):
            retrain(request, tmp_path / "retrain", messages.append)
    assert not any("data changed" in m for m in messages)
    assert (tmp_path / "plan" / "plan.csv").exists()
    assert not (tmp_path / "retrain").exists()


def test_the_report_says_what_this_backend_did_not_make(dask_run: dict, tmp_path: Path) -> None:
    from reports.risk_report import build_report

    html = build_report(dask_run["out"], tmp_path / "report.html").read_text()
    assert "No intervals: this run made no bootstrap refits" in html
    assert "with a 90% interval" not in html and "uncertainty map and the" not in html
    assert "trained on a Dask cluster" in html and "this run made no plan" in html
    assert "explain disabled" not in html  # it was not: TreeSHAP of the forecast is there
