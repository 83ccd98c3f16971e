"""One training run of the lean model set: the steps of `experiments.run`, on a Dask cluster
(`scale.backend = "dask"`) or in this process (`"lean"`).

    load (lazily on Dask) -> evaluate (rolling origin) -> fit final -> explain -> persist -> log

What differs from the single-machine path, and why: the model zoo is xgboost (the same
hyper-parameters; on Dask trained with `xgboost.dask` on the workers) beside the two baselines
that need no training pass over the covariates (the district's historical rate and
persistence); the stack, its logistic member, calibration, bootstrap refits (the forecast
interval) and the budgeted plan are the single-machine path's (they refit the models many
times over). The selection rule, metrics, result files, MLflow run and registered model are
the same: the registered model is a plain scikit-learn pipeline that loads and predicts
without Dask. Where xgboost trains and its rows live is an engine's (`DaskEngine`,
`LocalEngine`); the steps are the same for both.
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
from experiments.data import load_inputs
from experiments.prepare import PreparedData, prepare
from experiments.run import Evaluation, FinalModel, RunResult, preflight, write_and_log
from experiments.summary import summarise
from features.build import PERIOD_INDEX, TARGET
from models import distributed, explain
from models.evaluate import score_predictions
from models.insight import Insight
from models.pipeline import HistoricalRateClassifier, PersistenceClassifier
from models.selection import bootstrap_margins, select_model
from models.settings import ModelSettings
from models.validate import ID_COLUMNS

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
MAIN = "xgboost"
BASELINE_MODELS = {
    "historical_rate": HistoricalRateClassifier,
    "persistence": PersistenceClassifier,
}
BASELINES = list(BASELINE_MODELS)


class DaskEngine:
    """xgboost on a Dask cluster: the model frame (every model feature, keys, period index and
    target; `prepare_lazy`) stays on the workers, one period at a time comes here."""

    where = "xgboost on the Dask workers"
    explains = "TreeSHAP through the Dask predict"

    def __init__(self, client, model_frame, settings: ModelSettings):
        self.client, self.model_frame, self.settings = client, model_frame, settings

    def rows(self, period_index: int, keys: pd.DataFrame, features: list[str]) -> pd.DataFrame:
        """The model frame's rows of one period, in the order of `keys` (district_id of the
        prepared frame's rows of that period)."""
        frame = self.model_frame
        rows = frame[frame[PERIOD_INDEX] == period_index].compute()
        rows = rows.set_index("district_id").reindex(keys["district_id"].to_numpy())
        if rows[features].isna().all(axis=1).any():
            raise RuntimeError(f"the workers' frame lacks rows of period index {period_index}")
        return rows.reset_index()

    def fit(self, features: list[str], last_period: int | None = None) -> xgb.Booster:
        """xgboost on the labelled rows up to period index `last_period` (None: all)."""
        labelled = self.model_frame[self.model_frame[TARGET].notnull()]
        if last_period is not None:
            labelled = labelled[labelled[PERIOD_INDEX] <= last_period]
        s = self.settings
        return distributed.fit_booster(
            self.client, labelled[features], labelled[TARGET], s.xgboost, s.seed
        )

    def shap(self, booster: xgb.Booster, model, rows: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP of `rows` through the Dask predict."""
        return distributed.tree_shap(self.client, booster, rows)


class LocalEngine:
    """xgboost in this process on the prepared frame (every model feature in memory). The first
    fit bins every labelled row in one matrix, with the histogram cuts sketched from its own
    training rows alone (the first fold's, which every later fold and the final fit train on
    too); each later fit that covers those rows trains on the same matrix with other weights
    (0 for the rows it does not train on), instead of copying and binning a million rows
    again. No held-out row sets a cut, and a fit's trees are those of a matrix of its rows
    alone binned with the first fold's cuts."""

    where = "xgboost in this process"
    explains = "TreeSHAP"

    def __init__(self, frame: pd.DataFrame, settings: ModelSettings):
        self.frame, self.settings = frame, settings
        self.labelled = frame[TARGET].notna().to_numpy()
        self.periods = frame.loc[self.labelled, PERIOD_INDEX].to_numpy()
        self.matrix: xgb.QuantileDMatrix | None = None
        self.matrix_features: list[str] = []
        self.cuts_through: int | None = None  # the last period of the rows that set the cuts

    def rows(self, period_index: int, keys: pd.DataFrame, features: list[str]) -> pd.DataFrame:
        """The frame's rows of one period, in the order of `keys`."""
        rows = self.frame[self.frame[PERIOD_INDEX] == period_index].set_index("district_id")
        return rows.reindex(keys["district_id"].to_numpy()).reset_index()

    def fit(self, features: list[str], last_period: int | None = None) -> xgb.Booster:
        """xgboost on the labelled rows up to period index `last_period` (None: all)."""
        weight = np.ones(len(self.periods), dtype=np.float32)
        if last_period is not None:
            weight[self.periods > last_period] = 0.0
        s = self.settings
        if self._covers(features, last_period):
            matrix = self.matrix
        else:  # cuts from this fit's own rows; the first such matrix is kept for later fits
            X = self.frame.loc[self.labelled, features]
            y = self.frame.loc[self.labelled, TARGET]
            matrix = distributed.shared_matrix(X, y, weight.astype(bool), s.xgboost.n_jobs)
            if self.matrix is None:
                self.matrix, self.matrix_features = matrix, list(features)
                self.cuts_through = last_period
        return distributed.fit_booster_here(matrix, weight, s.xgboost, s.seed)

    def _covers(self, features: list[str], last_period: int | None) -> bool:
        """Were the kept matrix's cuts set by rows this fit trains on (all up to `last_period`),
        of the same features?"""
        if self.matrix is None or list(features) != self.matrix_features:
            return False
        if last_period is None:
            return True
        return self.cuts_through is not None and self.cuts_through <= last_period

    def shap(self, booster: xgb.Booster, model, rows: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP of `rows` (checked against the model's margin)."""
        return explain.contributions(model, rows, list(rows.columns))


def _baselines(frame: pd.DataFrame, train: np.ndarray, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each baseline fitted on the prepared frame's `train` rows (history columns suffice)
    and its forecast of `X`."""
    y = frame[TARGET].to_numpy()[train]
    out = {}
    for name, kind in BASELINE_MODELS.items():
        model = kind()
        fitted = model.fit(frame[[model.column]].iloc[train], y)  # one column, not every column
        out[name] = fitted.predict_proba(X[[model.column]])[:, 1]
    return out


def evaluate(config: ExperimentConfig, data: PreparedData, engine, progress: Progress):
    """Rolling-origin forecasts of xgboost and the baselines, scored and selected as on the
    single-machine path. Returns the Evaluation and the held-out rows (for SHAP samples)."""
    frame, features = data.frame, data.features
    parts, held_out = [], []
    for fold in data.folds:
        progress(
            f"fold {fold.number}/{len(data.folds)}: held-out period "
            f"{frame['period'].iloc[fold.test_index[0]]}, {len(fold.train_index):,} training "
            f"rows ({engine.where})"
        )
        booster = engine.fit(features, fold.test_period - data.horizon)
        out = frame.iloc[fold.test_index][[*ID_COLUMNS, TARGET]].copy()
        out.insert(3, "fold", fold.number)
        rows = engine.rows(fold.test_period, out, features)
        for name, values in _baselines(frame, fold.train_index, rows).items():
            out[name] = values
        out[MAIN] = distributed.predict(booster, rows[features])
        parts.append(out.reset_index(drop=True))
        held_out.append(rows)
    predictions = pd.concat(parts, ignore_index=True)
    scores = score_predictions(predictions, [*BASELINES, MAIN], config.evaluation.top_k)
    selection = select_model(scores, MAIN, BASELINES)
    comparison = bootstrap_margins(predictions, selection, config.model.seed)
    progress(selection.sentence())
    evaluation = Evaluation({}, predictions, scores, selection, comparison)
    return evaluation, pd.concat(held_out, ignore_index=True)


def fit_final(config: ExperimentConfig, data: PreparedData, engine, evaluation: Evaluation):
    """The selected model on every labelled row and its forecast of the latest period.
    Returns (FinalModel, the booster or None for a baseline, the latest period's rows)."""
    frame, features, settings = data.frame, data.features, config.model
    latest = frame[PERIOD_INDEX] == frame[PERIOD_INDEX].max()
    keys = frame.loc[latest, ["district_id", "period"]].reset_index(drop=True)
    rows = engine.rows(int(frame[PERIOD_INDEX].max()), keys, features)
    booster = None
    if evaluation.selection.chosen == MAIN:
        booster = engine.fit(features)
        model = distributed.as_pipeline(booster, features, settings.xgboost, settings.seed, rows)
    else:
        model = BASELINE_MODELS[evaluation.selection.chosen]()
        known = frame[TARGET].notna()
        model.fit(frame.loc[known, [model.column]], frame.loc[known, TARGET].to_numpy())
    forecast = keys.assign(probability=model.predict_proba(rows[features])[:, 1])
    return FinalModel(model, forecast), booster, rows


def explain_forecast(
    config: ExperimentConfig,
    data: PreparedData,
    engine,
    final: FinalModel,
    booster: xgb.Booster | None,
    latest: pd.DataFrame,
    held_out: pd.DataFrame,
) -> Insight | None:
    """TreeSHAP of the forecast period (by the engine) and of a seeded sample of
    `scale.shap_holdout_rows` held-out rows: drivers by district, global and by domain."""
    if not config.explain.enabled:
        return None
    features = data.features
    if booster is not None:  # the forecast period's rows, already here, in forecast order
        shap_latest = engine.shap(booster, final.model, latest[features])
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


def _train(config, data: PreparedData, engine, progress: Progress):
    """Evaluate, fit the final model and explain its forecast with `engine`."""
    evaluation, held_out = evaluate(config, data, engine, progress)
    progress("fitting the final model on all labelled periods")
    final, booster, latest = fit_final(config, data, engine, evaluation)
    if config.explain.enabled:
        progress(f"explaining the forecast: {engine.explains}")
    found = explain_forecast(config, data, engine, final, booster, latest, held_out)
    return evaluation, final, found


def _finish(config, data: PreparedData, results, output_dir: Path, started, progress):
    evaluation, final, found = results
    summary = summarise(config, data, evaluation, final, found, BASELINES)
    forecast = final.forecast.sort_values("probability", ascending=False, kind="stable")
    parts = (data, evaluation, final, forecast, found, None)
    return write_and_log(config, output_dir, summary, parts, started, progress)


def run_training_dask(
    config: ExperimentConfig, output_dir: Path, progress: Progress = log.info
) -> RunResult:
    """`experiments.run.run_training` on the dask backend: the same all-or-nothing writing
    of result files, MLflow run and registered model (see the module docstring)."""
    from experiments.scale.cluster import dask_client  # here: the lean backend needs no distributed
    from experiments.scale.frame import panel_files, prepare_lazy

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
        engine = DaskEngine(client, lazy.model_frame, config.model)
        results = _train(config, lazy.prepared, engine, progress)
    result = _finish(config, lazy.prepared, results, output_dir, started, progress)
    tracking.tag_run(result.summary.run_id, shape)
    return result


def run_training_lean(
    config: ExperimentConfig, output_dir: Path, progress: Progress = log.info
) -> RunResult:
    """`experiments.run.run_training` with the lean model set in this process (the panel in
    memory, as on the single-machine path): what the dask backend trains, without a cluster."""
    started = time.perf_counter()
    preflight(config, output_dir)
    progress("loading and validating data")
    inputs = load_inputs(config)
    progress(f"building features for {len(inputs.panel):,} district-periods")
    data = prepare(config, inputs)
    results = _train(config, data, LocalEngine(data.frame, config.model), progress)
    result = _finish(config, data, results, output_dir, started, progress)
    tracking.tag_run(result.summary.run_id, {"rootcast.backend": "lean"})
    return result
