"""Retrain with new periods: continuity checks, drift, champion/challenger promotion, rollback.

The challenger is trained (rolling origin, logged, registered) on the model's data plus the
new periods. Champion and challenger are then scored on the same rows: the held-out periods
whose outcomes the champion never saw. The challenger becomes `champion` only when it is
better by `margin` on `metric` (or with `force`); the old champion keeps alias `previous`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pydantic import ValidationError
from sklearn.metrics import brier_score_loss

from experiments import registry, tracking
from experiments.config import ConfigError, ExperimentConfig, apply_overrides
from experiments.data import load_inputs, panel_fingerprint
from experiments.run import run_training
from features.build import PERIOD_INDEX, TARGET
from features.catalog import DEFAULT_CATALOG
from features.continuity import continue_panel
from features.loaders import read_panel
from features.schema import period_ordinal, validate_panel
from features.writers import (
    check_output_dir,
    write_csv,
    write_geojson,
    write_json,
    write_parquet,
)
from models.drift import PSI_WARNING, feature_drift, outcome_shift
from models.evaluate import REFERENCE_MODEL, forecast_scores

CHAMPION, PREVIOUS = registry.CHAMPION, registry.PREVIOUS
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainRequest:
    new_data: str
    model: str = registry.DEFAULT_MODEL
    metric: str = registry.DEFAULT_PROMOTION_METRIC
    margin: float = 0.0
    force: bool = False
    allow_new_districts: bool = False
    overrides: list[str] = field(default_factory=list)


FIXED_SECTIONS = ("data.", "synthetic.", "target.", "tracking.")


def _check_overrides(overrides: list[str]) -> None:
    """The challenger must forecast the same target from the same data as the champion."""
    for item in overrides:
        if item.strip().startswith(FIXED_SECTIONS):
            raise ConfigError(
                f"--set {item!r}: retrain keeps the champion's data, target and registered "
                "model; change model, split, evaluation, explain or targeting settings only"
            )


def _challenger_config(
    base: ExperimentConfig,
    data_dir: Path,
    overrides: list[str],
    has_geometry: bool,
    catalog: str,
    name: str,
) -> ExperimentConfig:
    data = apply_overrides(base.model_dump(), overrides)
    data["data"].update(
        panel=str(data_dir / "panel.parquet"),
        catalog=catalog,
        geometry=str(data_dir / "geometry.geojson") if has_geometry else "",
        geometry_id_column="district_id",
    )
    data["tracking"]["registered_model"] = name
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"--set {where}: {first['msg']}") from None


def _head_to_head(
    champion,
    predictions: pd.DataFrame,
    frame: pd.DataFrame,
    features: list[str],
    first_unseen: int,
    k: int,
    challenger: str,
) -> dict:
    """Scores of the champion and of the challenger run's registered model (its predictions
    column `challenger`) on held-out rows of periods >= first_unseen."""
    rows = predictions[predictions[PERIOD_INDEX] >= first_unseen]
    if rows.empty:
        raise ConfigError(
            "no held-out period is newer than the champion's data; add at least one new period"
        )
    keyed = frame.set_index(["district_id", PERIOD_INDEX])
    X = keyed.loc[pd.MultiIndex.from_frame(rows[["district_id", PERIOD_INDEX]]), features]
    y, groups = rows[TARGET].to_numpy(), rows[PERIOD_INDEX].to_numpy()
    reference = brier_score_loss(y.astype(int), rows[REFERENCE_MODEL].to_numpy())
    champion_p = champion.predict_proba(X.reset_index(drop=True))[:, 1]
    return {
        "rows": int(len(rows)),
        "periods": sorted(str(p) for p in rows["period"].unique()),
        "champion": forecast_scores(y, champion_p, groups, k, reference),
        "challenger": forecast_scores(y, rows[challenger].to_numpy(), groups, k, reference),
    }


@dataclass(frozen=True)
class Champion:
    """The current champion: its model, the run that logged it, its config and version."""

    model: object
    run_id: str
    config: ExperimentConfig
    name: str
    version: str


def _check_request(request: RetrainRequest, output_dir: Path) -> None:
    """Checks that need no model or data."""
    check_output_dir(output_dir, "--output")
    _check_overrides(request.overrides)
    try:
        registry.check_margin(request.margin)
    except ValueError as exc:
        raise ConfigError(f"--margin: {exc}") from None
    if request.metric not in registry.PROMOTION_METRICS:
        raise ConfigError(
            f"--metric {request.metric!r}: use {', '.join(registry.PROMOTION_METRICS)}"
        )


def load_champion(reference: str) -> Champion:
    """The model `reference` names, which must be the current champion of its registry name."""
    try:
        model, run_id = tracking.load_model(reference)
        config = ExperimentConfig.model_validate(tracking.load_run_config(run_id))
    except LookupError as exc:
        raise ConfigError(str(exc)) from None
    name = registry.ModelRef.parse(reference).registered_name_or(config.registered_model_name)
    version = tracking.alias_version(name, CHAMPION)
    if version is None:
        raise ConfigError(f"{name} has no '{CHAMPION}' alias: nothing to compare against")
    if tracking.version_run_id(name, version) != run_id:
        raise ConfigError(
            f"--model {reference} is not the current champion ({name} version "
            f"{version}); retrain compares against the champion: use {name}@{CHAMPION}"
        )
    return Champion(model, run_id, config, name, version)


def _challenger_inputs(
    request: RetrainRequest, champion: Champion, output_dir: Path, progress
) -> tuple[ExperimentConfig, pd.DataFrame, pd.DataFrame, dict, list[str]]:
    """The champion's data plus the new periods, written to their own folder, and the
    challenger's config. Returns (config, old panel, drift table, outcome shift, features
    with large drift)."""
    progress("loading the champion's data and the new periods")
    base = champion.config
    _check_backend(base, request.overrides)
    old = load_inputs(base)
    if tracking.run_tag(champion.run_id, registry.FINGERPRINT_TAG) not in (None, old.fingerprint):
        raise ConfigError(
            f"the champion's data ({old.source}) changed since it was trained (fingerprint "
            "differs): retrain needs the data the champion learnt from"
        )
    new = validate_panel(read_panel(request.new_data), old.catalog, request.new_data)
    combined = continue_panel(old.panel, new, request.new_data, request.allow_new_districts)

    drift = feature_drift(old.panel, new, old.catalog.model_features)
    outcome = outcome_shift(old.panel["incidents"], new["incidents"])
    large = drift.loc[drift["large"], "feature"].tolist()
    if large:
        progress(f"WARNING: large drift (PSI > {PSI_WARNING}) in {', '.join(large)}")

    # one folder per combined panel, absolute: a logged config must keep pointing at its data
    data_dir = (output_dir / "data" / panel_fingerprint(combined)).resolve()
    write_parquet(data_dir / "panel.parquet", combined)
    if old.geometry is not None:
        write_geojson(data_dir / "geometry.geojson", old.geometry)
    catalog_path = base.data.catalog or str(DEFAULT_CATALOG)
    config = _challenger_config(
        base, data_dir, request.overrides, old.geometry is not None, catalog_path, champion.name
    )
    progress(f"training the challenger on {combined['period'].nunique()} periods")
    return config, old.panel, drift, outcome, large


def _check_backend(base: ExperimentConfig, overrides: list[str]) -> None:
    """Refuse a challenger on the dask backend (before anything is written): retrain scores
    champion and challenger on rows held in memory."""
    backend = apply_overrides(base.model_dump(), overrides).get("scale", {}).get("backend")
    if backend == "dask":
        raise ConfigError(
            "retrain scores champion and challenger on rows in memory, and the champion was "
            'trained with scale.backend = "dask": add --set scale.backend=pandas if the '
            "combined panel fits (scale.max_rows_in_memory), or train on the whole panel "
            "again on the dask backend and compare the runs with train.py compare"
        )


def _record_decision(
    request: RetrainRequest, champion: Champion, challenger, scores: dict
) -> tuple[dict, dict[str, object]]:
    """The promotion decision as the retrain record and as tags."""
    guards = champion.config.tracking.guard_metrics
    promote, reason = registry.decide_promotion(
        request.metric,
        scores["champion"],
        scores["challenger"],
        request.margin,
        guards,
        request.force,
    )
    record = {
        "decision": "promoted" if promote else "kept champion",
        "reason": reason,
        "metric": request.metric,
        "margin": request.margin,
        "guard_metrics": list(guards),
        "champion_version": champion.version,
        "challenger_version": challenger.model_version,
        "challenger_run_id": challenger.run_id,
        "head_to_head": scores,
    }
    tags = {
        registry.DECISION_TAG: record["decision"],
        registry.REASON_TAG: reason,
        registry.METRIC_TAG: request.metric,
        registry.CHAMPION_SCORE_TAG: scores["champion"][request.metric],
        registry.CHALLENGER_SCORE_TAG: scores["challenger"][request.metric],
    }
    return record, tags


def retrain(request: RetrainRequest, output_dir: Path, progress=log.info) -> dict:
    """Check, train, compare and (maybe) promote; returns the decision record."""
    _check_request(request, output_dir)
    champion = load_champion(request.model)
    config, old_panel, drift, outcome, large = _challenger_inputs(
        request, champion, output_dir, progress
    )
    result = run_training(config, output_dir, progress)

    # the challenger's own frame: the combined panel with its own adjacency
    prepared = result.prepared
    first_unseen = int(period_ordinal(old_panel["period"]).max()) - prepared.horizon + 1
    scores = _head_to_head(
        champion.model,
        result.predictions,
        prepared.frame,
        prepared.features,
        first_unseen,
        config.evaluation.top_k,
        result.summary.main_model,
    )
    record, tags = _record_decision(request, champion, result.summary, scores)
    record.update({"outcome_shift": outcome, "large_drift": large})

    new_version = result.summary.model_version
    tracking.tag_run(result.summary.run_id, tags)
    for version in filter(None, [champion.version, new_version]):
        tracking.tag_version(champion.name, version, tags)
    if record["decision"] == "promoted" and new_version:
        tracking.promote(champion.name, new_version)
    files = [
        write_csv(output_dir / "drift.csv", drift),
        write_json(output_dir / "retrain.json", record),
    ]
    metrics = {f"drift.{r.feature}.psi": r.psi for r in drift.itertuples()}
    metrics.update({f"drift.{k}": v for k, v in outcome.items()})
    tracking.log_to_run(result.summary.run_id, metrics, files)
    return record


def rollback(name: str) -> tuple[str, str]:
    """Make `previous` the champion again (and the demoted version `previous`)."""
    swapped = tracking.swap_champion_and_previous(name)
    if swapped is None:
        raise ConfigError(f"{name}: nothing to roll back to (no '{PREVIOUS}' alias)")
    current, previous = swapped
    tracking.tag_version(name, previous, {registry.DECISION_TAG: "rolled back to"})
    tracking.tag_version(name, current, {registry.DECISION_TAG: "rolled back from"})
    return current, previous
