"""Province (admin1) and country aggregates of a forecast, simulated jointly.

For each unit (every forecast district together, each country, each province) we report
P(at least one district with an incident) and the expected number of districts with an
incident with its 90 % interval. Districts are not independent: a naive product of
per-district probabilities overstates P(at least one) and understates the spread of the count.
Each of `n_draws` joint draws (seeded, vectorised) therefore:

1. picks one ensemble member for every district at once (model uncertainty is common: the
   final model and its district-bootstrap refits, `insight.refit_ensemble`'s `risk` rows);
2. adds one common period shock to every district's log-odds, drawn from `period_shocks`:
   per held-out period, the log-odds shift that makes the registered model's mean held-out
   forecast match that period's observed rate (a bad year lifts every district together);
3. draws one Bernoulli outcome per district.

Per unit: `p_any` = share of draws with at least one incident; `expected_districts` = mean
count, `expected_low` / `expected_high` its 5 % / 95 % quantiles; `p_any_independent` =
1 - prod(1 - p) of the final model's forecast (the naive figure, for comparison). Intervals
are model-based: they carry the ensemble's and the past periods' variation, nothing else.
Pure functions: no files, no MLflow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.sparse import csc_array
from scipy.special import expit, logit

EPS = 1e-6  # probabilities are clipped to [EPS, 1 - EPS] before taking log-odds
CHUNK_CELLS = 2_000_000  # draws x districts cells simulated at once (16 MB per float matrix)
LEVELS = ("all", "country", "admin1")
COLUMNS = (
    "level",
    "unit",
    "country",
    "n_districts",
    "p_any",
    "p_any_independent",
    "expected_districts",
    "expected_low",
    "expected_high",
)


def _log_odds(p) -> np.ndarray:
    return logit(np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS))


def period_shocks(predictions: pd.DataFrame, model: str) -> np.ndarray:
    """Per held-out period (in period order), the shift delta of every district's log-odds
    that makes `model`'s mean held-out forecast equal the observed rate of that period.
    A period with no (or only) incidents has its rate moved half a district inward so that
    the shift stays finite. Rows without a target or a forecast are left out."""
    rows = predictions.dropna(subset=["target", model])
    shocks = []
    for _, period in rows.groupby("period_index", sort=True):
        z = _log_odds(period[model])
        n = len(period)
        rate = float(np.clip(period["target"].mean(), 0.5 / n, 1 - 0.5 / n))
        gap = lambda d, z=z, rate=rate: float(expit(z + d).mean()) - rate  # noqa: E731
        shocks.append(brentq(gap, -50.0, 50.0))
    return np.asarray(shocks, dtype=float)


def _units(districts: pd.DataFrame) -> tuple[pd.DataFrame, csc_array]:
    """The units (level, unit, country) and the districts x units 0/1 membership matrix,
    sparse (a district is in at most three units: all, its country, its province), so it
    grows with the districts, not with districts x provinces. A level whose label is empty
    for a district leaves that district out of that level."""
    country = districts["country"].fillna("").astype(str).to_numpy()
    admin1 = districts["admin1"].fillna("").astype(str).to_numpy()
    n = len(districts)
    names = sorted(set(country) - {""})
    pairs = sorted({(c, a) for c, a in zip(country, admin1, strict=True) if a})
    units = [("all", "all", ""), *(("country", c, c) for c in names)]
    units += [("admin1", a, c) for c, a in pairs]
    of_country = {c: 1 + i for i, c in enumerate(names)}
    of_pair = {pair: 1 + len(names) + i for i, pair in enumerate(pairs)}
    rows, columns = [np.arange(n)], [np.zeros(n, dtype=np.int64)]
    for lookup, keys in ((of_country, country), (of_pair, zip(country, admin1, strict=True))):
        found = np.array([lookup.get(key, -1) for key in keys], dtype=np.int64)
        rows.append(np.flatnonzero(found >= 0))
        columns.append(found[found >= 0])
    row, col = np.concatenate(rows), np.concatenate(columns)
    membership = csc_array((np.ones(len(row)), (row, col)), shape=(n, len(units)))
    table = pd.DataFrame(units, columns=["level", "unit", "country"])
    return table, membership


def _draw_counts(
    z: np.ndarray,
    member: np.ndarray,
    shock: np.ndarray,
    membership: csc_array,
    rng: np.random.Generator,
    chunk_cells: int = CHUNK_CELLS,
) -> np.ndarray:
    """Per draw and unit, the number of districts with an incident: draw k's outcomes are
    Bernoulli(sigmoid(z[member[k]] + shock[k])), with uniforms taken from `rng` in draw order.
    Computed a block of draws at a time (about `chunk_cells` draws x districts cells), so the
    (draws x districts) matrices are never held at once; `rng` yields the same doubles in
    the same order whatever the block size, and counts of 0/1 values in float32 are exact
    integers, so the result does not depend on the blocking."""
    n_draws, n_districts = len(member), z.shape[1]
    step = max(1, chunk_cells // max(n_districts, 1))
    weights = membership.astype(np.float32)
    counts = np.empty((n_draws, membership.shape[1]), dtype=np.float32)
    for start in range(0, n_draws, step):
        block = slice(start, min(start + step, n_draws))
        p = expit(z[member[block]] + shock[block, None])  # block draws x districts
        outcomes = rng.random(p.shape) < p
        counts[block] = outcomes.astype(np.float32) @ weights
    return counts


def aggregate_risk(
    risk: np.ndarray,
    districts: pd.DataFrame,
    shocks: np.ndarray,
    n_draws: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """Joint-draw aggregates (see the module docstring) of `risk` (members x districts, the
    final model first; the columns in `districts`' row order), for `districts` (columns
    district_id, admin1, country) under the period `shocks` (log-odds; empty: no shock).
    One row per unit: COLUMNS, the 'all' row first, then countries, then provinces."""
    risk = np.atleast_2d(np.asarray(risk, dtype=float))
    if risk.shape[1] != len(districts):
        raise ValueError(f"risk has {risk.shape[1]} districts, the labels {len(districts)}")
    shocks = np.asarray(shocks, dtype=float)
    shocks = shocks if shocks.size else np.zeros(1)
    rng = np.random.default_rng(seed)
    member = rng.integers(risk.shape[0], size=n_draws)
    shock = rng.choice(shocks, size=n_draws)
    table, membership = _units(districts)
    counts = _draw_counts(_log_odds(risk), member, shock, membership, rng)  # draws x units
    independent = np.log1p(-np.clip(risk[0], 0, 1 - EPS)) @ membership
    table["n_districts"] = np.diff(membership.indptr).astype(np.int64)  # entries per unit
    table["p_any"] = (counts > 0).mean(axis=0)
    table["p_any_independent"] = -np.expm1(independent)
    table["expected_districts"] = counts.mean(axis=0)
    table["expected_low"] = np.quantile(counts, 0.05, axis=0, method="inverted_cdf")
    table["expected_high"] = np.quantile(counts, 0.95, axis=0, method="inverted_cdf")
    return table[list(COLUMNS)]
