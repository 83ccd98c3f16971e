"""The registered model's logic without MLflow (models/serving.py): a forecaster saved as
files (skops, JSON, npz) loads and scores the same; the interval's three cases; refusals."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from features.build import TARGET, build_features
from features.catalog import load_catalog
from features.errors import DataContractError
from features.schema import validate_panel
from features.spatial import queen_adjacency
from features.synthetic import generate_region
from models.calibration_band import CalibrationBand
from models.pipeline import logistic_pipeline
from models.serving import (
    ESTIMATOR_FILE,
    OUTPUT_COLUMNS,
    SPEC_FILE,
    Forecaster,
    Neighbours,
    load_forecaster,
)


@pytest.fixture(scope="module")
def region() -> dict:
    """A small validated synthetic panel, its adjacency, and a forecaster of a logistic model
    (plus two refits on halves of the rows as its ensemble) fitted on its features."""
    catalog = load_catalog()
    synthetic = generate_region(n_districts=40, n_periods=8, seed=5)
    panel = validate_panel(synthetic.panel, catalog, "synthetic seed 5")
    ids = pd.Index(sorted(panel["district_id"].unique()))
    adjacency = queen_adjacency(synthetic.geometry, ids)
    covariates = catalog.model_copy(
        update={"features": {n: s for n, s in catalog.features.items() if not s.protected}}
    )
    frame, extended = build_features(panel, covariates, adjacency, ids)
    features = extended.model_features
    labelled = frame[frame[TARGET].notna()]
    fit = lambda rows: logistic_pipeline(features, 1.0).fit(  # noqa: E731
        rows[features], rows[TARGET].astype(int)
    )
    forecaster = Forecaster(
        model=fit(labelled),
        members=(fit(labelled.iloc[::2]), fit(labelled.iloc[1::2])),
        catalog=covariates,
        features=tuple(features),
        horizon=1,
        neighbours=Neighbours(adjacency, ids),
    )
    return {"panel": panel, "forecaster": forecaster, "adjacency": adjacency, "ids": ids}


def test_forecast_names_its_columns_and_scores_the_latest_period_once_per_district(
    region: dict,
) -> None:
    forecast = region["forecaster"].forecast(region["panel"])
    assert list(forecast.columns) == list(OUTPUT_COLUMNS)
    assert forecast["district_id"].is_unique and len(forecast) == 40
    assert set(forecast["period"]) == {region["panel"]["period"].max()}
    assert (forecast["forecast_period"] == forecast["period"] + 1).all()
    assert forecast["probability"].is_monotonic_decreasing
    assert (forecast["probability_low"] <= forecast["probability_high"]).all()


def test_a_saved_forecaster_loads_and_scores_the_same(region: dict, tmp_path: Path) -> None:
    # a cross-border adjacency too, so both npz files make the round trip
    forecaster = replace(
        region["forecaster"],
        neighbours=Neighbours(region["adjacency"], region["ids"], region["adjacency"]),
    )
    loaded = load_forecaster(forecaster.save(tmp_path / "forecaster"))
    assert loaded.neighbours.cross_border is not None and len(loaded.members) == 2
    pd.testing.assert_frame_equal(
        loaded.forecast(region["panel"]), forecaster.forecast(region["panel"])
    )


def test_the_calibration_band_is_saved_widens_the_interval_and_may_be_absent(
    region: dict, tmp_path: Path
) -> None:
    band = CalibrationBand(edges=(0.0, 0.3, 1.0), low=(-0.4, -0.1), high=(0.6, 0.2), counts=(7, 7))
    banded = replace(region["forecaster"], calibration_band=band)
    loaded = load_forecaster(banded.save(tmp_path / "banded"))
    assert loaded.calibration_band == band
    plain, widened = (f.forecast(region["panel"]) for f in (region["forecaster"], loaded))
    assert (widened["probability_low"] <= plain["probability_low"]).all()
    assert (widened["probability_high"] >= plain["probability_high"]).all()
    assert (widened["probability_high"] > plain["probability_high"]).any()
    # a model saved before bands existed has no "calibration_band" in its spec: no widening
    folder = region["forecaster"].save(tmp_path / "plain")
    spec = json.loads((folder / SPEC_FILE).read_text())
    (folder / SPEC_FILE).write_text(
        json.dumps({k: v for k, v in spec.items() if k != "calibration_band"})
    )
    old = load_forecaster(folder)
    assert old.calibration_band is None
    pd.testing.assert_frame_equal(old.forecast(region["panel"]), plain)


def test_the_interval_is_nan_without_refits_or_an_ensemble(region: dict) -> None:
    point = replace(region["forecaster"], members=()).forecast(region["panel"])
    assert point[["probability_low", "probability_high"]].isna().all().all()  # not zero-width
    none = replace(region["forecaster"], members=None).forecast(region["panel"])
    assert none[["probability_low", "probability_high"]].isna().all().all()
    assert list(none.columns) == list(OUTPUT_COLUMNS)  # the schema stays fixed


def test_rows_breaking_the_contract_are_refused_by_name(region: dict) -> None:
    forecaster, panel = region["forecaster"], region["panel"]
    with pytest.raises(DataContractError, match=r"catalog feature\(s\) \['poverty'\]"):
        forecaster.forecast(panel.drop(columns="poverty"))
    unknown = panel.assign(district_id=panel["district_id"].replace({"C1-D0001": "NEW-1"}))
    with pytest.raises(DataContractError, match="no polygon or adjacency row"):
        forecaster.forecast(unknown)


def test_a_pickle_posing_as_an_estimator_is_refused(region: dict, tmp_path: Path) -> None:
    folder = region["forecaster"].save(tmp_path / "forecaster")
    (folder / ESTIMATOR_FILE).write_bytes(pickle.dumps(region["forecaster"].model))
    with pytest.raises(Exception, match="(?i)zip"):
        load_forecaster(folder)
