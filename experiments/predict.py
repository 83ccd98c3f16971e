"""Score a panel with a registered model, without retraining:

    python train.py predict --model rootcast-h1@champion --data PANEL --out forecast.csv

The panel is the district-period history a user has (the data contract: the same columns as
the run was trained on, newer periods welcome). It is scored by the model's own forecaster
(models/serving.py, what the registered MLflow model runs): features built exactly as the run
built them (the run's logged config and catalog; the district adjacency logged with the model,
or the polygons of `--geometry` or the run's config), the latest period of every district
scored, with the run's 90 % interval when the run made one. The file has the columns of a
run's `forecast.csv`: rank, district_id, names, period (the data period), forecast_period (the
period forecast for), probability, risk_low, risk_high and the band, less the columns that
would be empty: the interval when the run made no ensemble, and previous_probability and
change always (predict makes one forecast; it has no earlier forecast of the panel to compare).
The terminal preview names the districts (district_name, admin1) where the panel has names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from experiments import registry, tracking
from experiments.config import ConfigError, ExperimentConfig
from experiments.data import ExperimentInputs, load_inputs
from features.writers import check_output_file, write_csv
from models.serving import Forecaster, Neighbours
from reports import desk

log = logging.getLogger(__name__)
# the forecaster's interval columns -> forecast.csv's
INTERVAL_COLUMNS = {"probability_low": "risk_low", "probability_high": "risk_high"}


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


def _scorer(forecaster: Forecaster, inputs: ExperimentInputs) -> Forecaster:
    """`forecaster` reading the user's catalog, and their polygons' adjacency when given
    (else the adjacency logged with the model)."""
    neighbours = forecaster.neighbours
    if inputs.adjacency is not None:
        neighbours = Neighbours(inputs.adjacency, inputs.district_ids, inputs.cross_border)
    return replace(forecaster, catalog=inputs.catalog, neighbours=neighbours)


def _desk_columns(scored: pd.DataFrame) -> pd.DataFrame:
    """The forecaster's columns as `desk.forecast_table` takes them (it adds the forecast
    period); no interval columns when the run made no ensemble."""
    out = scored.drop(columns="forecast_period").rename(columns=INTERVAL_COLUMNS)
    if out[list(INTERVAL_COLUMNS.values())].isna().all().all():
        out = out.drop(columns=list(INTERVAL_COLUMNS.values()))
    return out


def predict(request: PredictRequest, out: Path, progress=log.info) -> pd.DataFrame:
    """Score the latest period of every district of `request.data` with `request.model`;
    write the forecast table to `out` (CSV) and return it. Raises ConfigError for an unknown
    model, DataContractError for a panel from which the model's features cannot be built."""
    check_output_file(out, "--out")
    progress(f"loading model {request.model}")
    try:
        forecaster, run_id = tracking.load_forecaster(request.model)
        config = _scoring_config(tracking.load_run_config(run_id), request)
    except LookupError as exc:
        raise ConfigError(str(exc)) from None
    progress(f"validating {request.data} and building its features as run {run_id[:8]} did")
    inputs = load_inputs(config)
    if tracking.run_tag(run_id, registry.FINGERPRINT_TAG) == inputs.fingerprint:
        progress("note: this is the panel the model was trained on")
    scored = _scorer(forecaster, inputs).score(inputs.panel, str(request.data))
    table = desk.forecast_table(_desk_columns(scored), inputs.panel, config.target.horizon)
    table = table.dropna(axis="columns", how="all")  # no previous forecast: no change columns
    write_csv(out, table)
    return table


def preview_columns(table: pd.DataFrame) -> list[str]:
    """The columns of the terminal preview: rank, id, the district's name and admin1 where
    the panel has them (not just the id repeated, not empty), the period, the forecast."""
    ids = table["district_id"].astype(str)
    named = "district_name" in table and (table["district_name"].astype(str) != ids).any()
    admin1 = "admin1" in table and (table["admin1"].fillna("").astype(str) != "").any()
    names = ["district_name"] * bool(named) + ["admin1"] * bool(admin1)
    return ["rank", "district_id", *names, "forecast_period", "probability", "band"]
