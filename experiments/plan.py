"""Plan for a new budget from a logged model, without retraining.

Rebuilds the run's data and features from its logged config, explains the forecast period
with TreeSHAP and allocates programs under the new budget with the ensemble the run planned
with: the registered model and the bootstrap refits logged with it (so the expected reductions
and intervals are the training plan's). A model logged without refits plans alone: point
estimates only, reduction_low and reduction_high empty (NaN), not a zero-width interval.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from experiments import registry, tracking
from experiments.config import ConfigError, ExperimentConfig
from experiments.data import load_inputs
from experiments.prepare import prepare
from features.writers import check_output_dir, write_csv, write_json
from models import explain, targeting
from models.insight import forecast_rows, plan_programs
from reports import contract, desk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanRequest:
    model: str  # registry reference name@alias, name/version, or a run id
    budget: float
    max_per_district: int | None = None
    method: str | None = None
    programs: str | None = None


def load_ensemble(reference: str) -> tuple[list, str]:
    """The logged model and the bootstrap refits logged with it (the training plan's
    ensemble), and its run id; a model logged before panel models: the model alone."""
    try:
        forecaster, run_id = tracking.load_forecaster(reference)
    except LookupError:  # not a panel model (or not found: load_model says which)
        model, run_id = tracking.load_model(reference)
        return [model], run_id
    return [forecaster.model, *(forecaster.members or ())], run_id


def make_plan(request: PlanRequest, output_dir: Path, progress=log.info) -> pd.DataFrame:
    """Load the model and its run's config, re-create the forecast rows, allocate, write
    `plan.csv` (named, ranked and rounded as `reports.desk` makes it) and `plan_summary.json`
    to `output_dir`; returns the plan as written."""
    check_output_dir(output_dir, "--output")
    progress(f"loading model {request.model}")
    try:
        ensemble, run_id = load_ensemble(request.model)
    except LookupError as exc:
        raise ConfigError(str(exc)) from None
    model = ensemble[0]
    try:
        config = ExperimentConfig.model_validate(tracking.load_run_config(run_id))
    except LookupError as exc:
        raise ConfigError(str(exc)) from None
    t = config.targeting
    programs_path = request.programs or t.programs or None
    progress("rebuilding the run's data and features")
    inputs = load_inputs(config)
    if tracking.run_tag(run_id, registry.FINGERPRINT_TAG) not in (None, inputs.fingerprint):
        progress("warning: the data changed since the model was trained (fingerprint differs)")
    programs = targeting.load_programs(programs_path, inputs.catalog)
    data = prepare(config, inputs)
    frame, features = data.frame, data.features
    forecast = frame[forecast_rows(frame)].reset_index(drop=True)
    progress(f"explaining {len(forecast)} districts and allocating a budget of {request.budget:g}")
    settings = t.model_copy(
        update={
            "budget": request.budget,
            "max_per_district": request.max_per_district or t.max_per_district,
            "method": request.method or t.method,
        }
    )
    if settings.risk_aversion and len(ensemble) == 1:
        progress("note: targeting.risk_aversion has no effect here: one model gives no interval")
    shap_values = explain.contributions(model, forecast[features], features)
    plan = plan_programs(ensemble, frame, features, shap_values, programs, settings)
    plan_table = contract.TABLES_BY_KEY["plan"]
    ranked = forecast[["district_id", "period"]].assign(
        probability=model.predict_proba(forecast[features])[:, 1]
    )
    table = desk.plan_table(plan, ranked, inputs.panel, data.horizon)
    write_csv(output_dir / plan_table.file, contract.check_table(plan_table.key, table))
    write_json(
        output_dir / "plan_summary.json",
        {
            "model": request.model,
            "run_id": run_id,
            "budget": request.budget,
            "max_per_district": settings.max_per_district,
            "districts": int(plan["district_id"].nunique()),
            "cost": float(plan["cost"].sum()),
            "expected_reduction": float(plan["reduction"].sum()),
            "note": "point estimates: intervals come from a training run's bootstrap ensemble",
            "caveat": explain.CAVEAT,
        },
    )
    return table
