"""forecast.csv and plan.csv as a desk officer opens them (reports/desk.py): names, admin1,
country, rank, band, change since the previous forecast, rounded values and the period the
forecast is for; and the command-line fixes that came with them (report_cli --force, MLflow's
INFO lines, download names)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import report_cli
from features.labels import district_labels, period_after, previous_period
from ingest.download import parse_args as download_args
from reports.contract import DECIMALS, RISK_BANDS, TABLES_BY_KEY, check_table, risk_band
from reports.desk import aggregates_table, desk_tables, forecast_table, plan_table
from reports.results import load_results

ROOT = Path(__file__).resolve().parents[1]


def _panel(periods=("2020", "2021", "2022")) -> pd.DataFrame:
    rows = [
        {"district_id": d, "period": p, "incidents": 0, "district_name": n, "admin1": a}
        for p in periods
        for d, n, a in (("D1", "Alpha", "North"), ("D2", "Beta", "South"), ("D3", "Gamma", None))
    ]
    return pd.DataFrame(rows).assign(country="Testland")


def _forecast(period: str = "2022") -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "district_id": ["D1", "D2", "D3", "D4"],  # D4 is not in the panel
            "period": period,
            "probability": [0.05, 0.61234567, 0.3, 0.61234567],
            "risk_low": rng.uniform(0, 0.01, 4),
            "risk_high": [0.5, 0.7, 0.4, 0.8],
        }
    )


def _decimals_at_most(values: pd.Series, places: int) -> bool:
    finite = values.dropna().astype(float)
    return bool(np.allclose(finite, finite.round(places), rtol=0, atol=1e-12))


def test_risk_bands_have_the_stated_thresholds() -> None:
    assert [name for name, _ in RISK_BANDS] == ["low", "moderate", "high", "very high"]
    p = pd.Series([0.0, 0.0999, 0.1, 0.2999, 0.3, 0.5999, 0.6, 1.0, np.nan])
    expected = ["low", "low", "moderate", "moderate", "high", "high", "very high", "very high", ""]
    assert risk_band(p).tolist() == expected


def test_labels_and_periods_are_shared_helpers() -> None:
    labels = district_labels(_panel(), ["D2", "D3", "D4"])
    assert labels.loc["D2"].tolist() == ["Beta", "South", "Testland"]
    assert labels.loc["D3", "admin1"] == ""  # missing in the panel: empty, not "nan"
    assert labels.loc["D4"].tolist() == ["D4", "", ""]  # unknown district: its id
    assert district_labels(None, ["D1"]).loc["D1"].tolist() == ["D1", "", ""]
    assert period_after("2022", 1) == "2023" and period_after("2022-11", 3) == "2023-02"
    assert previous_period([2020, 2022, 2021], "2022") == "2021"
    assert previous_period(["2020", "2021"], "2020") is None
    assert previous_period({2021, 2020}, "2021") == "2020"


def test_forecast_table_names_ranks_bands_rounds_and_dates_the_forecast() -> None:
    predictions = pd.DataFrame(
        {"district_id": ["D1", "D2", "D3"], "period": "2021", "stack": [0.1, 0.5, 0.3]}
    ).assign(xgboost=0.9)
    table = forecast_table(_forecast(), _panel(), 1, predictions, "stack")
    assert check_table("forecast", table) is table
    assert table["probability"].is_monotonic_decreasing
    top = table.iloc[0]
    assert top["rank"] == 1 and table["rank"].tolist() == [1, 1, 3, 4]  # ties share a rank
    assert table.set_index("district_id").loc["D2", "district_name"] == "Beta"
    assert table.set_index("district_id").loc["D4", "district_name"] == "D4"
    assert (table["period"] == "2022").all() and (table["forecast_period"] == "2023").all()
    assert table.set_index("district_id")["band"].to_dict() == {
        "D1": "low",
        "D2": "very high",
        "D3": "high",
        "D4": "very high",
    }
    for column in ("probability", "risk_low", "risk_high", "change"):
        assert _decimals_at_most(table[column], DECIMALS), column
    # change since the registered model's (here the stack's) forecast from 2021
    by_id = table.set_index("district_id")
    assert by_id.loc["D2", "previous_probability"] == 0.5
    assert by_id.loc["D2", "change"] == pytest.approx(0.6123 - 0.5, abs=1e-12)
    assert np.isnan(by_id.loc["D4", "change"])  # no earlier forecast for it


def test_forecast_table_without_a_previous_forecast_and_for_months() -> None:
    panel = _panel(("2021-11", "2021-12")).drop(columns=["district_name", "admin1", "country"])
    table = forecast_table(_forecast("2021-12"), panel, 2)
    assert (table["forecast_period"] == "2022-02").all()
    assert table["change"].isna().all()  # no predictions: no change, and no error
    assert table.set_index("district_id").loc["D1", "district_name"] == "D1"
    assert (table["admin1"] == "").all() and (table["country"] == "").all()


def test_plan_table_carries_the_forecast_rank_and_its_own_band() -> None:
    forecast = forecast_table(_forecast(), _panel(), 1)
    plan = pd.DataFrame(
        {
            "district_id": ["D3", "D1"],
            "period": "2022",
            "program": "livelihoods",
            "cost": 1.5,
            "risk": [0.3, 0.05],
            "reduction": [0.0412345, 0.01],
            "reduction_low": [0.01, 0.0],
            "reduction_high": [0.06, 0.02],
        }
    )
    table = plan_table(plan, forecast, _panel(), 1)
    assert check_table("plan", table) is table
    assert table["district_id"].tolist() == ["D3", "D1"]  # the plan's order
    assert table["rank"].tolist() == [3, 4] and table["band"].tolist() == ["high", "low"]
    assert table["district_name"].tolist() == ["Gamma", "Alpha"]
    assert table["reduction"].tolist()[0] == 0.0412
    assert (table["forecast_period"] == "2023").all()


def test_aggregates_table_dates_the_units_and_writes_whole_counts(tmp_path: Path) -> None:
    aggregates = pd.DataFrame(
        {
            "level": ["all", "country"],
            "unit": ["all", "Testland"],
            "country": ["", "Testland"],
            "n_districts": np.array([100.0, 60.0]),
            "p_any": [0.987654321, 0.5],
            "p_any_independent": [0.99999, 0.612345678],
            "expected_districts": [12.3456789, 7.0],
            "expected_low": np.array([8.0, 4.0], dtype=np.float32),
            "expected_high": [17.0, 11.0],
        }
    )
    tables = desk_tables({"forecast": _forecast("2021-12"), "aggregates": aggregates}, None, 2)
    table = tables["aggregates"]
    assert check_table("aggregates", table) is table
    assert table.columns[:5].tolist() == ["level", "unit", "country", "period", "forecast_period"]
    assert (table["period"] == "2021-12").all() and (table["forecast_period"] == "2022-02").all()
    assert table["p_any"].tolist() == [0.9877, 0.5]
    assert table["expected_districts"].tolist() == [12.3457, 7.0]
    (tmp_path / "a.csv").write_text(table.to_csv(index=False))
    lines = (tmp_path / "a.csv").read_text().splitlines()
    assert lines[1] == "all,all,,2021-12,2022-02,100,0.9877,1.0,12.3457,8,17"
    assert aggregates_table(aggregates, 2022, 1)["forecast_period"].tolist() == ["2023"] * 2


def test_training_run_writes_desk_csvs_readers_still_read(champion_run: dict) -> None:
    out, summary = champion_run["out"], champion_run["summary"]
    forecast = pd.read_csv(out / "forecast.csv", keep_default_na=False, na_values=[""])
    plan = pd.read_csv(out / "plan.csv", keep_default_na=False, na_values=[""])
    panel = pd.read_parquet(out / "panel.parquet")
    predictions = pd.read_parquet(out / "predictions.parquet")
    check_table("forecast", forecast)
    check_table("plan", plan)
    assert forecast["rank"].tolist() == sorted(forecast["rank"]) and forecast["rank"].iloc[0] == 1
    assert (forecast["forecast_period"] == forecast["period"] + summary["target"]["horizon"]).all()
    assert set(forecast["band"]) <= {name for name, _ in RISK_BANDS}
    for column in ("probability", "risk_low", "risk_high", "change"):
        assert _decimals_at_most(forecast[column], DECIMALS), column
    latest = panel.drop_duplicates("district_id", keep="last").set_index("district_id")
    by_id = forecast.set_index("district_id")
    assert (by_id["district_name"] == latest["district_name"].reindex(by_id.index)).all()
    assert (by_id["admin1"] == latest["admin1"].reindex(by_id.index)).all()
    # change: against the registered model's held-out forecast from the period before
    before = predictions[predictions["period"] == forecast["period"].iloc[0] - 1]
    earlier = before.set_index("district_id")[summary["main_model"]].reindex(by_id.index)
    assert earlier.notna().all()
    assert np.allclose(by_id["change"], by_id["probability"] - earlier.round(DECIMALS), atol=1e-9)
    # plan rows carry the district's forecast rank; the parquet tables keep full precision
    assert (plan["rank"] == plan["district_id"].map(by_id["rank"])).all()
    assert not _decimals_at_most(predictions[summary["main_model"]], DECIMALS)
    res = load_results(out)  # the report's reader
    assert res.plan is not None and res.forecast["period"].iloc[0] == str(forecast["period"][0])


def test_report_cli_refuses_to_overwrite_without_force(
    champion_store: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_id = champion_store["summary"]["run_id"]
    out = tmp_path / "report.html"
    out.write_text("the training run's report")
    assert report_cli.main(["--run-id", run_id, "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == "the training run's report"
    assert report_cli.main(["--run-id", run_id, "--out", str(out), "--force"]) == 0
    assert run_id in out.read_text()


def test_report_cli_default_file_is_the_one_its_help_names(
    champion_store: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_id = champion_store["summary"]["run_id"]
    assert report_cli.main(["--model", "rootcast-h1@champion"]) == 0
    assert (tmp_path / "output" / "reports" / f"report-{run_id[:8]}.html").exists()
    assert report_cli.main(["--model", "rootcast-h1@champion"]) == 2  # there now: refused


def test_report_cli_keeps_mlflow_info_lines_off_unless_verbose(tmp_path: Path) -> None:
    """On a new store MLflow logs the creation of its tables at INFO: only -v shows it."""

    def run(*extra: str, store: str) -> str:
        command = [sys.executable, "-m", "experiments.report_cli", "--model", "m@champion"]
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / store}"}
        env.pop("MLFLOW_LOGGING_LEVEL", None)
        done = subprocess.run(
            [*command, "--out", str(tmp_path / "r.html"), *extra],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2 and "error: " in done.stderr  # no such model
        return done.stdout + done.stderr

    assert " INFO " not in run(store="quiet.db")
    assert "Creating initial MLflow database tables" in run("-v", store="loud.db")


def test_download_accepts_the_hyphenated_source_names() -> None:
    assert download_args(["ucdp-ged"]).source == "ucdp_ged"
    assert download_args(["geoboundaries-adm2", "--iso3", "AFG"]).source == "geoboundaries_adm2"
    with pytest.raises(SystemExit):
        download_args(["ucdp"])


def test_readme_names_the_commands_and_files_as_the_code_does() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "experiments.download" not in readme
    for column in TABLES_BY_KEY["forecast"].columns:
        assert f"`{column}`" in readme, column
    assert "--force" in readme
