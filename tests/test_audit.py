"""Disparity audit (reports/audit.py) with protected columns that are partly or wholly missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.audit import disparity_audit
from reports.contract import RunSummary
from reports.results import Results

N = 12  # districts D00..D11; D10 and D11 have no protected value (like AJK/GB: no census rows)


@pytest.fixture
def results() -> Results:
    ids = [f"D{i:02d}" for i in range(N)]
    share = np.r_[np.linspace(0.0, 0.9, N - 2), np.nan, np.nan]
    panel = pd.DataFrame(
        {"district_id": ids, "period": "2021", "incidents": 0, "minority_share": share}
    )
    forecast = pd.DataFrame({"district_id": ids, "probability": np.linspace(0.1, 0.6, N)})
    predictions = pd.DataFrame(
        {
            "district_id": ids * 2,
            "period": ["2019"] * N + ["2020"] * N,
            "target": [0.0, 1.0] * N,
            "xgboost": 0.5,
        }
    )
    plan = pd.DataFrame(
        {"district_id": ["D09", "D11", "D00"], "program": "education", "cost": [1.0, 2.0, 1.0]}
    )
    return Results(
        folder=Path("."),
        summary=RunSummary.from_dict(
            {
                "experiment": "rootcast",
                "config_name": "test",
                "data": {
                    "source": "test",
                    "fingerprint": "0",
                    "synthetic": True,
                    "n_districts": N,
                    "n_rows": N,
                    "periods": ["2021", "2021"],
                },
                "target": {"horizon": 1, "definition": "incidents in period t+1 >= 1"},
                "folds": [],
                "features": [],
                "metrics": {},
                "forecast_period": "2021",
            }
        ),
        tables={"panel": panel, "forecast": forecast, "predictions": predictions, "plan": plan},
        catalog={"minority_share": {"domain": "demography", "protected": True}},
    )


def test_districts_without_a_value_are_left_out_and_counted(results: Results) -> None:
    (audit,) = disparity_audit(results)
    rows = pd.DataFrame(audit["rows"])
    assert rows["districts"].sum() == N - 2 and list(rows["group"]) == [
        f"Q{i}" for i in range(1, 6)
    ]
    assert rows["risk_share"].sum() == pytest.approx(1.0)
    assert rows["cost_share"].sum() == pytest.approx(1.0)  # of the cost spent where a value exists
    assert rows["planned"].sum() == 2  # D11 is planned but has no value
    assert "2 of 12 districts have no minority_share value" in audit["note"]
    assert "spends 50% of its budget there" in audit["note"]
    assert not any(pd.isna(v) for r in audit["rows"] for v in r.values())


def test_a_column_without_any_value_is_skipped(results: Results) -> None:
    results.panel["minority_share"] = np.nan
    assert disparity_audit(results) is None
    results.panel["other_share"] = np.linspace(0, 1, N)
    results.catalog["other_share"] = {"domain": "demography", "protected": True}
    assert [a["column"] for a in disparity_audit(results)] == ["other_share"]


def test_complete_column_note_says_nothing_about_missing_values(results: Results) -> None:
    results.panel["minority_share"] = np.linspace(0, 1, N)
    (audit,) = disparity_audit(results)
    assert "have no minority_share value" not in audit["note"]
    assert pd.DataFrame(audit["rows"])["districts"].sum() == N
