"""Province and country aggregates (models/aggregates.py): against a plain simulation, the
effect of dependence, the period shocks, and what a training run writes and reports."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special

from models.aggregates import _draw_counts, _log_odds, _units, aggregate_risk, period_shocks

DISTRICTS = pd.DataFrame(
    {
        "district_id": ["a", "b", "c", "d", "e"],
        "admin1": ["North", "North", "South", "South", "Coast"],
        "country": ["X", "X", "X", "X", "Y"],
    }
)
RISK = np.array(
    [
        [0.10, 0.20, 0.05, 0.30, 0.15],
        [0.12, 0.25, 0.04, 0.20, 0.10],
        [0.08, 0.18, 0.07, 0.35, 0.20],
    ]
)


def expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def brute_force(risk, districts, shocks, n_draws, seed) -> dict:
    """The same draws as aggregate_risk (same generator calls, same order), simulated with
    plain loops: {(level, unit): (p_any, mean count, counts)}."""
    rng = np.random.default_rng(seed)
    member = rng.integers(risk.shape[0], size=n_draws)
    shock = rng.choice(shocks if len(shocks) else np.zeros(1), size=n_draws)
    uniform = rng.random((n_draws, risk.shape[1]))
    units = {("all", "all"): list(range(len(districts)))}
    for i, row in enumerate(districts.itertuples()):
        units.setdefault(("country", row.country), []).append(i)
        units.setdefault(("admin1", row.admin1), []).append(i)
    counts = {unit: [] for unit in units}
    for draw in range(n_draws):
        outcome = []
        for i in range(risk.shape[1]):
            p = min(max(risk[member[draw], i], 1e-6), 1 - 1e-6)
            p = expit(math.log(p / (1 - p)) + shock[draw])
            outcome.append(uniform[draw, i] < p)
        for unit, members in units.items():
            counts[unit].append(sum(outcome[i] for i in members))
    return {
        unit: (sum(c > 0 for c in cs) / n_draws, sum(cs) / n_draws, cs)
        for unit, cs in counts.items()
    }


def test_matches_a_brute_force_simulation() -> None:
    shocks = np.array([-0.8, 0.1, 0.6])
    table = aggregate_risk(RISK, DISTRICTS, shocks, n_draws=600, seed=3)
    expected = brute_force(RISK, DISTRICTS, shocks, 600, 3)
    assert len(table) == len(expected) == 1 + 2 + 3
    assert list(table["level"]) == ["all", "country", "country", "admin1", "admin1", "admin1"]
    for row in table.itertuples():
        p_any, mean, counts = expected[(row.level, row.unit)]
        assert row.p_any == pytest.approx(p_any)
        assert row.expected_districts == pytest.approx(mean)
        ordered = sorted(counts)
        assert row.expected_low == ordered[math.ceil(0.05 * len(counts)) - 1]
        assert row.expected_high == ordered[math.ceil(0.95 * len(counts)) - 1]
        members = DISTRICTS.index[
            (DISTRICTS[row.level] == row.unit) if row.level != "all" else DISTRICTS.index >= 0
        ]
        assert row.n_districts == len(members)
        assert row.p_any_independent == pytest.approx(1 - np.prod(1 - RISK[0, members]))
    assert table.set_index("unit").loc["X", "country"] == "X"


def test_one_member_and_no_shock_is_the_independent_product() -> None:
    table = aggregate_risk(RISK[:1], DISTRICTS, np.zeros(0), n_draws=40_000, seed=1)
    for row in table.itertuples():
        p = row.p_any_independent
        assert abs(row.p_any - p) < 4 * math.sqrt(p * (1 - p) / 40_000) + 1e-9
    total = table.set_index("level").loc["all"]
    assert total["expected_districts"] == pytest.approx(RISK[0].sum(), abs=0.02)


def test_a_common_shock_lowers_p_any_below_the_independent_product() -> None:
    """Districts that move together have fewer draws with 'at least one': P(any) is below
    the independent product of the same marginal probabilities, and the count spreads."""
    shocks = np.array([-3.0, 3.0])
    table = aggregate_risk(RISK[:1], DISTRICTS, shocks, n_draws=40_000, seed=2).set_index("unit")
    z = np.log(RISK[0] / (1 - RISK[0]))
    marginal = np.mean([1 / (1 + np.exp(-(z + s))) for s in shocks], axis=0)
    independent = 1 - np.prod(1 - marginal)
    assert table.loc["all", "p_any"] < independent - 0.05
    assert table.loc["all", "expected_districts"] == pytest.approx(marginal.sum(), abs=0.03)
    calm = aggregate_risk(RISK[:1], DISTRICTS, np.zeros(0), n_draws=40_000, seed=2)
    spread = table.loc["all", "expected_high"] - table.loc["all", "expected_low"]
    calm_spread = calm.iloc[0]["expected_high"] - calm.iloc[0]["expected_low"]
    assert spread > calm_spread


def test_districts_without_labels_only_count_in_all() -> None:
    blank = DISTRICTS.assign(admin1="", country="")
    table = aggregate_risk(RISK, blank, np.zeros(0), n_draws=100, seed=0)
    assert list(table["level"]) == ["all"] and table.loc[0, "n_districts"] == 5


def test_sparse_membership_is_the_dense_one_of_each_unit() -> None:
    """The sparse districts x units matrix has a 1 exactly where the unit's definition holds
    (empty labels and a province named like a country included)."""
    districts = pd.DataFrame(
        {
            "district_id": list("abcdefg"),
            "admin1": ["North", "North", "", "X", "South", None, "X"],
            "country": ["X", "X", "X", "", "Y", "Y", "Y"],
        }
    )
    table, membership = _units(districts)
    country = districts["country"].fillna("").to_numpy()
    admin1 = districts["admin1"].fillna("").to_numpy()
    expected = [np.ones(7, dtype=bool)]
    for row in table.iloc[1:].itertuples():
        if row.level == "country":
            expected.append(country == row.unit)
        else:
            expected.append((country == row.country) & (admin1 == row.unit))
    np.testing.assert_array_equal(membership.toarray(), np.column_stack(expected).astype(float))
    assert list(table["unit"]) == ["all", "X", "Y", "X", "North", "South", "X"]


@pytest.mark.parametrize("chunk_cells", [1, 37, 100, 10**9])
def test_draws_simulated_in_blocks_give_the_counts_of_one_block(chunk_cells: int) -> None:
    """The joint draws are simulated a block of draws at a time to bound memory; the counts
    equal the all-at-once simulation (one draws x districts matrix, one call to the
    generator) exactly, whatever the block size."""
    gen = np.random.default_rng(11)
    n = 37
    districts = pd.DataFrame(
        {
            "district_id": [f"d{i}" for i in range(n)],
            "admin1": gen.choice(["p", "q", "r", ""], size=n),
            "country": gen.choice(["X", "Y"], size=n),
        }
    )
    z = _log_odds(gen.uniform(0.01, 0.6, size=(4, n)))
    _, membership = _units(districts)
    rng = np.random.default_rng(5)
    member, shock = rng.integers(4, size=250), rng.choice([-0.7, 0.0, 0.9], size=250)
    state = rng.bit_generator.state
    p = special.expit(z[member] + shock[:, None])
    dense = membership.toarray().astype(np.float32)
    at_once = (rng.random(p.shape) < p).astype(np.float32) @ dense
    rng.bit_generator.state = state
    blocks = _draw_counts(z, member, shock, membership, rng, chunk_cells)
    np.testing.assert_array_equal(blocks, at_once)


def test_period_shocks_recover_a_known_shift() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    z = rng.normal(-1.5, 1.0, size=n)
    rows = []
    for index, shift in enumerate([-0.7, 0.0, 0.9]):
        target = rng.random(n) < 1 / (1 + np.exp(-(z + shift)))
        rows.append(
            pd.DataFrame(
                {
                    "period": str(2000 + index),
                    "period_index": index,
                    "target": target.astype(float),
                    "model_a": 1 / (1 + np.exp(-z)),
                }
            )
        )
    shocks = period_shocks(pd.concat(rows), "model_a")
    assert shocks == pytest.approx([-0.7, 0.0, 0.9], abs=0.1)


def test_period_shocks_stay_finite_without_incidents() -> None:
    frame = pd.DataFrame(
        {"period_index": [0, 0, 1, 1], "target": [0.0, 0.0, 1.0, 0.0], "m": [0.2, 0.3, 0.4, 0.1]}
    )
    shocks = period_shocks(frame, "m")
    assert np.isfinite(shocks).all() and shocks[0] < 0


def test_a_training_run_writes_and_reports_the_aggregates(champion_report: dict) -> None:
    out = champion_report["out"]
    table = pd.read_csv(out / "aggregates.csv", keep_default_na=False, na_values=[""])
    forecast = pd.read_csv(out / "forecast.csv")
    for column in ("p_any", "p_any_independent"):
        assert table[column].between(0, 1).all()
    assert (table["expected_low"] <= table["expected_high"]).all()
    assert (table["expected_low"] <= table["expected_districts"] + 1e-9).all()
    big = table[table["n_districts"] >= 10]
    assert (big["expected_districts"] <= big["expected_high"] + 1e-9).all()
    total = table[table["level"] == "all"].iloc[0]
    assert total["n_districts"] == len(forecast)
    # dated like forecast.csv; whole counts written as integers
    assert (table["period"] == forecast["period"].iloc[0]).all()
    assert (table["forecast_period"] == forecast["forecast_period"].iloc[0]).all()
    for column in ("n_districts", "expected_low", "expected_high"):
        assert pd.api.types.is_integer_dtype(table[column]), column
    assert total["expected_districts"] == pytest.approx(forecast["probability"].sum(), rel=0.3)
    text = champion_report["text"]
    assert 'id="aggregates-table"' in text and 'id="aggregates-note"' in text
    units = table.loc[table["level"] != "all", "unit"]
    assert [u for u in units if str(u) not in text] == []
