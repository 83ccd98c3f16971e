"""Program targeting: program catalog -> expected risk reduction per district -> budgeted plan.

The expected benefit of a (district, program) pair is a counterfactual: the model re-scores
the district with the program's assumed feature changes. The spread of that reduction across
an ensemble of refitted models gives its interval. SHAP decides which programs are candidates:
only those whose features push the district's risk up.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csc_array

from features.catalog import FeatureCatalog, read_toml
from features.errors import CatalogError
from models.probability import interval_pool, pool_range

DEFAULT_PROGRAMS = Path(__file__).parent / "catalogs" / "programs.toml"
BUNDLE_SEP = "+"
# plan.csv's one-line statement of what a row's figures are and are not (its `note` column)
ESTIMATE_NOTE = (
    "reduction: forecast minus forecast with the program's assumed change (assumed_effect, "
    "from the program catalog, not a measured impact), averaged over the model, its refits "
    "and their member models, at most the district's risk; an association the models "
    "learned, not a causal estimate; interval (when given): their range"
)


class ProgramSpec(BaseModel):
    """One prevention program: which features it moves, by how much, at what cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    shift: dict[str, float] = Field(default_factory=dict)  # feature += value
    scale: dict[str, float] = Field(default_factory=dict)  # feature *= value
    cost_per_district: float = Field(gt=0)
    min_risk: float = Field(0.0, ge=0, le=1)  # eligible only at or above this forecast risk

    @model_validator(mode="after")
    def _moves_something(self) -> ProgramSpec:
        if not self.shift and not self.scale:
            raise ValueError("a program must shift or scale at least one feature")
        if any(v < 0 for v in self.scale.values()):
            raise ValueError("scale factors must be >= 0")
        return self

    @property
    def features(self) -> list[str]:
        return sorted(set(self.shift) | set(self.scale))


class ProgramCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    programs: dict[str, ProgramSpec]


def load_programs(path: str | Path | None, catalog: FeatureCatalog) -> ProgramCatalog:
    """Read and check a program catalog: every feature it moves must be an actionable,
    non-protected catalog feature, by a finite amount at a finite cost. Raises CatalogError
    naming the file, program and key."""
    path = Path(path) if path else DEFAULT_PROGRAMS
    data = read_toml(path, "program catalog", CatalogError)
    try:
        programs = ProgramCatalog.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogError(f"{path}: {where}: {first['msg']}") from None
    if not programs.programs:
        raise CatalogError(f"{path}: declares no programs")
    joined = [name for name in programs.programs if BUNDLE_SEP in name]
    if joined:
        raise CatalogError(
            f"{path}: programs.{joined[0]}: '{BUNDLE_SEP}' joins programs given together; "
            "rename the program"
        )
    for name, spec in programs.programs.items():
        amounts = {
            **{f"shift.{f}": v for f, v in spec.shift.items()},
            **{f"scale.{f}": v for f, v in spec.scale.items()},
            "cost_per_district": spec.cost_per_district,
        }
        infinite = [key for key, value in amounts.items() if not np.isfinite(value)]
        if infinite:
            raise CatalogError(f"{path}: programs.{name}.{infinite[0]}: must be a finite number")
        for feature in spec.features:
            known = catalog.features.get(feature)
            if known is None:
                raise CatalogError(f"{path}: programs.{name}: unknown feature '{feature}'")
            if not known.actionable or known.protected:
                raise CatalogError(
                    f"{path}: programs.{name}: feature '{feature}' is not actionable "
                    "(or is protected); programs may only move actionable features"
                )
    return programs


def apply_program(X: pd.DataFrame, spec: ProgramSpec, bounds: pd.DataFrame) -> pd.DataFrame:
    """X after the program: shifts and scales applied, clipped to the observed [min, max]."""
    changed = X.copy()
    for feature, value in spec.shift.items():
        changed[feature] = changed[feature] + value
    for feature, factor in spec.scale.items():
        changed[feature] = changed[feature] * factor
    for feature in spec.features:
        changed[feature] = changed[feature].clip(
            bounds.at["min", feature], bounds.at["max", feature]
        )
    return changed


