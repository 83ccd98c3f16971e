"""One training run, as named steps:

    load -> prepare -> evaluate -> fit final -> explain/target -> persist -> log

Each step is a function with typed inputs and outputs; `run_training` only sequences them.
Nothing is logged until the config and the data have been validated and every model has been
evaluated, so a user's mistake leaves no half-made run behind. Result files follow the
results contract (`reports/contract.py`).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from experiments import tracking
from experiments.config import ConfigError, ExperimentConfig
from experiments.data import ExperimentInputs, load_inputs, oracle_column, truth_terms
from experiments.locks import check_interrupted
from experiments.prepare import PreparedData, forecaster, prepare
from experiments.registry import (
    COMPLETE_TAG,
    FALLBACK_TAG,
    HORIZON_TAG,
    MODEL_KIND_TAG,
    SYNTHETIC_TAG,
)
from experiments.staging import publish, staging_dir
from experiments.summary import summarise
from features.build import PERIOD_INDEX, TARGET
from features.writers import (
    check_output_dir,
    write_atomically,
    write_csv,
    write_geojson,
    write_json,
    write_parquet,
)
from models.aggregates import period_shocks
from models.calibration_band import CalibrationBand, calibration_band
from models.evaluate import score_predictions
from models.insight import Insight, InsightSettings, explain_and_target, forecast_rows
from models.pipeline import BASELINES, MAIN_MODEL, fit_model, model_zoo
from models.selection import Selection, bootstrap_margins, select_model
from models.targeting import DEFAULT_PROGRAMS, ProgramCatalog, load_programs
from models.validate import cross_validated_predictions
from reports import contract
from reports.contract import ORACLE, RunSummary
from reports.desk import desk_tables

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class RunResult:
    """What a run produced: scores (long table), the summary (with MLflow identifiers), files
    written, the prepared model frame and the held-out predictions."""

    scores: pd.DataFrame
    summary: RunSummary
    files: list[Path] = field(default_factory=list)
    prepared: PreparedData | None = None
    predictions: pd.DataFrame | None = None


@dataclass(frozen=True)
class Loaded:
    """Validated inputs and, when the explain stage runs, the program catalog."""

    inputs: ExperimentInputs
    programs: ProgramCatalog | None


@dataclass(frozen=True)
class Evaluation:
    """The model zoo, every model's held-out predictions (rolling origin), their scores, the
    model the run registers (`selection`) and the paired district bootstrap of the main
    model against the best baseline (`comparison`)."""

    zoo: dict[str, BaseEstimator]
    predictions: pd.DataFrame
    scores: pd.DataFrame
    selection: Selection
    comparison: dict[str, float]


@dataclass(frozen=True)
class FinalModel:
    """The main model fitted on every labelled row, and its forecast of the latest period."""

    model: BaseEstimator
    forecast: pd.DataFrame  # district_id, period, probability


# --- the steps ---


def load(config: ExperimentConfig) -> Loaded:
    """Validate the panel (or generate the synthetic region) and the program catalog."""
    inputs = load_inputs(config)
    if not config.explain.enabled:
        return Loaded(inputs, None)
    programs = load_programs(config.targeting.programs or None, inputs.catalog)
    if config.targeting.naive_program not in programs.programs:
        raise ConfigError(
            f"targeting.naive_program = {config.targeting.naive_program!r} is not in the program "
            f"catalog ({', '.join(programs.programs)})"
        )
    return Loaded(inputs, programs)


def evaluate(
    config: ExperimentConfig, data: PreparedData, progress: Progress = log.info
) -> Evaluation:
    """Rolling-origin predictions of every model (and the oracle's on synthetic data), scored."""
    zoo = model_zoo(
        data.features, data.history, config.model, data.horizon, data.catalog.missing_allowed
    )
    folds = data.folds
    # folds count periods by index (a month is year * 12 + month - 1): say them as written
    named = data.frame[[PERIOD_INDEX, "period"]].drop_duplicates()
    label = dict(zip(named[PERIOD_INDEX], named["period"].astype(str), strict=True))
    predictions = cross_validated_predictions(
        data.frame,
        zoo,
        data.features,
        folds,
        on_fold=lambda f: progress(
            f"fold {f.number}/{len(folds)}: held-out period "
            f"{label.get(f.test_period, f.test_period)}, "
            f"{len(f.train_index):,} training rows"
        ),
    )
    names = list(zoo)
    oracle = oracle_column(data.inputs, predictions, data.horizon)
    if oracle is not None:
        predictions[ORACLE] = oracle
        names.append(ORACLE)
    scores = score_predictions(predictions, names, config.evaluation.top_k)
    one_outcome = [int(f) for f, t in predictions.groupby("fold")["target"] if t.nunique() < 2]
    if one_outcome:
        log.warning(
            "held-out rows of fold(s) %s have one outcome only: ROC-AUC and AUPR are undefined "
            "there (n/a); more districts or other folds give a fairer test",
            ", ".join(map(str, one_outcome)),
        )
    selection = select_model(scores, MAIN_MODEL, BASELINES)
    comparison = bootstrap_margins(predictions, selection, config.model.seed)
    progress(selection.sentence())
    return Evaluation(zoo, predictions, scores, selection, comparison)


def fit_final(evaluation: Evaluation, data: PreparedData) -> FinalModel:
    """Refit the selected model on every labelled period; forecast the latest period."""
    frame, features = data.frame, data.features
    labelled = frame[TARGET].notna()
    model = fit_model(
        clone(evaluation.zoo[evaluation.selection.chosen]),
        frame.loc[labelled, features],
        frame.loc[labelled, TARGET].to_numpy(),
        frame.loc[labelled, PERIOD_INDEX].to_numpy(),
    )
    latest = forecast_rows(frame)
    forecast = frame.loc[latest, ["district_id", "period"]].copy()
    forecast["probability"] = model.predict_proba(frame.loc[latest, features])[:, 1]
    return FinalModel(model, forecast)


def interval_band(evaluation: Evaluation) -> CalibrationBand | None:
    """The forecast interval's calibration band: the registered model's held-out forecasts
    against their outcomes (`models.calibration_band`)."""
    held_out = evaluation.predictions
    return calibration_band(held_out[evaluation.selection.chosen], held_out[TARGET])


def explain_target(
    config: ExperimentConfig,
    data: PreparedData,
    final: FinalModel,
    programs: ProgramCatalog | None,
    shocks: np.ndarray,
    progress: Progress = log.info,
    band: CalibrationBand | None = None,
) -> tuple[Insight | None, pd.DataFrame]:
    """The explain-and-target stage (when enabled; `shocks`: its aggregates' period shocks,
    `band`: the interval's held-out calibration band) and the forecast with its intervals,
    highest risk first."""
    forecast, found = final.forecast, None
    if programs is not None:  # loaded only when the explain stage is enabled
        settings = InsightSettings(config.model, config.explain, config.targeting)
        truth = truth_terms(data.inputs, data.frame, data.horizon)
        args = (data.frame, data.catalog, data.folds, final.model, settings, programs, truth)
        found = explain_and_target(*args, progress, shocks, band)
        intervals = found.tables["district_profiles"][["district_id", "risk_low", "risk_high"]]
        forecast = forecast.merge(intervals, on="district_id", how="left")
    return found, forecast.sort_values("probability", ascending=False, kind="stable")


def persist(
    output_dir: Path,
    config: ExperimentConfig,
    data: PreparedData,
    evaluation: Evaluation,
    forecast: pd.DataFrame,
    found: Insight | None,
    programs: ProgramCatalog | None,
) -> list[Path]:
    """Write every result table of the contract, the catalog, the programs and polygons."""
    tables = {
        "predictions": evaluation.predictions,
        "metrics": evaluation.scores,
        "forecast": forecast,
        **(found.tables if found is not None else {}),
        "panel": data.inputs.panel,  # labels, incidents and protected columns for reports
    }  # named, ranked, banded and rounded for people: forecast.csv, plan.csv
    tables = desk_tables(tables, data.inputs.panel, data.horizon, evaluation.selection.chosen)
    checked = {key: contract.check_table(key, table) for key, table in tables.items()}
    output_dir.mkdir(parents=True, exist_ok=True)
    writers = {".parquet": write_parquet, ".csv": write_csv}
    files = []
    for key, table in checked.items():
        path = output_dir / contract.TABLES_BY_KEY[key].file
        files.append(writers[path.suffix](path, table))
    files.append(write_json(output_dir / contract.CATALOG_FILE, data.catalog.model_dump()))
    if programs is not None:  # the assumptions the plan was made under, for the report
        source = Path(config.targeting.programs or DEFAULT_PROGRAMS)
        files.append(
            write_atomically(
                output_dir / contract.PROGRAMS_FILE, lambda tmp: shutil.copyfile(source, tmp)
            )
        )
    if data.inputs.geometry is not None:
        files.append(write_geojson(output_dir / contract.GEOMETRY_FILE, data.inputs.geometry))
    return files


def log_run(
    staging: Path,
    config: ExperimentConfig,
    data: PreparedData,
    evaluation: Evaluation,
    final: FinalModel,
    found: Insight | None,
    summary: RunSummary,
    files: list[Path],
) -> list[Path]:
    """Log config, dataset, metrics, the model and the result files to an MLflow run; only
    once that run has FINISHED, register the model (the first version becomes champion) and
    complete summary.json with the version. A run killed before the end leaves no registered
    version and moves no alias. The run is named and described (`tracking.notes`), the
    version described and tagged. Returns every file written, summary.json first."""
    inputs = data.inputs
    selection = evaluation.selection
    tags = {
        SYNTHETIC_TAG: str(inputs.synthetic).lower(),
        HORIZON_TAG: str(data.horizon),
        MODEL_KIND_TAG: selection.chosen,
        FALLBACK_TAG: str(selection.fell_back).lower(),
    }
    name = config.registered_model_name if config.tracking.register_model else None
    run_name, reason = tracking.training_run_name(summary), selection.reason()
    with tracking.tracked_run(config.tracking.experiment, run_name, tags) as run_id:
        tracking.log_config(config.model_dump())
        tracking.log_dataset(inputs.columns_sample, config.name, inputs.source, inputs.fingerprint)
        tracking.log_metric_table(evaluation.scores)
        tracking.log_scalars(
            {f"selection.{k}": v for k, v in evaluation.comparison.items() if k != "n_boot"}
        )
        if found is not None:
            tracking.log_scalars(found.metrics)
        members = found.members if found is not None else None  # the interval's ensemble
        band = found.calibration_band if found is not None else None
        model = forecaster(data, final.model, members, band)
        summary.model_uri = tracking.log_model(model, inputs.columns_sample)
        summary.run_id, summary.registered_model = run_id, name
        summary_path = staging / contract.SUMMARY_FILE
        files = [write_json(summary_path, summary.to_dict()), *files]
        tracking.log_artifact_files(files)
        check_interrupted()  # a swallowed Ctrl-C still ends the run FAILED
    if name:
        check_interrupted()
        summary.model_version, summary.became_champion = tracking.register_model(
            summary.model_uri, name, tracking.model_description(summary)
        )
        write_json(summary_path, summary.to_dict())
        tracking.log_to_run(run_id, {}, [summary_path])  # replaces the artifact
        kind = {k: tags[k] for k in (MODEL_KIND_TAG, FALLBACK_TAG)}
        tracking.tag_version(name, summary.model_version, kind | tracking.version_tags(summary))
        description = tracking.version_description(summary, reason)
        tracking.describe_version(name, summary.model_version, description)
    tracking.describe_run(run_id, tracking.run_description(summary, reason))
    tracking.tag_run(run_id, {COMPLETE_TAG: "true"})
    return files


LEAN_HINT_ROWS = 500_000  # the full model zoo takes ~20 minutes per million rows on 2 cores


def size_note(n_rows: int) -> str | None:
    """A pointer to the lean backend for a panel of `n_rows` on this (full model zoo) path,
    None below `LEAN_HINT_ROWS`."""
    if n_rows < LEAN_HINT_ROWS:
        return None
    return (
        f"NOTE: {n_rows:,} rows: the full model zoo (stack, refits, plan) takes about 20 "
        "minutes per million rows on 2 cores; --set scale.backend=lean trains xgboost beside "
        "two baselines in a few minutes (README: Large panels)"
    )


def run_training(
    config: ExperimentConfig, output_dir: Path, progress: Progress = log.info
) -> RunResult:
    """Train, evaluate, log and register per `config`; write result files to `output_dir`.

    All or nothing: files are made in a staging folder and moved into `output_dir` only after
    the MLflow run has finished and the model is registered; an error or interruption before
    that leaves `output_dir` as it was."""
    if config.scale.backend == "dask":  # panels beyond memory: experiments/scale/
        from experiments.scale.run import run_training_dask

        return run_training_dask(config, output_dir, progress)
    if config.scale.backend == "lean":  # the dask backend's model set, in this process
        from experiments.scale.run import run_training_lean

        return run_training_lean(config, output_dir, progress)
    started = time.perf_counter()
    preflight(config, output_dir)
    progress("loading and validating data")
    loaded = load(config)
    progress(f"building features for {len(loaded.inputs.panel):,} district-periods")
    note = size_note(len(loaded.inputs.panel))
    if note:
        progress(note)
    data = prepare(config, loaded.inputs)
    evaluation = evaluate(config, data, progress)
    progress("fitting the final model on all labelled periods")
    final = fit_final(evaluation, data)
    shocks = period_shocks(evaluation.predictions, evaluation.selection.chosen)
    band = interval_band(evaluation)
    found, forecast = explain_target(config, data, final, loaded.programs, shocks, progress, band)
    summary = summarise(config, data, evaluation, final, found, BASELINES)
    parts = (data, evaluation, final, forecast, found, loaded.programs)
    return write_and_log(config, output_dir, summary, parts, started, progress)


def write_and_log(config, output_dir, summary, parts, started, progress) -> RunResult:
    """Persist and log a run's `parts` (data, evaluation, final, forecast, found, programs)
    through a staging folder, published only once the run is logged and registered."""
    data, evaluation, final, forecast, found, programs = parts
    staging = staging_dir(output_dir)
    try:
        files = persist(staging, config, data, evaluation, forecast, found, programs)
        progress("logging to MLflow and registering the model")
        summary.seconds = round(time.perf_counter() - started, 1)
        files = log_run(staging, config, data, evaluation, final, found, summary, files)
        check_interrupted()
        files = publish(staging, output_dir, files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RunResult(evaluation.scores, summary, files, data, evaluation.predictions)


def preflight(config: ExperimentConfig, output_dir: Path) -> None:
    """Checks that need no data or model, made before any work: the output folder can be
    one, and the experiment can take runs."""
    check_output_dir(output_dir, "--output")
    tracking.check_experiment(config.tracking.experiment)
