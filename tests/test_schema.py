"""The panel data contract (features/schema.py) and the feature catalog (features/catalog.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.catalog import FeatureSpec, load_catalog, parse_catalog
from features.errors import CatalogError, DataContractError
from features.schema import validate_panel

SOURCE = "panel.csv"


@pytest.fixture
def catalog():
    return parse_catalog(
        {
            "features": {
                "poverty": {"domain": "socio-economic", "actionable": True},
                "distance": {"domain": "geography"},
                "minority_share": {"domain": "demography", "protected": True},
            }
        }
    )


@pytest.fixture
def panel() -> pd.DataFrame:
    """Two districts × three years, deliberately out of order."""
    return pd.DataFrame(
        {
            "district_id": ["D2", "D2", "D2", "D1", "D1", "D1"],
            "period": [2012, 2010, 2011, 2010, 2011, 2012],
            "country": ["X"] * 6,
            "incidents": [0, 1, 2, 0, 0, 3],
            "poverty": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "distance": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "minority_share": [0.1, 0.1, 0.2, 0.2, 0.3, 0.3],
        }
    )


def refusal(panel: pd.DataFrame, catalog) -> str:
    with pytest.raises(DataContractError) as info:
        validate_panel(panel, catalog, SOURCE)
    return str(info.value)


def assert_names(message: str, *parts: str) -> None:
    missing = [p for p in parts if p not in message]
    assert not missing, f"{missing} not named in: {message}"


# --- happy path -------------------------------------------------------------------------------


def test_valid_panel_is_returned_sorted_by_district_and_period(panel, catalog):
    clean = validate_panel(panel, catalog, SOURCE)
    keys = list(zip(clean["district_id"], clean["period"], strict=True))
    assert keys == sorted(keys)


def test_validation_keeps_every_value_of_a_valid_panel(panel, catalog):
    clean = validate_panel(panel, catalog, SOURCE)
    expected = panel.sort_values(["district_id", "period"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(clean, expected[list(clean.columns)], check_dtype=False)


def test_validation_leaves_the_input_frame_unchanged(panel, catalog):
    before = panel.copy()
    validate_panel(panel, catalog, SOURCE)
    pd.testing.assert_frame_equal(panel, before)


def test_month_periods_are_accepted(panel, catalog):
    panel["period"] = ["2020-03", "2020-01", "2020-02", "2020-12", "2021-01", "2021-02"]
    clean = validate_panel(panel, catalog, SOURCE)
    assert clean["period"].tolist() == [
        "2020-12",
        "2021-01",
        "2021-02",
        "2020-01",
        "2020-02",
        "2020-03",
    ]


def test_integer_valued_float_periods_become_int(panel, catalog):
    panel["period"] = panel["period"].astype(float)
    clean = validate_panel(panel, catalog, SOURCE)
    assert pd.api.types.is_integer_dtype(clean["period"])
    assert clean["period"].tolist() == [2010, 2011, 2012, 2010, 2011, 2012]


def test_year_strings_become_int_periods(panel, catalog):
    panel["period"] = panel["period"].astype(str)
    clean = validate_panel(panel, catalog, SOURCE)
    assert pd.api.types.is_integer_dtype(clean["period"])


def test_whole_number_float_incidents_become_int(panel, catalog):
    panel["incidents"] = panel["incidents"].astype(float)
    clean = validate_panel(panel, catalog, SOURCE)
    assert clean["incidents"].dtype == np.int64


# --- refusals ---------------------------------------------------------------------------------


def test_refuses_duplicate_district_period(panel, catalog):
    panel.loc[2, "period"] = 2010
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "duplicate", "row 1 (D2, 2010)", "row 2 (D2, 2010)")


def test_refuses_duplicate_that_appears_only_after_period_normalisation(panel, catalog):
    panel["period"] = panel["period"].astype(object)
    panel.loc[2, "period"] = "2010"  # D2 now has 2012, 2010, '2010': a duplicate, no gap
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "duplicate", "D2, 2010")


def test_refuses_missing_district_id_value(panel, catalog):
    panel.loc[2, "district_id"] = None
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'district_id'", "row 2")


def test_refuses_blank_district_id_value(panel, catalog):
    panel.loc[4, "district_id"] = "  "
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'district_id'", "row 4")


def test_refuses_missing_required_column(panel, catalog):
    message = refusal(panel.drop(columns="incidents"), catalog)
    assert_names(message, SOURCE, "incidents", "missing")


def test_refuses_non_numeric_feature(panel, catalog):
    panel["poverty"] = panel["poverty"].astype(object)
    panel.loc[2, "poverty"] = "high"
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'poverty'", "numeric", "row 2 (D2, 2011)")


def test_refuses_infinite_feature(panel, catalog):
    panel.loc[3, "distance"] = np.inf
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'distance'", "row 3 (D1, 2010)")


def test_refuses_nan_feature(panel, catalog):
    panel.loc[3, "distance"] = np.nan
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'distance'", "row 3 (D1, 2010)")


def test_refuses_negative_incidents(panel, catalog):
    panel.loc[5, "incidents"] = -1
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'incidents'", "row 5 (D1, 2012)")


def test_refuses_non_integer_incidents(panel, catalog):
    panel["incidents"] = panel["incidents"].astype(float)
    panel.loc[1, "incidents"] = 1.5
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'incidents'", "whole-number", "row 1 (D2, 2010)")


def test_refuses_undeclared_column(panel, catalog):
    panel["rainfall"] = 1.0
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "rainfall", "not declared")


def test_refuses_panel_without_a_catalog_feature(panel, catalog):
    message = refusal(panel.drop(columns="distance"), catalog)
    assert_names(message, SOURCE, "distance", "missing")


def test_refuses_gap_in_a_districts_periods(panel, catalog):
    message = refusal(panel.drop(index=2), catalog)  # D2 loses 2011: 2010, 2012 remain
    assert_names(message, SOURCE, "gaps", "D2")


@pytest.mark.parametrize("column", ["person_id", "first_name", "phone", "date_of_birth"])
def test_refuses_person_level_column(panel, catalog, column):
    panel[column] = "x"
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, column, "person-level")


def test_refuses_bad_month_period(panel, catalog):
    panel["period"] = ["2020-03", "2020-01", "2020-13", "2020-01", "2020-02", "2020-03"]
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'period'", "row 2 (D2, 2020-13)")


def test_refuses_fractional_year_period(panel, catalog):
    panel["period"] = panel["period"].astype(float)
    panel.loc[2, "period"] = 2011.5
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'period'", "row 2 (D2, 2011.5)")


def test_bad_period_message_names_only_the_offending_row(catalog):
    years = list(range(2000, 2010))
    bad = pd.DataFrame(
        {
            "district_id": ["D1"] * 10,
            "period": [str(y) for y in years[:7]] + ["20O7"] + [str(y) for y in years[8:]],
            "incidents": 0,
            "poverty": 0.5,
            "distance": 1.0,
            "minority_share": 0.1,
        }
    )
    message = refusal(bad, catalog)
    assert "row 7 (D1, 20O7)" in message and "row 0" not in message


# --- catalog ----------------------------------------------------------------------------------


def test_protected_features_are_not_model_features(catalog):
    assert catalog.model_features == ["poverty", "distance"]
    assert catalog.protected_features == ["minority_share"]


def test_catalog_refuses_unknown_domain():
    with pytest.raises(CatalogError, match=r"features\.poverty\.domain"):
        parse_catalog({"features": {"poverty": {"domain": "astrology"}}}, source="cat.toml")


def test_catalog_refuses_extra_key():
    data = {"features": {"poverty": {"domain": "governance", "colour": "red"}}}
    with pytest.raises(CatalogError, match=r"cat\.toml: features\.poverty\.colour"):
        parse_catalog(data, source="cat.toml")


def test_catalog_refuses_empty_feature_table():
    with pytest.raises(CatalogError, match="declares no features"):
        parse_catalog({"features": {}}, source="cat.toml")


def test_with_features_adds_entries_without_changing_the_original(catalog):
    extra = {"hist_x": FeatureSpec(domain="conflict history")}
    extended = catalog.with_features(extra)
    assert list(extended.features) == ["poverty", "distance", "minority_share", "hist_x"]
    assert "hist_x" not in catalog.features


def test_with_features_refuses_name_clash(catalog):
    with pytest.raises(CatalogError, match="poverty"):
        catalog.with_features({"poverty": FeatureSpec(domain="conflict history")})


def test_load_catalog_reads_a_toml_file(tmp_path: Path):
    path = tmp_path / "cat.toml"
    path.write_text(
        '[features.poverty]\ndomain = "socio-economic"\nactionable = true\n'
        'programs = ["cash transfers"]\n',
        encoding="utf-8",
    )
    loaded = load_catalog(path)
    assert loaded.features["poverty"].programs == ["cash transfers"]


def test_load_catalog_refuses_missing_file(tmp_path: Path):
    path = tmp_path / "absent.toml"
    with pytest.raises(CatalogError, match="not found") as info:
        load_catalog(path)
    assert str(path) in str(info.value)


def test_load_catalog_refuses_bad_toml(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text("[features.poverty\ndomain = ", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid TOML") as info:
        load_catalog(path)
    assert str(path) in str(info.value)


def test_load_catalog_names_the_file_of_an_invalid_entry(tmp_path: Path):
    path = tmp_path / "cat.toml"
    path.write_text('[features.poverty]\ndomain = "astrology"\n', encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert str(path) in str(info.value)


# --- protected columns may be missing -----------------------------------------------------------


def test_protected_column_may_hold_nan_and_keeps_it(panel, catalog):
    panel.loc[[1, 4], "minority_share"] = np.nan  # e.g. districts without census rows
    clean = validate_panel(panel, catalog, SOURCE)
    missing = clean.loc[clean["minority_share"].isna(), ["district_id", "period"]]
    assert missing.values.tolist() == [["D1", 2011], ["D2", 2010]]
    assert clean["minority_share"].dtype == np.float64


def test_protected_column_may_be_entirely_missing(panel, catalog):
    panel["minority_share"] = None
    clean = validate_panel(panel, catalog, SOURCE)
    assert clean["minority_share"].isna().all() and clean["minority_share"].dtype == np.float64


def test_protected_column_still_refuses_infinity(panel, catalog):
    panel.loc[3, "minority_share"] = -np.inf
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'minority_share'", "row 3 (D1, 2010)")


def test_protected_column_still_refuses_text(panel, catalog):
    panel["minority_share"] = panel["minority_share"].astype(object)
    panel.loc[0, "minority_share"] = "many"
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'minority_share'", "numeric", "row 0 (D2, 2012)")


def test_model_features_stay_strict_beside_a_missing_protected_value(panel, catalog):
    panel.loc[1, "minority_share"] = np.nan
    panel.loc[3, "poverty"] = np.nan
    message = refusal(panel, catalog)
    assert_names(message, SOURCE, "'poverty'", "row 3 (D1, 2010)")
    assert "minority_share" not in message


def test_missing_protected_values_never_reach_model_features(panel, catalog):
    from features.build import build_features

    panel.loc[[0, 5], "minority_share"] = np.nan
    frame, extended = build_features(validate_panel(panel, catalog, SOURCE), catalog)
    assert "minority_share" not in extended.model_features
    assert np.isfinite(frame[extended.model_features].to_numpy()).all()


@pytest.mark.parametrize("value", [float("inf"), 1e30])
def test_refuses_infinite_or_absurd_incident_counts(panel, catalog, value):
    panel["incidents"] = panel["incidents"].astype(float)
    panel.loc[2, "incidents"] = value
    assert_names(refusal(panel, catalog), SOURCE, "incidents", "row 2")
