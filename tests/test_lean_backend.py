"""The lean backend (`scale.backend = "lean"`): the dask backend's models and steps in this
process, on the same small grid panel: the same baseline metrics and (within tolerance)
xgboost metrics as the single-machine path; a registered model that forecasts forecast.csv;
histogram cuts reused only from rows a fit trains on; the limits and refusals of an
in-memory path; a report that says what this backend did."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from scale_grid import CELLS, MONTHS, single_machine_predictions

from experiments import tracking
from experiments.config import ConfigError, load_config
from experiments.data import load_inputs
from experiments.prepare import prepare
from experiments.run import run_training
from experiments.scale import run as lean
from experiments.search import run_search
from features.build import PERIOD_INDEX
from models import distributed
from models.evaluate import score_predictions


def lean_config(grid: Path, *overrides: str):
    return load_config(grid / "scale.toml", ['scale.backend="lean"', *overrides])


@pytest.fixture(scope="module")
def lean_run(grid: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One lean training (explanations on, 50 held-out rows explained) in a store of its own."""
    folder = tmp_path_factory.mktemp("lean-run")
    messages: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        config = lean_config(grid, "scale.shap_holdout_rows=50")
        result = run_training(config, folder / "out", messages.append)
    return {"result": result, "out": folder / "out", "uri": uri, "messages": messages}


def test_same_metrics_as_the_single_machine_path(grid: Path, lean_run: dict) -> None:
    single, models = single_machine_predictions(grid)
    ours = lean_run["result"].predictions
    keys = ["district_id", "period", "fold", "target"]
    assert ours[keys].reset_index(drop=True).equals(single[keys].reset_index(drop=True))
    theirs = score_predictions(single, models, 10).set_index(["model", "fold"])
    mine = lean_run["result"].scores.set_index(["model", "fold"])
    for baseline in ("historical_rate", "persistence"):
        np.testing.assert_allclose(
            mine.loc[baseline, ["aupr", "brier"]], theirs.loc[baseline, ["aupr", "brier"]]
        )
    # the same parameters and rows; folds after the first bin with the first fold's cuts
    pooled_mine, pooled_theirs = mine.loc[("xgboost", "pooled")], theirs.loc[("xgboost", "pooled")]
    assert abs(pooled_mine["aupr"] - pooled_theirs["aupr"]) < 0.03
    assert abs(pooled_mine["brier"] / pooled_theirs["brier"] - 1) < 0.03
    assert np.corrcoef(ours["xgboost"], single["xgboost"])[0, 1] > 0.97
    first = ours["fold"] == ours["fold"].min()  # its own sketch: the single-machine forecast
    np.testing.assert_allclose(ours.loc[first, "xgboost"], single.loc[first, "xgboost"], atol=1e-5)


def test_progress_names_the_backend(lean_run: dict) -> None:
    messages = lean_run["messages"]
    assert messages[0] == "loading and validating data"
    assert any(
        m.startswith("fold 1/") and m.endswith("(xgboost in this process)") for m in messages
    )
    assert "explaining the forecast: TreeSHAP" in messages
    assert not any("dask" in m.lower() for m in messages)


