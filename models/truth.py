"""Checks against the synthetic region's known truth: driver recovery and plan quality."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from features.catalog import FeatureCatalog
from features.synthetic import INTERCEPT, structural_terms
from models.explain import BASE
from models.targeting import (
    BUNDLE_SEP,
    ProgramCatalog,
    allocate,
    apply_program,
    apply_programs,
    bundle_name,
    own_shares,
)

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


def plan_row_truth(
    plan: pd.DataFrame,
    X: pd.DataFrame,
    keys: pd.DataFrame,
    programs: ProgramCatalog,
    bounds: pd.DataFrame,
) -> np.ndarray:
    """Per plan row, in the plan's order: the true risk reduction of its program in its
    district (`plan` needs district_id and program). A district with several programs gets
    their JOINT true reduction (applied in catalog order, as the plan does), split over its
    rows by each program's own true reduction (equally where those are not all positive), so
    the rows sum to what the district gains."""
    out = np.zeros(len(plan))
    if plan.empty:
        return out
    position = pd.Series(np.arange(len(keys)), index=keys["district_id"].to_numpy())
    rows = plan.reset_index(drop=True)
    order = {name: i for i, name in enumerate(programs.programs)}  # as the plan applies them
    bundles = rows.groupby("district_id", sort=False)["program"].transform(
        lambda names: bundle_name(sorted(names, key=order.get))
    )
    for bundle, group in rows.groupby(bundles.to_numpy(), sort=False):  # districts alike at once
        names = bundle.split(BUNDLE_SEP)
        districts = group["district_id"].drop_duplicates()
        subset = X.iloc[position.loc[districts].to_numpy()]
        before = true_probability(subset)
        specs = [programs.programs[name] for name in names]
        joint = before - true_probability(apply_programs(subset, specs, bounds))
        own = np.column_stack(
            [before - true_probability(apply_program(subset, spec, bounds)) for spec in specs]
        )
        value = pd.DataFrame(
            joint[:, None] * own_shares(own), index=districts.to_numpy(), columns=names
        )
        out[group.index] = [
            value.at[d, n] for d, n in zip(group["district_id"], group["program"], strict=True)
        ]
    return out


def plan_true_reduction(
    plan: pd.DataFrame,
    X: pd.DataFrame,
    keys: pd.DataFrame,
    programs: ProgramCatalog,
    bounds: pd.DataFrame,
) -> float:
    """Sum over the plan's rows of the true risk reduction of its program in its district."""
    return float(plan_row_truth(plan, X, keys, programs, bounds).sum())


def true_benefits(
    X: pd.DataFrame,
    keys: pd.DataFrame,
    programs: ProgramCatalog,
    bounds: pd.DataFrame,
    max_programs: int = 1,
) -> pd.DataFrame:
    """The true risk reduction of every (district, program): what an oracle planner knows;
    with `max_programs` > 1 also of every bundle of up to that many programs (their joint
    reduction; `program` = `bundle_name`). `true_risk` is the district's true probability
    before any program."""
    before = true_probability(X)
    parts = []
    for size in range(2, min(max_programs, len(programs.programs)) + 1):
        for names in itertools.combinations(programs.programs, size):
            specs = [programs.programs[n] for n in names]
            parts.append(
                keys[["district_id", "period"]]
                .reset_index(drop=True)
                .assign(
                    program=bundle_name(names),
                    cost=sum(spec.cost_per_district for spec in specs),
                    true_risk=before,
                    reduction=before - true_probability(apply_programs(X, specs, bounds)),
                )
            )
    for name, spec in programs.programs.items():
        reduction = before - true_probability(apply_program(X, spec, bounds))
        parts.append(
            keys[["district_id", "period"]]
            .reset_index(drop=True)
            .assign(
                program=name,
                cost=spec.cost_per_district,
                true_risk=before,
                reduction=reduction,
            )
        )
    return pd.concat(parts, ignore_index=True)


def _min_risk(frame: pd.DataFrame, programs: ProgramCatalog) -> np.ndarray:
    """Each row's program's `min_risk` (a bundle's: the highest of its programs')."""
    floors = {name: spec.min_risk for name, spec in programs.programs.items()}
    return np.array(
        [max(floors[n] for n in name.split(BUNDLE_SEP)) for name in frame["program"]], dtype=float
    )


