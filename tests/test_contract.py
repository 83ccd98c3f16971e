"""The results contract (reports/contract.py): RunSummary round trip, table column checks."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from reports.contract import (
    RESULT_TABLES,
    TABLES_BY_KEY,
    FoldInfo,
    ResultContractError,
    RunSummary,
    check_table,
)

SUMMARY = {
    "experiment": "rootcast",
    "config_name": "default",
    "data": {
        "source": "synthetic:x",
        "fingerprint": "abc",
        "synthetic": True,
        "n_districts": 3,
        "n_rows": 30,
        "periods": ["2001", "2010"],
    },
    "target": {"horizon": 1, "definition": "incidents in period t+1 >= 1"},
    "folds": [{"fold": 1, "test_period_index": 2009, "n_train": 20, "n_test": 3}],
    "features": ["poverty", "hist_rate"],
    "metrics": {"logistic": {"aupr": 0.5, "ece": None}, "xgboost": {"aupr": 0.6, "ece": 0.1}},
    "forecast_period": "2010",
    "evaluation": {"top_k": 30},
    "created": "2026-01-01T00:00:00+00:00",
    "main_model": "xgboost",
    "baselines": ["logistic"],
    "run_id": "r1",
    "model_uri": "models:/m/1",
    "registered_model": "m",
    "model_version": "1",
    "became_champion": True,
    "seconds": 1.5,
}


def test_summary_round_trips_through_json_unchanged() -> None:
    summary = RunSummary.from_dict(json.loads(json.dumps(SUMMARY)))
    assert summary.folds == [FoldInfo(1, 2009, 20, 3)]
    assert summary.data.synthetic and summary.horizon == 1
    assert summary.to_dict() == SUMMARY  # sections the run did not make stay out


def test_summary_keeps_keys_it_does_not_know() -> None:
    summary = RunSummary.from_dict({**SUMMARY, "from_a_newer_writer": [1, 2]})
    assert summary.to_dict()["from_a_newer_writer"] == [1, 2]


def test_summary_of_an_older_run_gets_the_main_model_and_baselines() -> None:
    old = {k: v for k, v in SUMMARY.items() if k not in {"main_model", "baselines"}}
    old["metrics"] = {**SUMMARY["metrics"], "oracle": {"aupr": 0.7}}
    summary = RunSummary.from_dict(old)
    assert (summary.main_model, summary.baselines) == ("xgboost", ["logistic"])


@pytest.mark.parametrize("key", ["data", "metrics", "forecast_period"])
def test_summary_without_a_required_key_names_it(key: str) -> None:
    broken = {k: v for k, v in SUMMARY.items() if k != key}
    with pytest.raises(ResultContractError, match=f"summary.json: missing key.*{key}"):
        RunSummary.from_dict(broken)


def test_summary_with_a_malformed_section_is_refused() -> None:
    with pytest.raises(ResultContractError, match="unexpected keyword"):
        RunSummary.from_dict({**SUMMARY, "target": {"horizon": 1, "lead": 2}})


def test_every_table_has_a_unique_file_and_key_columns() -> None:
    assert len({t.file for t in RESULT_TABLES}) == len(RESULT_TABLES)
    assert set(TABLES_BY_KEY) == {t.file.split(".")[0] for t in RESULT_TABLES}


def test_check_table_names_the_file_and_missing_columns() -> None:
    frame = pd.DataFrame({"district_id": ["a"], "period": ["2010"]})
    with pytest.raises(ResultContractError, match=r"forecast.csv: missing column\(s\) probability"):
        check_table("forecast", frame)
    desk = {"rank": 1, "forecast_period": "2011", "band": "moderate", "change": float("nan")}
    labels = {"district_name": "A", "admin1": "", "country": ""}
    assert check_table("forecast", frame.assign(probability=0.2, **desk, **labels)) is not None
    with pytest.raises(ResultContractError, match="no result table"):
        check_table("forecasts", frame)
