"""Score a panel with a registered model, without retraining:

    python train.py predict --model rootcast-h1@champion --data PANEL --out forecast.csv

The panel is the district-period history a user has (the data contract: the same columns as
the run was trained on, newer periods welcome); its features are built exactly as the run
built them (the run's logged config and catalog, the run's polygons or `--geometry`), and the
latest period of every district is scored. The file has the columns of a run's
`forecast.csv`: rank, district_id, names, period (the data period), forecast_period (the period
forecast for), probability and its band.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from experiments import registry, tracking
from experiments.config import ConfigError, ExperimentConfig
from experiments.data import load_inputs
from features.build import build_features
from features.writers import check_output_file, write_csv
from models.insight import forecast_rows
from models.pipeline import input_columns
from reports import desk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictRequest:
    model: str  # registry reference name@alias, name/version, or a run id
    data: Path
    catalog: Path | None = None  # default: the run's catalog
    geometry: Path | None = None  # default: the run's polygons


def _scoring_config(run_config: dict, request: PredictRequest) -> ExperimentConfig:
    """The run's config reading `request.data` (and the given catalog/polygons)."""
    data = run_config["data"]
    data["panel"] = str(request.data)
    if request.catalog is not None:
        data["catalog"] = str(request.catalog)
    if request.geometry is not None:
        data["geometry"] = str(request.geometry)
    return ExperimentConfig.model_validate(run_config)


def predict(request: PredictRequest, out: Path, progress=log.info) -> pd.DataFrame:
    """Score the latest period of every district of `request.data` with `request.model`;
    write the forecast table to `out` (CSV) and return it. Raises ConfigError for an unknown
    model or a panel from which the model's features cannot be built."""
    check_output_file(out, "--out")
    progress(f"loading model {request.model}")
    try:
        model, run_id = tracking.load_model(request.model)
        config = _scoring_config(tracking.load_run_config(run_id), request)
    except LookupError as exc:
        raise ConfigError(str(exc)) from None
    progress(f"validating {request.data} and building its features as run {run_id[:8]} did")
    inputs = load_inputs(config)
    if tracking.run_tag(run_id, registry.FINGERPRINT_TAG) == inputs.fingerprint:
        progress("note: this is the panel the model was trained on")
    frame, _ = build_features(
        inputs.panel,
        inputs.catalog,
        inputs.adjacency,
        inputs.district_ids,
        config.target.horizon,
        cross_border=inputs.cross_border,
    )
    needed = input_columns(model)
    missing = [f for f in needed if f not in frame.columns]
    if missing:
        hint = (
            " (spatial lags need the polygons: --geometry)"
            if any(f.startswith("hist_spatial") for f in missing)
            else ""
        )
        raise ConfigError(
            f"{request.data}: the model needs features this panel does not give: "
            f"{', '.join(missing)}{hint}"
        )
    latest = frame[forecast_rows(frame)].reset_index(drop=True)
    scored = latest[["district_id", "period"]].assign(
        probability=model.predict_proba(latest[needed])[:, 1]
    )
    table = desk.forecast_table(scored, inputs.panel, config.target.horizon)
    write_csv(out, table)
    return table
