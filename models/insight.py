"""Explain and target: TreeSHAP drivers, their stability, the budgeted plan, truth checks.

Runs after the main model is fitted, as four steps (explain -> refit ensemble, with the
province/country aggregates of its joint draws -> plan -> truth checks) on typed settings;
produces tables (written and logged by the caller) and scalar metrics. `plan_programs` is
also what `train.py plan` runs. No MLflow, no files here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from features.build import PERIOD_INDEX, TARGET, forecast_rows
from features.catalog import FeatureCatalog
from features.labels import district_labels
from features.splits import Fold
from models import aggregates, explain, targeting, truth
from models.calibration_band import CalibrationBand
from models.pipeline import logistic_pipeline, refit_like
from models.probability import risk_interval
from models.settings import ExplainSettings, ModelSettings, TargetingSettings

AGGREGATE_DRAWS = 4000  # joint draws of the province/country aggregates


@dataclass
class Insight:
    """Tables and metrics of the explain-and-target stage."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    recovery: dict[str, object] | None = None
    plan_scores: dict[str, float] | None = None
    members: list = field(default_factory=list)  # bootstrap refits: the forecast interval's
    calibration_band: CalibrationBand | None = None  # widens the forecast interval


def bootstrap_members(
    final: BaseEstimator,
    X: pd.DataFrame,
    y: np.ndarray,
    periods: np.ndarray,
    districts: pd.Series,
    seed: int,
    n_members: int,
) -> list:
    """Refits of the final model on district-bootstrap samples (`refit_like`: a stack keeps
    its weights, a calibrated model its calibrator), each with its own seed."""
    rng = np.random.default_rng(seed)
    unique = districts.unique()
    members = []
    for k in range(n_members):
        sample = rng.choice(unique, size=len(unique), replace=True)
        counts = pd.Series(sample).value_counts()
        weight = districts.map(counts).fillna(0).to_numpy()
        rows = np.repeat(np.arange(len(X)), weight.astype(int))
        members.append(refit_like(final, X.iloc[rows], y[rows], periods[rows], seed + k + 1))
    return members


def fold_members(
    final: BaseEstimator, frame: pd.DataFrame, folds: list[Fold], features: list[str], seed: int
) -> list:
    """The final model refitted (`refit_like`) on each rolling-origin fold's training rows."""
    X, y, periods = frame[features], frame[TARGET].to_numpy(), frame[PERIOD_INDEX].to_numpy()
    return [
        refit_like(final, X.iloc[f.train_index], y[f.train_index], periods[f.train_index], seed)
        for f in folds
    ]


def _top_driver_agreement(main: pd.DataFrame, others: list[pd.DataFrame], top: int) -> np.ndarray:
    """Per row: share of refits whose top `top` drivers contain the main model's top driver."""
    cols = [c for c in main.columns if c != explain.BASE]
    best = main[cols].to_numpy().argmax(axis=1)
    hits = []
    for other in others:
        ranks = np.argsort(-other[cols].to_numpy(), axis=1)[:, :top]
        hits.append((ranks == best[:, None]).any(axis=1))
    return np.mean(hits, axis=0)


@dataclass(frozen=True)
class InsightSettings:
    """What the stage reads of the experiment config, typed."""

    model: ModelSettings
    explain: ExplainSettings
    targeting: TargetingSettings


@dataclass(frozen=True)
class Explained:
    """TreeSHAP of the explained rows (forecast + held-out periods) and of the forecast."""

    rows: pd.DataFrame  # the frame's forecast and held-out rows, original index
    forecast: pd.DataFrame  # the forecast period's rows, index 0..n-1
    shap_rows: pd.DataFrame
    shap_forecast: pd.DataFrame
    shap_logistic: pd.DataFrame


