"""`train.py predict`: score a user's panel with a registered model (experiments/predict.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import train
from experiments.predict import preview_columns


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The champion run's synthetic region (80 districts, 10 periods, seed 7) as user files,
    plus one period more (what a user brings a year later)."""
    out = tmp_path_factory.mktemp("region")
    args = ["synth", "--out", str(out), "--districts", "80", "--periods", "11", "--seed", "7"]
    assert train.main([*args, "--hold-out", "1"]) == 0
    return out


def _predict(region: Path, out: Path, *extra: str) -> int:
    return train.main(["predict", "--data", str(region / "panel.csv"), "--out", str(out), *extra])


def test_predict_scores_the_latest_period_of_every_district(
    champion_store: dict, region: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "scores.csv"
    assert _predict(region, out, "--geometry", str(region / "geometry.geojson"), "-q") == 0
    table = pd.read_csv(out)
    panel = pd.read_csv(region / "panel.csv")
    assert len(table) == panel["district_id"].nunique() == 80
    assert set(table["period"].astype(str)) == {str(panel["period"].max())}
    assert set(table["forecast_period"].astype(str)) == {str(panel["period"].max() + 1)}
    assert table["probability"].between(0, 1).all()
    assert table["rank"].tolist() == sorted(table["rank"])
    assert {"district_name", "admin1", "country", "band"} <= set(table.columns)
    # no previous forecast here: no empty previous_probability / change columns
    assert not {"previous_probability", "change"} & set(table.columns)
    assert table.notna().any().all()
    printed = capsys.readouterr().out
    assert "80 districts scored" in printed
    top = table.iloc[0]  # the preview names the districts, not only their ids
    assert f"{top['district_id']} {top['district_name']} {top['admin1']}" in " ".join(
        printed.split()
    )


def test_predict_preview_shows_names_only_where_the_panel_has_them() -> None:
    table = pd.DataFrame(
        {
            "rank": [1, 2],
            "district_id": ["D1", "D2"],
            "district_name": ["D1", "D2"],  # no names in the panel: the id stands in
            "admin1": ["", ""],
            "forecast_period": [2023, 2023],
            "probability": [0.5, 0.2],
            "band": ["high", "moderate"],
        }
    )
    base = ["rank", "district_id", "forecast_period", "probability", "band"]
    assert preview_columns(table) == base
    named = table.assign(district_name=["Alpha", "Beta"], admin1=["North", ""])
    assert preview_columns(named) == [*base[:2], "district_name", "admin1", *base[2:]]


def test_predict_on_the_training_panel_reproduces_the_run_forecast(
    champion_store: dict, tmp_path: Path
) -> None:
    """Same model, same rows: the run's forecast.csv and predict's output agree, interval
    too (the run's bootstrap refits are logged with the model, and so is the adjacency of
    the spatial lags: no --geometry needed)."""
    run_out = champion_store["out"]
    panel = pd.read_parquet(run_out / "panel.parquet")
    panel_file = tmp_path / "panel.parquet"
    panel.to_parquet(panel_file)
    out = tmp_path / "scores.csv"
    assert train.main(["predict", "--data", str(panel_file), "--out", str(out), "-q"]) == 0
    columns = ["probability", "risk_low", "risk_high", "forecast_period"]
    ours = pd.read_csv(out).set_index("district_id")[columns]
    run = pd.read_csv(run_out / "forecast.csv").set_index("district_id")[columns]
    np.testing.assert_allclose(ours.loc[run.index], run, atol=1e-4)


def test_a_panel_without_what_the_model_needs_is_one_error_line(
    champion_store: dict, region: Path, tmp_path: Path, capsys
) -> None:
    panel = pd.read_csv(region / "panel.csv").drop(columns=["poverty"])
    panel.to_csv(tmp_path / "panel.csv", index=False)
    assert _predict(tmp_path, tmp_path / "out.csv", "-q") == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "poverty" in err
    assert not (tmp_path / "out.csv").exists()


def test_an_unknown_model_is_one_error_line(
    champion_store: dict, region: Path, tmp_path: Path, capsys
) -> None:
    assert _predict(region, tmp_path / "out.csv", "--model", "nosuch@champion", "-q") == 2
    assert capsys.readouterr().err.startswith("error:")
