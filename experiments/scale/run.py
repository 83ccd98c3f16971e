"""One training run on the dask backend: the steps of `experiments.run`, on a Dask cluster.

    load lazily -> evaluate (rolling origin) -> fit final -> explain -> persist -> log

What differs from the single-machine path, and why: the model zoo is xgboost (trained with
`xgboost.dask` on the workers, the same hyper-parameters) beside the two baselines that need
no training pass over the covariates (the district's historical rate and persistence); the
stack, its logistic member, calibration, bootstrap refits (the forecast interval) and the
budgeted plan are the single-machine path's (they refit the models many times over). The
selection rule, metrics, result files, MLflow run and registered model are the same: the
registered model is a plain scikit-learn pipeline that loads and predicts without Dask.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from experiments import tracking
from experiments.config import ExperimentConfig
from experiments.run import Evaluation, FinalModel, RunResult, preflight, write_and_log
from experiments.scale.cluster import dask_client
from experiments.scale.frame import LazyData, panel_files, prepare_lazy
from experiments.summary import summarise
from features.build import PERIOD_INDEX, TARGET
from models import distributed, explain
from models.evaluate import score_predictions
from models.insight import Insight
from models.pipeline import HistoricalRateClassifier, PersistenceClassifier
from models.selection import bootstrap_margins, select_model
from models.validate import ID_COLUMNS

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
MAIN = "xgboost"
BASELINE_MODELS = {
    "historical_rate": HistoricalRateClassifier,
    "persistence": PersistenceClassifier,
}
BASELINES = list(BASELINE_MODELS)


def _rows(model_frame, period_index: int, keys: pd.DataFrame, features: list[str]):
    """The model frame's rows of one period (computed here: one period is small), in the
    order of `keys` (district_id of the prepared frame's rows of that period)."""
    rows = model_frame[model_frame[PERIOD_INDEX] == period_index].compute()
    rows = rows.set_index("district_id").reindex(keys["district_id"].to_numpy())
    if rows[features].isna().all(axis=1).any():
        raise RuntimeError(f"the workers' frame lacks rows of period index {period_index}")
    return rows.reset_index()


def _baselines(frame: pd.DataFrame, train: np.ndarray, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each baseline fitted on the prepared frame's `train` rows (history columns suffice)
    and its forecast of `X`."""
    y = frame[TARGET].to_numpy()[train]
    out = {}
    for name, kind in BASELINE_MODELS.items():
        model = kind()
        fitted = model.fit(frame.iloc[train][[model.column]], y)
        out[name] = fitted.predict_proba(X[[model.column]])[:, 1]
    return out


def evaluate(config: ExperimentConfig, lazy: LazyData, client, progress: Progress):
    """Rolling-origin forecasts of xgboost and the baselines, scored and selected as on the
    single-machine path. Returns the Evaluation and the held-out rows (for SHAP samples)."""
    data, model_frame, settings = lazy.prepared, lazy.model_frame, config.model
    frame, features = data.frame, data.features
    labelled = model_frame[model_frame[TARGET].notnull()]
    parts, held_out = [], []
    for fold in data.folds:
        progress(
            f"fold {fold.number}/{len(data.folds)}: held-out period "
            f"{frame['period'].iloc[fold.test_index[0]]}, {len(fold.train_index):,} training "
            "rows (xgboost on the Dask workers)"
        )
        train = labelled[labelled[PERIOD_INDEX] <= fold.test_period - data.horizon]
        booster = distributed.fit_booster(
            client, train[features], train[TARGET], settings.xgboost, settings.seed
        )
        out = frame.iloc[fold.test_index][[*ID_COLUMNS, TARGET]].copy()
        out.insert(3, "fold", fold.number)
        rows = _rows(model_frame, fold.test_period, out, features)
        for name, values in _baselines(frame, fold.train_index, rows).items():
            out[name] = values
        out[MAIN] = distributed.predict(booster, rows[features])
        parts.append(out.reset_index(drop=True))
        held_out.append(rows)
    predictions = pd.concat(parts, ignore_index=True)
    scores = score_predictions(predictions, [*BASELINES, MAIN], config.evaluation.top_k)
    selection = select_model(scores, MAIN, BASELINES)
    comparison = bootstrap_margins(predictions, selection, settings.seed)
    progress(selection.sentence())
    evaluation = Evaluation({}, predictions, scores, selection, comparison)
    return evaluation, pd.concat(held_out, ignore_index=True)


def fit_final(config: ExperimentConfig, lazy: LazyData, client, evaluation: Evaluation):
    """The selected model on every labelled row and its forecast of the latest period.
    Returns (FinalModel, the booster or None for a baseline, the latest period's rows)."""
    data, model_frame, settings = lazy.prepared, lazy.model_frame, config.model
    frame, features = data.frame, data.features
    latest = frame[PERIOD_INDEX] == frame[PERIOD_INDEX].max()
    keys = frame.loc[latest, ["district_id", "period"]].reset_index(drop=True)
    rows = _rows(model_frame, int(frame[PERIOD_INDEX].max()), keys, features)
    booster = None
    if evaluation.selection.chosen == MAIN:
        labelled = model_frame[model_frame[TARGET].notnull()]
        booster = distributed.fit_booster(
            client, labelled[features], labelled[TARGET], settings.xgboost, settings.seed
        )
        model = distributed.as_pipeline(booster, features, settings.xgboost, settings.seed, rows)
    else:
        model = BASELINE_MODELS[evaluation.selection.chosen]()
        known = frame[TARGET].notna()
        model.fit(frame.loc[known, [model.column]], frame.loc[known, TARGET].to_numpy())
    forecast = keys.assign(probability=model.predict_proba(rows[features])[:, 1])
    return FinalModel(model, forecast), booster, rows


def explain_forecast(
    config: ExperimentConfig,
    lazy: LazyData,
    client,
    final: FinalModel,
    booster: xgb.Booster | None,
    latest: pd.DataFrame,
    held_out: pd.DataFrame,
) -> Insight | None:
    """TreeSHAP of the forecast period (through the Dask predict) and of a seeded sample of
    `scale.shap_holdout_rows` held-out rows: drivers by district, global and by domain."""
    if not config.explain.enabled:
        return None
    data, features = lazy.prepared, lazy.prepared.features
    if booster is not None:  # the forecast period's rows, already here, in forecast order
        shap_latest = distributed.tree_shap(client, booster, latest[features])
    else:
        shap_latest = explain.contributions(final.model, latest[features], features)
    shap_latest = shap_latest.reset_index(drop=True)
    explained = [shap_latest]
    n_sample = min(config.scale.shap_holdout_rows, len(held_out))
    if n_sample:
        sample = held_out.sample(n=n_sample, random_state=config.model.seed)
        explained.append(explain.contributions(final.model, sample[features], features))
    catalog = data.catalog
    importance = explain.global_importance(pd.concat(explained, ignore_index=True), catalog)
    tables = {
        "shap_global": importance,
        "shap_domains": explain.domain_importance(importance),
        "district_drivers": explain.drivers_long(shap_latest, latest, catalog),
    }
    metrics = {"explain.shap_rows": float(sum(len(part) for part in explained))}
    return Insight(tables=tables, metrics=metrics, members=[])


def run_training_dask(
    config: ExperimentConfig, output_dir: Path, progress: Progress = log.info
) -> RunResult:
    """`experiments.run.run_training` on the dask backend: the same all-or-nothing writing
    of result files, MLflow run and registered model (see the module docstring)."""
    started = time.perf_counter()
    preflight(config, output_dir)
    files = panel_files(config.data.panel)  # a CSV panel is refused before the cluster starts
    with dask_client(config.scale, progress) as client:
        workers = client.scheduler_info().get("workers", {}).values()
        shape = {  # results depend on it (xgboost's histograms are built per worker)
            "rootcast.backend": "dask",
            "rootcast.dask_workers": str(len(workers)),
            "rootcast.dask_threads": str(sum(w.get("nthreads", 0) for w in workers)),
        }
        lazy = prepare_lazy(config, files, client, progress)
        evaluation, held_out = evaluate(config, lazy, client, progress)
        progress("fitting the final model on all labelled periods")
        final, booster, latest = fit_final(config, lazy, client, evaluation)
        if config.explain.enabled:
            progress("explaining the forecast: TreeSHAP through the Dask predict")
        found = explain_forecast(config, lazy, client, final, booster, latest, held_out)
    data = lazy.prepared
    summary = summarise(config, data, evaluation, final, found, BASELINES)
    forecast = final.forecast.sort_values("probability", ascending=False, kind="stable")
    parts = (data, evaluation, final, forecast, found, None)
    result = write_and_log(config, output_dir, summary, parts, started, progress)
    tracking.tag_run(result.summary.run_id, shape)
    return result
