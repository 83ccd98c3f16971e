"""The synthetic-truth comparison plans obey our plan's constraints; interval coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.targeting import ProgramCatalog, ProgramSpec
from models.truth import interval_coverage, naive_plan, oracle_plan, random_plan

PROGRAMS = ProgramCatalog(
    programs={
        "cheap": ProgramSpec(shift={"a": 1.0}, cost_per_district=1.0),
        "picky": ProgramSpec(shift={"b": 1.0}, cost_per_district=1.0, min_risk=0.5),
    }
)


def truth_frame(joint: list[float] | None = None) -> pd.DataFrame:
    """Three districts x two programs in `true_benefits` order (bundles, then programs
    stacked); with `joint`, the bundle `cheap+picky`'s true joint reduction per district."""
    keys = pd.DataFrame({"district_id": ["d1", "d2", "d3"], "period": [1, 1, 1]})
    true_risk = np.array([0.9, 0.2, 0.6])
    parts = [
        keys.assign(program="cheap", cost=1.0, true_risk=true_risk, reduction=[0.30, 0.05, 0.04]),
        keys.assign(program="picky", cost=1.0, true_risk=true_risk, reduction=[0.25, 0.50, 0.03]),
    ]
    if joint is not None:
        bundle = keys.assign(program="cheap+picky", cost=2.0, true_risk=true_risk, reduction=joint)
        parts.insert(0, bundle)
    return pd.concat(parts, ignore_index=True)


def chosen(plan: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(plan["district_id"], plan["program"], strict=True))


def test_oracle_plan_obeys_min_risk_on_the_true_risk_and_the_per_district_cap():
    truth = truth_frame()
    # d2's picky (0.50, the best) is ineligible: its true risk 0.2 < min_risk 0.5
    one = oracle_plan(truth, PROGRAMS, budget=2.0, max_per_district=1)
    assert chosen(one) == {("d1", "cheap"), ("d2", "cheap")}
    truth = truth_frame(joint=[0.45, 0.52, 0.06])  # both programs together: less than the sum
    two = oracle_plan(truth, PROGRAMS, budget=2.0, max_per_district=2)
    assert chosen(two) == {("d1", "cheap+picky")}  # 0.45 beats d1 cheap + d2 cheap (0.35)
    everything = chosen(oracle_plan(truth, PROGRAMS, 10.0, 2))
    assert everything == {("d1", "cheap+picky"), ("d2", "cheap"), ("d3", "cheap+picky")}
    # d2's bundle and picky are ineligible (picky's min_risk 0.5 > its true risk 0.2)


def test_oracle_plan_spreads_programs_when_their_joint_effect_saturates():
    truth = truth_frame(joint=[0.31, 0.52, 0.06])  # d1: picky adds almost nothing to cheap
    plan = oracle_plan(truth, PROGRAMS, budget=2.0, max_per_district=2)
    assert chosen(plan) == {("d1", "cheap"), ("d2", "cheap")}  # 0.35 > 0.31
    with pytest.raises(ValueError, match="max_programs"):  # additive singles would overstate
        oracle_plan(truth_frame(), PROGRAMS, budget=2.0, max_per_district=2)


def test_naive_plan_skips_districts_below_the_programs_min_risk():
    keys = pd.DataFrame({"district_id": ["d1", "d2", "d3", "d4"]})
    risk = np.array([0.3, 0.9, 0.55, 0.7])
    plan = naive_plan(keys, risk, PROGRAMS, budget=3.0, program="picky")
    assert plan["district_id"].tolist() == ["d2", "d4", "d3"]  # d1 (0.3) is not eligible
    assert naive_plan(keys, risk, PROGRAMS, 2.0, "picky")["district_id"].tolist() == ["d2", "d4"]
    assert len(naive_plan(keys, risk, PROGRAMS, 10.0, "cheap")) == 4


def test_random_plans_obey_min_risk_cap_and_budget():
    truth = truth_frame(joint=[0.45, 0.52, 0.06])  # bundle rows are not drawn
    risk = np.array([0.2, 0.8, 0.2])  # the model's risk: only d2 may get picky
    rng = np.random.default_rng(0)
    for cap in (1, 2):
        for _ in range(30):
            plan = random_plan(truth, risk, PROGRAMS, 3.0, cap, rng)
            assert plan["cost"].sum() <= 3.0
            assert plan.groupby("district_id").size().max() <= cap
            picky = plan[plan["program"] == "picky"]
            assert set(picky["district_id"]) <= {"d2"}
    plans = [chosen(random_plan(truth, risk, PROGRAMS, 10.0, 2, rng)) for _ in range(5)]
    assert all(
        p == {("d1", "cheap"), ("d2", "cheap"), ("d3", "cheap"), ("d2", "picky")} for p in plans
    )


def test_interval_coverage_counts_inside_on_bound_and_ignores_missing_intervals():
    true = np.array([0.5, 0.1, 0.9, 0.4])
    point = np.array([0.5, 0.2, 0.5, 0.4])
    low = np.array([0.4, 0.2, 0.4, np.nan])
    high = np.array([0.6, 0.3, 0.8, np.nan])
    out = interval_coverage(true, point, low, high, "risk")
    assert out == {"risk_coverage": 1 / 3, "risk_on_bound": 1.0, "risk_rows": 3.0}
    none = interval_coverage(true, point, np.full(4, np.nan), np.full(4, np.nan), "x")
    assert np.isnan(none["x_coverage"]) and none["x_rows"] == 0


def test_oracle_with_one_program_needs_no_bundles_for_several_per_district():
    one = ProgramCatalog(programs={"cheap": PROGRAMS.programs["cheap"]})
    truth = truth_frame()
    plan = oracle_plan(truth[truth["program"] == "cheap"], one, budget=2.0, max_per_district=2)
    assert chosen(plan) == {("d1", "cheap"), ("d2", "cheap")}