def test_result_files_summary_and_registered_model(lean_run: dict) -> None:
    out, result = lean_run["out"], lean_run["result"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "lean"
    assert summary["baselines"] == ["historical_rate", "persistence"]
    assert summary["data"]["n_rows"] == CELLS * MONTHS
    assert summary["model_version"] == "1" and summary["became_champion"]
    assert summary["explain"]["explain.shap_rows"] == CELLS + 50
    assert not (out / "plan.csv").exists()
    forecast = pd.read_csv(out / "forecast.csv")
    assert len(forecast) == CELLS
    assert forecast.get("risk_low", pd.Series(dtype=float)).isna().all()  # no refits: none
    drivers = pd.read_parquet(out / "district_drivers.parquet")
    assert drivers.groupby("district_id").size().eq(len(summary["features"])).all()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", lean_run["uri"])
        assert tracking.run_tag(summary["run_id"], "rootcast.backend") == "lean"
        model = mlflow.pyfunc.load_model(f"models:/{summary['registered_model']}@champion")
    assert summary["main_model"] == "xgboost"  # this grid's signal: xgboost beats both
    margin = drivers.groupby("district_id")["shap_value"].sum()
    base = drivers.groupby("district_id")["base_value"].first()
    probability = forecast.set_index("district_id")["probability"]
    total = (margin + base).reindex(probability.index)
    np.testing.assert_allclose(1 / (1 + np.exp(-total)), probability, atol=1e-4)  # csv: 4 dp
    rows = pd.concat(pd.read_parquet(f) for f in sorted(Path(result.summary.data.source).glob("*")))
    served = model.predict(rows).set_index("district_id")["probability"]
    np.testing.assert_allclose(served.reindex(probability.index), probability, atol=1e-4)


def test_one_matrix_serves_the_fits_that_cover_the_rows_that_set_its_cuts(
    grid: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = lean_config(grid)
    data = prepare(config, load_inputs(config))
    built: list[np.ndarray] = []
    shared_matrix = distributed.shared_matrix

    def spy(X, y, cut_rows, n_jobs):
        built.append(cut_rows.copy())
        return shared_matrix(X, y, cut_rows, n_jobs)

    monkeypatch.setattr(distributed, "shared_matrix", spy)
    engine = lean.LocalEngine(data.frame, config.model)
    periods = sorted(data.frame[PERIOD_INDEX].unique())
    engine.fit(data.features, periods[20])  # sets the cuts
    first = engine.matrix
    engine.fit(data.features, periods[25])  # a superset of those rows: the same matrix
    engine.fit(data.features, periods[10])  # rows before them: a matrix of its own
    engine.fit(data.features)  # every labelled row: the same matrix
    engine.fit(data.features[:-1])  # other features: a matrix of its own
    assert len(built) == 3
    assert engine.matrix is first and engine.cuts_through == periods[20]
    labelled = data.frame[data.frame["target"].notna()]
    np.testing.assert_array_equal(built[0], labelled[PERIOD_INDEX] <= periods[20])
    np.testing.assert_array_equal(built[1], labelled[PERIOD_INDEX] <= periods[10])


def test_a_weighted_fit_equals_a_fit_on_its_rows_alone(grid: Path) -> None:
    """The shared matrix's cuts are the first fold's rows' own, and zero-weight rows move no
    tree: the second fold's booster on it equals one trained on a matrix of its rows alone
    binned with those cuts, row subsampling included (its rows come first)."""
    config = lean_config(grid)
    data = prepare(config, load_inputs(config))
    settings = config.model
    frame, features = data.frame, data.features
    periods = sorted(frame[PERIOD_INDEX].unique())
    engine = lean.LocalEngine(frame, settings)
    engine.fit(features, periods[20])
    shared = engine.fit(features, periods[25])
    labelled = frame[frame["target"].notna()]
    first = labelled[labelled[PERIOD_INDEX] <= periods[20]]
    rows = labelled[labelled[PERIOD_INDEX] <= periods[25]]
    cuts = xgb.QuantileDMatrix(first[features], first["target"])
    assert np.array_equal(engine.matrix.get_quantile_cut()[1], cuts.get_quantile_cut()[1])
    alone = xgb.QuantileDMatrix(rows[features], rows["target"], ref=cuts)
    params = distributed.booster_params(settings.xgboost, settings.seed)
    params["nthread"] = settings.xgboost.n_jobs
    booster = xgb.train(params, alone, num_boost_round=settings.xgboost.n_estimators)
    test = xgb.DMatrix(labelled.loc[labelled[PERIOD_INDEX] > periods[25], features])
    assert settings.xgboost.subsample < 1
    np.testing.assert_allclose(shared.predict(test), booster.predict(test), atol=1e-6)


def test_an_in_memory_path_keeps_its_limits(grid: Path) -> None:
    config = lean_config(grid, "scale.max_rows_in_memory=1000")
    with pytest.raises(ConfigError, match=r"3,600 rows .* scale\.backend=\"dask\""):
        run_training(config, grid / "never", print)
    with pytest.raises(ConfigError, match="--search runs on the single-machine path"):
        run_search(lean_config(grid), 2, grid / "never", print)
    assert not (grid / "never").exists()
    assert load_config(None, ['scale.backend="lean"']).scale.backend == "lean"  # synthetic too


def test_the_report_says_what_this_backend_did(lean_run: dict, tmp_path: Path) -> None:
    from reports.risk_report import build_report

    html = build_report(lean_run["out"], tmp_path / "report.html").read_text()
    assert "trained in one\n    process with the lean model set" in html
    assert "Dask" not in html.split("Which model.")[1].split("</li>")[0]
    assert "No intervals: this run made no bootstrap refits" in html
    assert "this run made no plan (the dask and lean backends make none)" in html


def test_retrain_on_a_lean_champion_trains_a_lean_challenger(
    grid: Path, fresh_store: str, tmp_path: Path
) -> None:
    """A lean champion trained on all but the last 3 months; retrain with those months trains
    the challenger on the lean backend too (the champion's config), scores both on the new
    periods and records the decision."""
    from experiments.retrain import RetrainRequest, retrain

    whole = pd.concat([pd.read_parquet(f) for f in sorted((grid / "panel").glob("*.parquet"))])
    last = sorted(whole["period"].unique())[-3:]
    old_panel = tmp_path / "old"
    old_panel.mkdir()
    whole[~whole["period"].isin(last)].to_parquet(old_panel / "part.parquet", index=False)
    new = tmp_path / "new.parquet"
    whole[whole["period"].isin(last)].to_parquet(new, index=False)
    config = lean_config(grid, f'data.panel="{old_panel}"')
    champion = run_training(config, tmp_path / "first", lambda message: None)
    name = champion.summary.registered_model
    messages: list[str] = []
    record = retrain(
        RetrainRequest(new_data=str(new), model=f"{name}@champion"),
        tmp_path / "second",
        messages.append,
    )
    assert record["decision"] in ("promoted", "kept champion")
    assert record["challenger_version"] != champion.summary.model_version
    assert any(m.endswith("(xgboost in this process)") for m in messages)
    challenger = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert challenger["backend"] == "lean"
    assert challenger["data"]["n_rows"] == CELLS * MONTHS
    run = mlflow.MlflowClient().get_run(record["challenger_run_id"])
    assert run.data.tags["rootcast.backend"] == "lean"
    scores = record["head_to_head"]
    # scored: the champion's last month (now labelled) and the new months but the last
    assert scores["rows"] == CELLS * len(last)
    assert 0 < scores["champion"]["aupr"] <= 1 and 0 < scores["challenger"]["aupr"] <= 1


def test_the_full_path_points_large_panels_to_the_lean_backend() -> None:
    from experiments.run import LEAN_HINT_ROWS, size_note

    assert size_note(LEAN_HINT_ROWS - 1) is None
    note = size_note(1_008_000)
    assert note is not None and "1,008,000 rows" in note and "scale.backend=lean" in note


@pytest.mark.parametrize("first_rows", [True, False], ids=["first rows", "scattered rows"])
def test_the_shared_matrix_cuts_are_those_of_its_cut_rows_alone(first_rows: bool) -> None:
    """Whether the cut rows are the first ones (read as a slice) or scattered (copied), the
    shared matrix holds every row, binned with the cuts of a matrix of the cut rows alone."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(3_000, 4)), columns=list("abcd"))
    X["d"] = X["d"] * np.linspace(1, 5, len(X))  # later rows spread wider: other cuts
    y = pd.Series(rng.integers(0, 2, len(X)).astype(float))
    cut_rows = np.arange(len(X)) < 2_000 if first_rows else rng.random(len(X)) < 0.6
    before = X.copy()
    matrix = distributed.shared_matrix(X, y, cut_rows, n_jobs=1)
    alone = xgb.QuantileDMatrix(X[cut_rows], y[cut_rows], nthread=1)
    everything = xgb.QuantileDMatrix(X, y, nthread=1)
    assert matrix.num_row() == len(X)
    for got, want in zip(matrix.get_quantile_cut(), alone.get_quantile_cut(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(matrix.get_quantile_cut()[1], everything.get_quantile_cut()[1])
    pd.testing.assert_frame_equal(X, before)  # the caller's rows are not modified
