"""Checks against the synthetic region's known truth: driver recovery and plan quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from features.catalog import FeatureCatalog
from features.synthetic import INTERCEPT, structural_terms
from models.explain import BASE
from models.targeting import ProgramCatalog, allocate, apply_program

HISTORY_GROUP = "conflict history"


def true_probability(X: pd.DataFrame) -> np.ndarray:
    """The structural model's P(incidents[t+1] >= 1) for rows of the synthetic model frame
    (needs every driver covariate and `hist_decay`, `hist_spatial`)."""
    x = {c: X[c].to_numpy(dtype=float) for c in X.columns}
    terms = structural_terms(x, x["hist_decay"], x["hist_spatial"])
    return -np.expm1(-np.exp(INTERCEPT + sum(terms.values())))


def _grouped(frame: pd.DataFrame, catalog: FeatureCatalog) -> pd.DataFrame:
    """Columns summed so all conflict-history features form one driver (the model spreads
    credit over several correlated history features; the truth has two)."""
    group = {
        c: (HISTORY_GROUP if catalog.features[c].domain == "conflict history" else c)
        for c in frame.columns
    }
    return frame.T.groupby(pd.Series(group)).sum().T


def driver_recovery(
    shap_values: pd.DataFrame,
    true_terms: pd.DataFrame,
    catalog: FeatureCatalog,
    top: int = 3,
) -> dict[str, object]:
    """Does SHAP find the true drivers? Rows of both frames are the same district-periods.

    Truth terms are centred (SHAP explains deviations from the average forecast). Returns the
    Spearman correlation of mean |SHAP| and mean |true term| per driver, whether the true top
    `top` drivers come out in the same order, and the share of rows whose true top actionable
    driver is among the model's top `top` actionable drivers.
    """
    model = _grouped(shap_values.drop(columns=[BASE], errors="ignore"), catalog)
    truth = true_terms.reindex(columns=[c for c in true_terms.columns if c in catalog.features])
    truth = _grouped(truth - truth.mean(), catalog).reindex(columns=model.columns, fill_value=0)
    model_importance = model.abs().mean().sort_values(ascending=False)
    true_importance = truth.abs().mean().reindex(model_importance.index)
    rho = float(spearmanr(model_importance, true_importance).statistic)
    true_top = list(true_importance.sort_values(ascending=False).index[:top])
    found_top = list(model_importance.index[:top])
    actionable = [
        c for c in model.columns if c in catalog.features and catalog.features[c].actionable
    ]
    true_best = truth[actionable].to_numpy().argmax(axis=1)
    model_rank = np.argsort(-model[actionable].to_numpy(), axis=1)[:, :top]
    hit = (model_rank == true_best[:, None]).any(axis=1)
    return {
        "spearman": rho,
        "true_top": true_top,
        "model_top": found_top,
        "top_found_in_order": true_top == found_top,
        "top_actionable_hit_share": float(hit.mean()),
    }


def plan_true_reduction(
    plan: pd.DataFrame,
    X: pd.DataFrame,
    keys: pd.DataFrame,
    programs: ProgramCatalog,
    bounds: pd.DataFrame,
) -> float:
    """Sum over the plan's rows of the true risk reduction of its program in its district."""
    if plan.empty:
        return 0.0
    position = pd.Series(np.arange(len(keys)), index=keys["district_id"].to_numpy())
    total = 0.0
    for program, rows in plan.groupby("program"):
        idx = position.loc[rows["district_id"]].to_numpy()
        subset = X.iloc[idx]
        after = apply_program(subset, programs.programs[program], bounds)
        total += float((true_probability(subset) - true_probability(after)).sum())
    return total


def true_benefits(
    X: pd.DataFrame, keys: pd.DataFrame, programs: ProgramCatalog, bounds: pd.DataFrame
) -> pd.DataFrame:
    """The true risk reduction of every (district, program): what an oracle planner knows."""
    before = true_probability(X)
    parts = []
    for name, spec in programs.programs.items():
        reduction = before - true_probability(apply_program(X, spec, bounds))
        parts.append(
            keys[["district_id", "period"]]
            .reset_index(drop=True)
            .assign(program=name, cost=spec.cost_per_district, reduction=reduction)
        )
    return pd.concat(parts, ignore_index=True)


def score_plans(
    plan: pd.DataFrame,
    X: pd.DataFrame,
    keys: pd.DataFrame,
    risk: np.ndarray,
    programs: ProgramCatalog,
    bounds: pd.DataFrame,
    budget: float,
    max_per_district: int,
    naive_program: str,
    seed: int,
    n_random: int = 20,
) -> dict[str, float]:
    """True risk reduction of our plan vs the oracle plan, a naive plan (the highest-risk
    districts each get `naive_program`) and random plans (mean of `n_random`)."""
    ours = plan_true_reduction(plan, X, keys, programs, bounds)
    truth = true_benefits(X, keys, programs, bounds)
    oracle = float(allocate(truth, budget, max_per_district)["reduction"].sum())
    cost = programs.programs[naive_program].cost_per_district
    n_naive = int(budget // cost)
    top = keys.iloc[np.argsort(-risk, kind="stable")[:n_naive]]
    naive_plan = top[["district_id"]].assign(program=naive_program)
    naive = plan_true_reduction(naive_plan, X, keys, programs, bounds)
    rng = np.random.default_rng(seed)
    random_totals = []
    for _ in range(n_random):
        shuffled = truth.sample(frac=1.0, random_state=rng).drop_duplicates("district_id")
        within = shuffled[shuffled["cost"].cumsum() <= budget]
        random_totals.append(float(within["reduction"].sum()))
    random_mean = float(np.mean(random_totals))
    return {
        "estimated_reduction_ours": float(plan["reduction"].sum()) if len(plan) else 0.0,
        "true_reduction_ours": ours,
        "true_reduction_oracle": oracle,
        "true_reduction_naive": naive,
        "true_reduction_random": random_mean,
        "ratio_to_oracle": ours / oracle if oracle > 0 else float("nan"),
        "multiple_of_naive": ours / naive if naive > 0 else float("nan"),
        "multiple_of_random": ours / random_mean if random_mean > 0 else float("nan"),
    }