def oracle_plan(
    truth: pd.DataFrame, programs: ProgramCatalog, budget: float, max_per_district: int
) -> pd.DataFrame:
    """The best plan knowing the true benefits, under our plan's constraints: the same budget
    and `max_per_district` (`truth` from `true_benefits` with `max_programs` =
    `max_per_district`: one option, a program or a bundle, per district), and each program's
    `min_risk` read on the TRUE probability (the oracle knows the risk too; eligibility is a
    rule about a district's risk, and the truth is the fairest reading of it). Exact
    allocation; a bundle is one row."""
    eligible = truth[truth["true_risk"].to_numpy() >= _min_risk(truth, programs)]
    bundles = truth["program"].str.contains(BUNDLE_SEP, regex=False).any()
    if max_per_district > 1 and len(programs.programs) > 1 and not bundles:
        raise ValueError("the oracle needs true_benefits(..., max_programs=max_per_district)")
    return allocate(eligible, budget, 1)


def naive_plan(
    keys: pd.DataFrame, risk: np.ndarray, programs: ProgramCatalog, budget: float, program: str
) -> pd.DataFrame:
    """The highest-risk districts (model risk, as ours) each get `program`, while the budget
    lasts, among districts at or above its `min_risk` (one program per district, so any
    `max_per_district` holds)."""
    spec = programs.programs[program]
    order = np.argsort(-risk, kind="stable")
    order = order[risk[order] >= spec.min_risk][: int(budget // spec.cost_per_district)]
    return keys.iloc[order][["district_id"]].assign(program=program).reset_index(drop=True)


def random_plan(
    truth: pd.DataFrame,
    risk: np.ndarray,
    programs: ProgramCatalog,
    budget: float,
    max_per_district: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """(district, program) rows in random order, eligible as ours (model risk >= the
    program's `min_risk`), at most `max_per_district` per district, while the budget lasts
    (the shuffled list's longest affordable prefix). `truth` rows are in `true_benefits`
    order: programs stacked over the same districts, so `risk` repeats per program."""
    singles = truth[~truth["program"].str.contains(BUNDLE_SEP, regex=False)]
    district_risk = np.tile(risk, len(singles) // len(risk))
    eligible = singles[district_risk >= _min_risk(singles, programs)]
    shuffled = eligible.sample(frac=1.0, random_state=rng)
    shuffled = shuffled[shuffled.groupby("district_id").cumcount() < max_per_district]
    return shuffled[shuffled["cost"].cumsum() <= budget + 1e-9]


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
    districts each get `naive_program`) and random plans (mean of `n_random`), all under our
    plan's budget, `max_per_district` and programs' `min_risk` (see each plan's function).
    With the plan's reduction interval, the share of its rows whose true reduction lies in
    it (`benefit_coverage`) and how many rows sit on a bound (`benefit_on_bound`)."""
    row_truth = plan_row_truth(plan, X, keys, programs, bounds)
    ours = float(row_truth.sum())
    truth = true_benefits(X, keys, programs, bounds, max_per_district)
    oracle = float(oracle_plan(truth, programs, budget, max_per_district)["reduction"].sum())
    naive_rows = naive_plan(keys, risk, programs, budget, naive_program)
    naive = plan_true_reduction(naive_rows, X, keys, programs, bounds)
    rng = np.random.default_rng(seed)
    random_totals = [  # graded as ours: a district's programs by their joint true reduction
        plan_true_reduction(
            random_plan(truth, risk, programs, budget, max_per_district, rng),
            X,
            keys,
            programs,
            bounds,
        )
        for _ in range(n_random)
    ]
    random_mean = float(np.mean(random_totals))
    point, low, high = (
        plan[c].to_numpy(dtype=float) if len(plan) else np.zeros(0)
        for c in ("reduction", "reduction_low", "reduction_high")
    )
    estimated = float(point.sum())
    return {
        "estimated_reduction_ours": estimated,
        "true_reduction_ours": ours,
        "true_reduction_oracle": oracle,
        "true_reduction_naive": naive,
        "true_reduction_random": random_mean,
        "ratio_to_oracle": ours / oracle if oracle > 0 else float("nan"),
        "estimate_to_truth": estimated / ours if ours > 0 else float("nan"),
        "multiple_of_naive": ours / naive if naive > 0 else float("nan"),
        "multiple_of_random": ours / random_mean if random_mean > 0 else float("nan"),
        **interval_coverage(row_truth, point, low, high, "benefit"),
    }


def interval_coverage(
    true: np.ndarray, point: np.ndarray, low: np.ndarray, high: np.ndarray, name: str
) -> dict[str, float]:
    """`{name}_coverage`: share of rows whose true value lies in [low, high] (NaN without
    intervals or rows); `{name}_on_bound`: rows whose point estimate equals a bound;
    `{name}_rows`: rows with an interval."""
    has = np.isfinite(low) & np.isfinite(high)
    inside = (true[has] >= low[has]) & (true[has] <= high[has])
    on_bound = (point[has] == low[has]) | (point[has] == high[has])
    return {
        f"{name}_coverage": float(inside.mean()) if has.any() else float("nan"),
        f"{name}_on_bound": float(on_bound.sum()),
        f"{name}_rows": float(has.sum()),
    }