def apply_programs(X: pd.DataFrame, specs: list[ProgramSpec], bounds: pd.DataFrame) -> pd.DataFrame:
    """X after several programs, one after the other (each clipped as `apply_program`)."""
    for spec in specs:
        X = apply_program(X, spec, bounds)
    return X


def bundle_name(names: tuple[str, ...] | list[str]) -> str:
    """The name of programs given to one district together, e.g. `education+livelihoods`."""
    return BUNDLE_SEP.join(names)


def _risk(models: list, X: pd.DataFrame) -> np.ndarray:
    """(n_models, n_rows) calibrated probabilities."""
    return np.vstack([m.predict_proba(X)[:, 1] for m in models])


def reduction_estimate(
    reduction: np.ndarray, n_models: int, risk: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The expected reduction per row and its interval (low, high) from a pool's (models,
    rows) reductions, over the models that read the program (not those blind to it, reduction
    0 everywhere, e.g. the historical rate; never leaving out the main model, row 0): the
    interval is their `pool_range` (NaN with one model), the expectation their mean (with one
    model, its own), kept within the interval (the mean of equal values can exceed them by a
    rounding step) and at most the model's `risk` (the pool's other models forecast other
    risks: risk_after stays >= 0), `low` lowered to it where capped. Selection picks the
    largest estimates, so one model's errors inflate a plan's total; models of different
    kinds err differently, and their mean is overstated less (README: measured against the
    synthetic truth)."""
    sees = np.abs(reduction).max(axis=1) > 0
    sees[0] = True
    low, high = pool_range(reduction[sees], n_models)
    expected = np.fmin(np.fmax(reduction[sees].mean(axis=0), low), high)
    expected = np.minimum(expected, risk)
    return expected, np.minimum(low, expected), high  # NaN (no interval) stays NaN


def program_benefits(
    models: list,
    X: pd.DataFrame,
    keys: pd.DataFrame,
    shap_values: pd.DataFrame,
    programs: ProgramCatalog,
    bounds: pd.DataFrame,
    max_programs: int = 1,
) -> pd.DataFrame:
    """Expected risk reduction of every candidate (district, program) and, with
    `max_programs` > 1, of every set of up to that many candidate programs of a district given
    together (`bundle_benefits`: the joint counterfactual, so effects that overlap are not
    counted twice).

    `models[0]` is the model whose forecast (`risk`) is used; the others (refits with other
    seeds or samples) and every stack's members (`with_members`, without those blind to the
    program) give the reduction, their mean (`reduction_estimate`), and its interval, their
    range, which always holds it; NaN with one model (then the reduction is the model's own).
    A program is a candidate where its features' SHAP values sum to > 0 (they push risk up)
    and the district's risk is at least its `min_risk`.
    Returns district_id, period, program (a bundle's is `bundle_name` of its programs),
    programs (the tuple of its programs), shares (each program's share of the reduction), cost,
    risk, risk_after, reduction, reduction_low, reduction_high, drivers (the motivating
    features with their SHAP; per program in program_drivers).
    """
    pool = interval_pool(models)  # row 0: models[0]
    before = _risk(pool, X)
    rows, single = [], {}
    for name, spec in programs.programs.items():
        push = shap_values[spec.features].sum(axis=1).to_numpy()
        after = _risk(pool, apply_program(X, spec, bounds))
        reduction = before - after
        expected, low, high = reduction_estimate(reduction, len(models), before[0])
        candidate = (push > 0) & (before[0] >= spec.min_risk)
        drivers = shap_values[spec.features].apply(
            lambda r: ", ".join(f"{f} ({v:+.2f})" for f, v in r.items() if v > 0), axis=1
        )
        part = (
            keys[["district_id", "period"]]
            .reset_index(drop=True)
            .assign(
                program=name,
                cost=spec.cost_per_district,
                risk=before[0],
                risk_after=before[0] - expected,
                reduction=expected,
                reduction_low=low,
                reduction_high=high,
                drivers=drivers.to_numpy(),
            )
        )
        single[name] = (candidate, expected, drivers.to_numpy())
        n = int(candidate.sum())
        rows.append(
            part[candidate].assign(
                programs=[(name,)] * n,
                shares=[(1.0,)] * n,
                program_drivers=[(d,) for d in drivers.to_numpy()[candidate]],
            )
        )
    for size in range(2, min(max_programs, len(programs.programs)) + 1):
        for names in itertools.combinations(programs.programs, size):  # in catalog order
            if np.logical_and.reduce([single[n][0] for n in names]).any():
                rows.append(
                    _bundle(pool, len(models), X, keys, before, names, programs, bounds, single)
                )
    return pd.concat(rows, ignore_index=True)


def own_shares(own: np.ndarray) -> np.ndarray:
    """Per row of (rows, programs) single-program reductions: each program's share of the
    bundle's joint one, its own reduction over their sum; equal shares where those are not all
    positive (a share of a sum with a negative part means nothing)."""
    positive = (own > 0).all(axis=1, keepdims=True)
    return np.where(
        positive, own / np.where(positive, own, 1).sum(axis=1, keepdims=True), 1 / own.shape[1]
    )


def _bundle(pool, n_models, X, keys, before, names, programs, bounds, single) -> pd.DataFrame:
    """Rows of the districts where every program of `names` is a candidate (at least one):
    the joint reduction (the programs applied one after the other in catalog order), and each
    program's share of it (`own_shares`; unequal-sign cases are rare, as such a bundle seldom
    beats its best program)."""
    where = np.logical_and.reduce([single[n][0] for n in names])
    idx = np.flatnonzero(where)
    specs = [programs.programs[n] for n in names]
    after = _risk(pool, apply_programs(X.iloc[idx], specs, bounds))
    reduction = before[:, idx] - after
    expected, low, high = reduction_estimate(reduction, n_models, before[0, idx])
    shares = own_shares(np.column_stack([single[n][1][idx] for n in names]))
    return (
        keys[["district_id", "period"]]
        .iloc[idx]
        .reset_index(drop=True)
        .assign(
            program=bundle_name(names),
            programs=[tuple(names)] * len(idx),
            shares=[tuple(r) for r in shares],
            cost=sum(spec.cost_per_district for spec in specs),
            risk=before[0, idx],
            risk_after=before[0, idx] - expected,
            reduction=expected,
            reduction_low=low,
            reduction_high=high,
            drivers=["; ".join(str(single[n][2][i]) for n in names) for i in idx],
            program_drivers=[tuple(single[n][2][i] for n in names) for i in idx],
        )
    )


def assumed_effect(spec: ProgramSpec) -> str:
    """The catalog's assumed change, e.g. `youth_unemployment -0.06, poverty -0.05`."""
    moves = [f"{f} {v:+g}" for f, v in spec.shift.items()]
    return ", ".join(moves + [f"{f} x{v:g}" for f, v in spec.scale.items()])


def split_bundles(options: pd.DataFrame, programs: ProgramCatalog) -> pd.DataFrame:
    """Chosen options (`program_benefits` rows) -> one row per (district, program), option
    order kept: a bundle's reduction and its interval are split by the programs' shares (the
    district's rows sum to the joint figures), each row has its program's cost and drivers
    and the joint risk_after, and `bundle` names the programs the district gets together (the
    program's own name when alone); `assumed_effect` is the catalog's change and `note`
    says what the figures are and are not (`ESTIMATE_NOTE`)."""
    rows = options.reset_index(drop=True).assign(bundle=lambda f: f["program"])
    out = rows.explode(["programs", "shares", "program_drivers"], ignore_index=True)
    share = out["shares"].to_numpy(dtype=float)
    out["program"] = out["programs"]
    out["cost"] = [programs.programs[name].cost_per_district for name in out["program"]]
    out["assumed_effect"] = [assumed_effect(programs.programs[name]) for name in out["program"]]
    out["note"] = ESTIMATE_NOTE
    out["drivers"] = out["program_drivers"]
    for column in ("reduction", "reduction_low", "reduction_high"):
        out[column] = out[column].to_numpy(dtype=float) * share
    return out.drop(columns=["programs", "shares", "program_drivers"])


def planning_value(benefits: pd.DataFrame, risk_aversion: float) -> pd.Series:
    """What the allocation maximises per row: `reduction - risk_aversion * (reduction -
    reduction_low)`, so 0 plans on the expected reduction and 1 on the interval's lower bound.
    Rows without an interval (one model: `reduction_low` NaN) keep their expected reduction."""
    if not 0 <= risk_aversion <= 1:  # also refuses NaN
        raise ValueError(f"risk_aversion must be between 0 and 1, not {risk_aversion}")
    reduction = benefits["reduction"]
    shortfall = (reduction - benefits["reduction_low"]).fillna(0.0)
    return reduction - risk_aversion * shortfall


def allocate(
    benefits: pd.DataFrame,
    budget: float,
    max_per_district: int = 1,
    method: str = "exact",
    value: str = "reduction",
) -> pd.DataFrame:
    """Choose (district, program) rows maximising total `value` with total cost <= budget and
    at most `max_per_district` programs per district. `exact` solves the 0/1 program with
    scipy's MILP (HiGHS); `greedy` takes the best value/cost first. Rows with value <= 0 are
    never chosen. Returns the chosen rows, best value first."""
    if not budget >= 0:  # also refuses NaN
        raise ValueError(f"budget must be a number >= 0, not {budget}")
    if method not in {"exact", "greedy"}:
        raise ValueError(f"allocation method must be exact or greedy, not {method!r}")
    if max_per_district < 1:
        raise ValueError("max_per_district must be >= 1")
    useful = benefits[benefits[value] > 0].reset_index(drop=True)
    if useful.empty or budget == 0:
        return useful.iloc[:0]
    if method == "greedy":
        chosen = _greedy(useful, budget, max_per_district, value)
    else:
        chosen = _exact(useful, budget, max_per_district, value)
    plan = useful.iloc[chosen]
    return plan.sort_values(value, ascending=False, kind="stable").reset_index(drop=True)


def _greedy(rows: pd.DataFrame, budget: float, cap: int, value: str) -> list[int]:
    ratio = rows[value] / rows["cost"]
    spent, count, chosen = 0.0, {}, []
    for i in ratio.sort_values(ascending=False, kind="stable").index:
        district, cost = rows.at[i, "district_id"], rows.at[i, "cost"]
        if spent + cost <= budget + 1e-9 and count.get(district, 0) < cap:
            chosen.append(i)
            spent += cost
            count[district] = count.get(district, 0) + 1
    return chosen


def district_incidence(districts: np.ndarray) -> csc_array:
    """The (district x row) 0/1 matrix with a 1 where a row belongs to a district, sparse:
    one entry per row (CSC, the form HiGHS is given anyway). Dense, it needs districts x rows
    x 8 bytes: 3.7 GB for the 9,600-district region's 48,000 (district, program) rows."""
    unique, index = np.unique(districts, return_inverse=True)
    n = len(districts)
    return csc_array(
        (np.ones(n), index.astype(np.int32), np.arange(n + 1, dtype=np.int32)),
        shape=(len(unique), n),
    )


def _exact(rows: pd.DataFrame, budget: float, cap: int, value: str) -> list[int]:
    """0/1 MILP (HiGHS, costs scaled by the budget). HiGHS accepts constraint violations
    within its feasibility tolerance, so an overspending answer is solved again under a
    bound tightened by the excess; spending nothing is always feasible."""
    n = len(rows)
    costs = rows["cost"].to_numpy() / budget
    per_district = district_incidence(rows["district_id"].to_numpy())
    bound = 1.0
    for _ in range(5):
        constraints = [
            LinearConstraint(costs[None, :], -np.inf, bound),
            LinearConstraint(per_district, 0, cap),
        ]
        result = milp(
            -rows[value].to_numpy(),
            constraints=constraints,
            integrality=np.ones(n),
            bounds=Bounds(0, 1),
            options={"presolve": False},
        )
        if result.x is None:
            raise RuntimeError(f"allocation failed: {result.message}")
        chosen = np.flatnonzero(result.x > 0.5)
        excess = costs[chosen].sum() - 1.0
        if excess <= 1e-12:
            return list(chosen)
        bound -= 2 * excess
    raise RuntimeError("allocation kept overspending the budget; please report this")
