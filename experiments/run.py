"""One training run: inputs -> features -> rolling-origin evaluation -> final fit -> MLflow.

Nothing is logged until the config and the data have been validated and every model has been
evaluated, so a user's mistake leaves no half-made run behind.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from experiments import tracking
from experiments.config import ConfigError, ExperimentConfig
from experiments.data import ExperimentInputs, load_inputs
from experiments.insight import explain_and_target
from experiments.outputs import (
    write_atomically,
    write_csv,
    write_geojson,
    write_json,
    write_parquet,
)
from experiments.prepare import PreparedData, prepare
from features.build import PERIOD_INDEX, TARGET
from models.evaluate import score_predictions
from models.explain import CAVEAT
from models.pipeline import MAIN_MODEL, XGBoostSettings, fit_model, model_zoo
from models.targeting import DEFAULT_PROGRAMS, load_programs
from models.validate import cross_validated_predictions

ORACLE = "oracle"
log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class RunResult:
    """What a run produced: scores (long table), summary (with MLflow identifiers), files
    written, the prepared model frame and the held-out predictions."""

    scores: pd.DataFrame
    summary: dict
    files: list[Path] = field(default_factory=list)
    prepared: PreparedData | None = None
    predictions: pd.DataFrame | None = None


def _oracle_column(inputs: ExperimentInputs, predictions: pd.DataFrame, horizon: int):
    """The true probability of each held-out row, when the data is synthetic and h = 1."""
    if inputs.oracle is None or horizon != 1:
        return None
    keyed = inputs.oracle.set_index(["district_id", "period"])["oracle_prob"]
    index = pd.MultiIndex.from_frame(predictions[["district_id", "period"]])
    return keyed.reindex(index).to_numpy()


def _pooled_metrics(scores: pd.DataFrame) -> dict:
    pooled = scores[scores["fold"] == "pooled"].drop(columns="fold").set_index("model")
    return {
        m: {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}
        for m, row in pooled.to_dict("index").items()
    }


def run_training(
    config: ExperimentConfig, output_dir: Path, progress: Progress = log.info
) -> RunResult:
    """Train, evaluate, log and register per `config`; write result files to `output_dir`."""
    started = time.perf_counter()
    progress("loading and validating data")
    inputs = load_inputs(config)
    programs = (
        load_programs(config.targeting.programs or None, inputs.catalog)
        if config.explain.enabled
        else None
    )
    if programs is not None and config.targeting.naive_program not in programs.programs:
        raise ConfigError(
            f"targeting.naive_program = {config.targeting.naive_program!r} is not in the program "
            f"catalog ({', '.join(programs.programs)})"
        )
    horizon = config.target.horizon
    progress(f"building features for {len(inputs.panel):,} district-periods")
    prepared = prepare(config, inputs)
    frame, catalog, features, folds = (
        prepared.frame,
        prepared.catalog,
        prepared.features,
        prepared.folds,
    )
    history = prepared.history
    labelled = frame[TARGET].notna()
    m = config.model
    settings = XGBoostSettings(**m.xgboost.model_dump())
    zoo = model_zoo(
        features,
        history,
        settings,
        m.calibration,
        m.n_calibration_periods,
        horizon,
        m.seed,
        m.logistic_C,
    )
    predictions = cross_validated_predictions(
        frame,
        zoo,
        features,
        folds,
        on_fold=lambda f: progress(
            f"fold {f.number}/{len(folds)}: test period index "
            f"{f.test_period}, {len(f.train_index):,} training rows"
        ),
    )
    names = list(zoo)
    oracle = _oracle_column(inputs, predictions, horizon)
    if oracle is not None:
        predictions[ORACLE] = oracle
        names.append(ORACLE)
    scores = score_predictions(predictions, names, config.evaluation.top_k)

    progress("fitting the final model on all labelled periods")
    final = fit_model(
        clone(zoo[MAIN_MODEL]),
        frame.loc[labelled, features],
        frame.loc[labelled, TARGET].to_numpy(),
        frame.loc[labelled, PERIOD_INDEX].to_numpy(),
    )
    latest = frame[PERIOD_INDEX] == frame[PERIOD_INDEX].max()
    forecast = frame.loc[latest, ["district_id", "period"]].copy()
    forecast["probability"] = final.predict_proba(frame.loc[latest, features])[:, 1]

    found = None
    if config.explain.enabled:
        found = explain_and_target(
            frame,
            catalog,
            features,
            final,
            folds,
            settings,
            config,
            programs,
            m.seed,
            _truth_terms(inputs, frame, horizon),
            progress,
        )
        intervals = found.tables["district_profiles"][["district_id", "risk_low", "risk_high"]]
        forecast = forecast.merge(intervals, on="district_id", how="left")
    forecast = forecast.sort_values("probability", ascending=False, kind="stable")

    summary = _summary(config, inputs, frame, folds, features, scores, found)
    tables = {"predictions.parquet": predictions, "metrics.csv": scores, "forecast.csv": forecast}
    if found is not None:
        tables.update(
            {
                f"{name}.{'parquet' if name == 'district_drivers' else 'csv'}": table
                for name, table in found.tables.items()
            }
        )
    tables["panel.parquet"] = inputs.panel  # labels, incidents and protected columns for reports
    files = _write_tables(output_dir, tables)
    files.append(write_json(output_dir / "catalog.json", catalog.model_dump()))
    if programs is not None:  # the assumptions the plan was made under, for the report
        source = Path(config.targeting.programs or DEFAULT_PROGRAMS)
        files.append(
            write_atomically(output_dir / "programs.toml", lambda tmp: shutil.copyfile(source, tmp))
        )
    if inputs.geometry is not None:
        files.append(write_geojson(output_dir / "geometry.geojson", inputs.geometry))

    progress("logging to MLflow and registering the model")
    tags = {"data.synthetic": str(inputs.synthetic).lower(), "horizon": str(horizon)}
    with tracking.tracked_run(config.tracking.experiment, config.name, tags) as run_id:
        tracking.log_config(config.model_dump())
        tracking.log_dataset(inputs.panel, config.name, inputs.source, inputs.fingerprint)
        tracking.log_metric_table(scores)
        if found is not None:
            tracking.log_scalars(found.metrics)
        name = config.registered_model_name if config.tracking.register_model else None
        uri, version, champion = tracking.log_and_register_model(
            final, frame.loc[labelled, features].head(5), name
        )
        summary.update(
            {
                "run_id": run_id,
                "model_uri": uri,
                "registered_model": name,
                "model_version": version,
                "became_champion": champion,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        files.insert(0, write_json(output_dir / "summary.json", summary))
        tracking.log_artifact_files(files)
    return RunResult(scores, summary, files, prepared, predictions)


def _truth_terms(inputs: ExperimentInputs, frame: pd.DataFrame, horizon: int):
    """True driver terms aligned with the frame's rows (synthetic data, horizon 1 only)."""
    if inputs.contributions is None or horizon != 1:
        return None
    return (
        frame[["district_id", "period"]]
        .merge(inputs.contributions, on=["district_id", "period"], how="left")
        .drop(columns=["district_id", "period", "intercept"], errors="ignore")
    )