def explain_rows(
    frame: pd.DataFrame,
    catalog: FeatureCatalog,
    folds: list[Fold],
    final: BaseEstimator,
    settings: InsightSettings,
    out: Insight,
) -> Explained:
    """SHAP of the final model on the forecast and held-out periods (global, domain,
    per-district and interaction tables) and the logistic baseline's linear SHAP."""
    features = catalog.model_features
    labelled = frame[TARGET].notna()
    latest = forecast_rows(frame)
    held_out = frame[PERIOD_INDEX].isin([f.test_period for f in folds])
    explained = frame[latest | held_out]
    forecast = frame[latest].reset_index(drop=True)

    shap_all = explain.contributions(final, explained[features], features)
    shap_forecast = shap_all.loc[latest[latest | held_out].to_numpy()].reset_index(drop=True)
    importance = explain.global_importance(shap_all, catalog)
    out.tables["shap_global"] = importance
    out.tables["shap_domains"] = explain.domain_importance(importance)
    out.tables["district_drivers"] = explain.drivers_long(shap_all, explained, catalog)
    out.tables["shap_interactions"] = explain.shap_interactions(
        final, forecast[features].head(settings.explain.interaction_rows)
    )
    # The logistic baseline explained with the shap library, to compare across model types.
    logistic = logistic_pipeline(features, settings.model.logistic_C, catalog.missing_allowed).fit(
        frame.loc[labelled, features], frame.loc[labelled, TARGET].to_numpy().astype(int)
    )
    shap_logistic = explain.linear_shap(
        logistic, explained[features], frame.loc[labelled, features]
    )
    out.tables["shap_global_logistic"] = explain.global_importance(shap_logistic, catalog)
    return Explained(explained, forecast, shap_all, shap_forecast, shap_logistic)


