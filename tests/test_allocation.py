"""Budgeted allocation of (district, program) pairs: budget, caps, optimality."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from models.targeting import allocate, district_incidence

# --- allocate -------------------------------------------------------------------------------


def random_benefits(seed: int, n: int = 8, n_districts: int = 3) -> pd.DataFrame:
    """Random (district, program) rows; some with reduction <= 0."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "district_id": rng.choice([f"d{k}" for k in range(n_districts)], size=n),
            "program": [f"p{k}" for k in range(n)],
            "cost": rng.uniform(0.5, 3.0, size=n).round(2),
            "reduction": rng.uniform(-0.05, 0.3, size=n),
        }
    )


def brute_force_best(rows: pd.DataFrame, budget: float, cap: int) -> float:
    """Best total reduction over every subset within budget and the per-district cap."""
    best = 0.0
    for mask in itertools.product([False, True], repeat=len(rows)):
        chosen = rows[list(mask)]
        if chosen["cost"].sum() > budget or (chosen["district_id"].value_counts() > cap).any():
            continue
        best = max(best, chosen["reduction"].sum())
    return best


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_allocation_never_exceeds_the_budget(method: str):
    for seed in range(30):
        rows = random_benefits(seed, n=15, n_districts=6)
        budget = float(np.random.default_rng(1000 + seed).uniform(0, rows["cost"].sum()))
        plan = allocate(rows, budget, max_per_district=2, method=method)
        assert plan["cost"].sum() <= budget + 1e-9, seed


@pytest.mark.parametrize("method", ["exact", "greedy"])
@pytest.mark.parametrize("cap", [1, 2])
def test_allocation_respects_max_per_district(method: str, cap: int):
    for seed in range(10):
        rows = random_benefits(seed, n=15, n_districts=3).assign(reduction=lambda d: d.cost)
        plan = allocate(rows, budget=1e6, max_per_district=cap, method=method)
        counts = plan["district_id"].value_counts()
        assert (counts <= cap).all(), seed
        # the budget does not bind, so every district with enough rows fills its cap
        available = rows["district_id"].value_counts().clip(upper=cap)
        assert counts.sort_index().to_dict() == available.sort_index().to_dict(), seed


@pytest.mark.parametrize("cap", [1, 2])
def test_exact_allocation_matches_brute_force_enumeration(cap: int):
    for seed in range(8):
        rows = random_benefits(seed)
        budget = float(rows["cost"].sum() * 0.4)
        plan = allocate(rows, budget, max_per_district=cap, method="exact")
        assert plan["reduction"].sum() == pytest.approx(
            brute_force_best(rows, budget, cap), rel=1e-9, abs=1e-12
        ), seed


def test_greedy_allocation_is_never_better_than_exact():
    for seed in range(30):
        rows = random_benefits(seed, n=12, n_districts=4)
        budget = float(rows["cost"].sum() * 0.3)
        greedy = allocate(rows, budget, method="greedy")["reduction"].sum()
        exact = allocate(rows, budget, method="exact")["reduction"].sum()
        assert greedy <= exact + 1e-12, seed


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_allocation_never_chooses_rows_without_positive_reduction(method: str):
    rows = pd.DataFrame(
        {
            "district_id": ["d1", "d2", "d3", "d4"],
            "program": ["p"] * 4,
            "cost": [1.0, 1.0, 1.0, 1.0],
            "reduction": [0.2, 0.0, -0.1, 0.1],
        }
    )
    plan = allocate(rows, budget=100.0, method=method)
    assert sorted(plan["district_id"]) == ["d1", "d4"]


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_allocation_plan_is_ordered_by_reduction(method: str):
    plan = allocate(random_benefits(3, n=12, n_districts=12), budget=8.0, method=method)
    assert len(plan) > 1
    assert plan["reduction"].is_monotonic_decreasing
    assert plan.index.equals(pd.RangeIndex(len(plan)))


def test_allocation_can_maximise_another_value_column():
    rows = pd.DataFrame(
        {
            "district_id": ["d1", "d2"],
            "program": ["p", "p"],
            "cost": [1.0, 1.0],
            "reduction": [0.3, 0.2],
            "reduction_low": [-0.1, 0.15],
        }
    )
    plan = allocate(rows, budget=1.0, value="reduction_low")
    assert plan["district_id"].tolist() == ["d2"]


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_allocation_with_zero_budget_is_empty(method: str):
    rows = random_benefits(0)
    plan = allocate(rows, budget=0.0, method=method)
    assert plan.empty
    assert list(plan.columns) == list(rows.columns)


def test_allocation_with_negative_budget_is_rejected():
    with pytest.raises(ValueError, match="budget"):
        allocate(random_benefits(0), budget=-1.0)


def test_allocation_with_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method"):
        allocate(random_benefits(0), budget=5.0, method="random")


def test_allocation_rejects_unknown_method_even_with_zero_budget():
    with pytest.raises(ValueError, match="method"):
        allocate(random_benefits(0), budget=0.0, method="random")


def test_exact_allocation_does_not_overspend_within_solver_tolerance():
    rows = pd.DataFrame(
        {
            "district_id": ["d1", "d2", "d3"],
            "program": ["p"] * 3,
            "cost": [1.0, 1.0, 1.0],
            "reduction": [0.3, 0.2, 0.1],
        }
    )
    budget = 2.0 - 1e-6
    plan = allocate(rows, budget, method="exact")
    assert plan["cost"].sum() <= budget + 1e-9


def test_exact_allocation_succeeds_when_budget_is_just_below_a_reachable_total():
    rows = pd.DataFrame(
        {
            "district_id": ["d1", "d2", "d3"],
            "program": ["p"] * 3,
            "cost": [10.0, 10.0, 10.0],
            "reduction": [0.3, 0.2, 0.1],
        }
    )
    plan = allocate(rows, budget=20.0 - 1e-5, method="exact")
    assert plan["district_id"].tolist() == ["d1"]


def test_sparse_district_constraint_is_the_dense_one():
    """The per-district cap's matrix is built sparse (one entry per row) to bound memory; it
    holds exactly the dense (district x row) 0/1 matrix it replaced, districts sorted."""
    rows = random_benefits(4, n=40, n_districts=7)
    districts, index = np.unique(rows["district_id"].to_numpy(), return_inverse=True)
    dense = np.zeros((len(districts), len(rows)))
    dense[index, np.arange(len(rows))] = 1.0
    sparse = district_incidence(rows["district_id"].to_numpy())
    assert sparse.shape == dense.shape
    np.testing.assert_array_equal(sparse.toarray(), dense)
