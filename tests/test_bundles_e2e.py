"""`targeting.max_per_district` > 1 end to end: a district's programs are valued jointly (a
bundle), plan.csv has one row per program with the bundle named, and the truth check grades
the plan and the oracle on the same joint effects."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from conftest import SMALL_REGION

import train


def test_training_with_two_programs_per_district_plans_bundles_graded_jointly(
    tmp_path: Path, fresh_store: str
) -> None:
    out = tmp_path / "out"
    overrides = ["--set", "targeting.max_per_district=2", "--set", "targeting.budget=60"]
    assert train.main(["--output", str(out), "-q", *SMALL_REGION, *overrides]) == 0
    plan = pd.read_csv(out / "plan.csv")
    per_district = plan.groupby("district_id")
    assert per_district.size().max() <= 2
    assert plan["bundle"].str.contains("+", regex=False).any()  # this region's plan has bundles
    for district, rows in per_district:  # the bundle names exactly the district's programs
        named = set(rows["bundle"].iloc[0].split("+"))
        assert named == set(rows["program"]), district
        assert rows["bundle"].nunique() == 1
    assert plan["cost"].sum() <= 60 + 1e-9
    assert plan["assumed_effect"].notna().all() and plan["note"].str.contains("assumed").all()
    rows = plan.reset_index()  # a district's rows together, districts by their joint reduction
    assert (
        rows.groupby("district_id")["index"].agg(lambda i: i.max() - i.min() + 1 == len(i))
    ).all()
    totals = plan.groupby("district_id", sort=False)["reduction"].sum()
    assert totals.is_monotonic_decreasing
    truth = json.loads((out / "summary.json").read_text())["truth_plan"]
    assert 0 < truth["ratio_to_oracle"] <= 1 + 1e-9  # no plan beats the oracle of the same rules
    assert truth["true_reduction_oracle"] >= truth["true_reduction_random"]