def _summary(config, inputs, frame, folds, features, scores, found) -> dict:
    latest = frame[PERIOD_INDEX] == frame[PERIOD_INDEX].max()
    summary = {
        "experiment": config.tracking.experiment,
        "config_name": config.name,
        "data": {
            "source": inputs.source,
            "fingerprint": inputs.fingerprint,
            "synthetic": inputs.synthetic,
            "n_districts": int(frame["district_id"].nunique()),
            "n_rows": int(len(frame)),
            "periods": [str(frame["period"].min()), str(frame["period"].max())],
        },
        "target": {
            "horizon": config.target.horizon,
            "definition": f"incidents in period t+{config.target.horizon} >= 1",
        },
        "folds": [
            {
                "fold": f.number,
                "test_period_index": f.test_period,
                "n_train": int(len(f.train_index)),
                "n_test": int(len(f.test_index)),
            }
            for f in folds
        ],
        "features": features,
        "metrics": _pooled_metrics(scores),
        "forecast_period": str(frame.loc[latest, "period"].iloc[0]),
        "evaluation": {"top_k": config.evaluation.top_k},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if found is not None:
        summary["explain"] = {"caveat": CAVEAT, **found.metrics}
        if found.recovery is not None:
            summary["truth_recovery"] = found.recovery
        if found.plan_scores is not None:
            summary["truth_plan"] = found.plan_scores
        summary["targeting"] = {
            "budget": config.targeting.budget,
            "method": config.targeting.method,
            "max_per_district": config.targeting.max_per_district,
        }
    return summary


def _write_tables(output_dir: Path, tables: dict[str, pd.DataFrame]) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    writers = {".parquet": write_parquet, ".csv": write_csv}
    return [writers[Path(name).suffix](output_dir / name, table) for name, table in tables.items()]


def metrics_table(scores: pd.DataFrame) -> str:
    """Pooled metrics of every model as an aligned text table (models as rows)."""
    pooled = scores[scores["fold"] == "pooled"].drop(columns="fold").set_index("model")
    return pooled.to_string(float_format=lambda v: f"{v:.3f}" if np.isfinite(v) else "n/a")