def refit_ensemble(
    frame: pd.DataFrame,
    catalog: FeatureCatalog,
    folds: list[Fold],
    final: BaseEstimator,
    settings: InsightSettings,
    seen: Explained,
    out: Insight,
) -> tuple[list, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """District-bootstrap and fold refits: SHAP stability, forecast intervals and the
    district profiles. Returns the ensemble (main model first), its forecast risks and the
    forecast interval (low, high; `risk_interval`), in forecast-row order."""
    features = catalog.model_features
    labelled = frame[TARGET].notna()
    seed = settings.model.seed
    members = bootstrap_members(
        final,
        frame.loc[labelled, features],
        frame.loc[labelled, TARGET].to_numpy().astype(int),
        frame.loc[labelled, PERIOD_INDEX].to_numpy(),
        frame.loc[labelled, "district_id"],
        seed,
        settings.explain.n_bootstrap,
    )
    forecast = seen.forecast
    refits = members + fold_members(final, frame, folds, features, seed)
    refit_shap = [explain.contributions(m, forecast[features], features) for m in refits]
    stability = explain.importance_stability(
        [
            explain.global_importance(s, catalog).set_index("feature")["mean_abs_shap"]
            for s in [seen.shap_forecast, *refit_shap]
        ]
    )
    out.tables["shap_stability"] = stability.rename_axis("feature").reset_index()
    out.metrics["explain.importance_mean_spearman"] = stability.attrs["mean_spearman"]
    out.metrics["explain.unstable_features"] = float(stability["unstable"].sum())

    ensemble = [final, *members]  # the registered model's interval reproduces this one
    out.members = members
    risk = np.vstack([m.predict_proba(forecast[features])[:, 1] for m in ensemble])
    profiles = explain.district_profiles(seen.shap_forecast, forecast, catalog)
    profiles.insert(2, "risk", risk[0])
    low, high = risk_interval(ensemble, forecast[features], out.calibration_band, risk[0])
    profiles.insert(3, "risk_low", low)
    profiles.insert(4, "risk_high", high)
    profiles["top_driver_agreement"] = _top_driver_agreement(seen.shap_forecast, refit_shap, 3)
    out.tables["district_profiles"] = profiles.sort_values("risk", ascending=False)
    return ensemble, risk, (low, high)


def plan_programs(
    ensemble: list,
    frame: pd.DataFrame,
    features: list[str],
    shap_forecast: pd.DataFrame,
    programs: targeting.ProgramCatalog,
    settings: TargetingSettings,
) -> pd.DataFrame:
    """Program benefits of every forecast district (re-scored by each ensemble member) and
    the plan allocated under `settings` (budget, method), maximising the expected reduction
    or, with `settings.risk_aversion`, a lower one (`planning_value`). With `max_per_district`
    > 1 a district can get a bundle of programs, valued by their joint counterfactual (effects
    that overlap are not counted twice); one row per (district, program) either way."""
    forecast = frame[forecast_rows(frame)].reset_index(drop=True)
    bounds = frame[features].agg(["min", "max"])
    options = targeting.program_benefits(
        ensemble,
        forecast[features],
        forecast,
        shap_forecast,
        programs,
        bounds,
        max_programs=settings.max_per_district,
    )
    value = targeting.planning_value(options, settings.risk_aversion)
    chosen = targeting.allocate(  # one option per district: a program or a bundle of them
        options.assign(planning_value=value),
        settings.budget,
        1,
        settings.method,
        value="planning_value",
    )
    plan = targeting.split_bundles(chosen.drop(columns="planning_value"), programs)
    # plan.csv: districts by their (joint) reduction, largest first; a bundle's rows together
    district_total = plan.groupby("district_id", sort=False)["reduction"].transform("sum")
    order = np.lexsort((-plan["reduction"].to_numpy(), -district_total.to_numpy()))
    return plan.iloc[order].reset_index(drop=True)


def check_truth(
    frame: pd.DataFrame,
    catalog: FeatureCatalog,
    seen: Explained,
    plan: pd.DataFrame,
    risk: np.ndarray,
    programs: targeting.ProgramCatalog,
    settings: InsightSettings,
    synthetic_truth: pd.DataFrame,
    out: Insight,
    risk_bounds: tuple[np.ndarray, np.ndarray],
) -> None:
    """Driver recovery (model and logistic SHAP) and plan quality against the synthetic truth;
    coverage of the forecast interval `risk_bounds` (low, high per forecast row)."""
    features = catalog.model_features
    true_terms = synthetic_truth.loc[seen.rows.index].reset_index(drop=True)
    out.recovery = truth.driver_recovery(seen.shap_rows.reset_index(drop=True), true_terms, catalog)
    out.metrics["truth.shap_spearman"] = out.recovery["spearman"]
    out.metrics["truth.top_actionable_hit_share"] = out.recovery["top_actionable_hit_share"]
    logistic_recovery = truth.driver_recovery(
        seen.shap_logistic.reset_index(drop=True), true_terms, catalog
    )
    out.recovery["logistic_spearman"] = logistic_recovery["spearman"]
    out.metrics["truth.logistic_shap_spearman"] = logistic_recovery["spearman"]
    t = settings.targeting
    out.plan_scores = truth.score_plans(
        plan,
        seen.forecast[features],
        seen.forecast,
        risk[0],
        programs,
        frame[features].agg(["min", "max"]),
        t.budget,
        t.max_per_district,
        t.naive_program,
        settings.model.seed,
    )
    low, high = risk_bounds
    true_risk = truth.true_probability(seen.forecast[features])
    out.plan_scores.update(truth.interval_coverage(true_risk, risk[0], low, high, "risk"))
    out.metrics.update({f"truth.plan_{k}": v for k, v in out.plan_scores.items()})


def explain_and_target(
    frame: pd.DataFrame,
    catalog: FeatureCatalog,
    folds: list[Fold],
    final: BaseEstimator,
    settings: InsightSettings,
    programs: targeting.ProgramCatalog,
    synthetic_truth: pd.DataFrame | None = None,
    progress: Callable[[str], None] = lambda message: None,
    shocks: np.ndarray | None = None,
    band: CalibrationBand | None = None,
) -> Insight:
    """SHAP of the forecast period and held-out periods, stability across refits, forecast
    intervals (the refits' range widened by the final model's held-out calibration `band`),
    province/country aggregates (under the period `shocks`, log-odds; none: no common
    shock), program benefits and the budgeted plan; truth checks when truth is given
    (`synthetic_truth`: true driver terms aligned with `frame`'s rows)."""
    out = Insight(calibration_band=band)
    progress("explaining: SHAP on the forecast and held-out periods")
    seen = explain_rows(frame, catalog, folds, final, settings, out)
    progress(
        f"stability and intervals: {len(folds)} fold refits, "
        f"{settings.explain.n_bootstrap} bootstrap refits"
    )
    ensemble, risk, risk_bounds = refit_ensemble(frame, catalog, folds, final, settings, seen, out)
    ids = seen.forecast["district_id"].astype(str)
    labels = district_labels(seen.forecast, ids).reindex(ids).reset_index()
    shocks = np.zeros(0) if shocks is None else shocks
    table = aggregates.aggregate_risk(risk, labels, shocks, AGGREGATE_DRAWS, settings.model.seed)
    out.tables["aggregates"] = table  # rounded for people by reports/desk.py
    progress("targeting: program benefits and the budgeted plan")
    plan = plan_programs(
        ensemble, frame, catalog.model_features, seen.shap_forecast, programs, settings.targeting
    )
    out.tables["plan"] = plan
    out.metrics.update(
        {
            "plan.districts": float(plan["district_id"].nunique()),
            "plan.cost": float(plan["cost"].sum()),
            "plan.expected_reduction": float(plan["reduction"].sum()),
        }
    )
    if synthetic_truth is not None:
        progress("checking drivers and plan against the synthetic truth")
        check_truth(
            frame,
            catalog,
            seen,
            plan,
            risk,
            programs,
            settings,
            synthetic_truth,
            out,
            risk_bounds,
        )
    return out
