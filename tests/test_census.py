"""Census crosswalk and covariates, and the one-period lag of time-varying covariates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.errors import DataContractError
from ingest import census as cz
from ingest.sources import (
    read_census_tables,
    read_crosswalk,
    read_gdl_shdi,
    read_wdi,
)

OCHA = pd.DataFrame(
    {
        "district_id": ["D1", "D2", "D3", "D4", "D5"],
        "district_name": ["Alpha", "Beta Karachi", "Gamma", "Delta", "Hunza"],
        "admin1": ["Punjab", "Sindh", "Balochistan", "Balochistan", "Gilgit Baltistan"],
    }
)
TABLE = pd.DataFrame(
    {
        "census_name": ["KARACHI BETA", "KEAMARI", "GAMMA", "GAMMA"],
        "adm2_name": ["Beta Karachi", "Beta Karachi", "Gamma", "Delta"],
        "share": [1.0, 1.0, 0.75, 0.25],
    }
)
# name: (population, literate 10+, population 10+, households with electricity, households)
CENSUS = {
    "ALPHA": (1000, 300, 800, 50, 100),
    "KARACHI BETA": (3000, 2000, 2500, 450, 500),
    "KEAMARI": (1000, 200, 800, 100, 200),
    "GAMMA": (800, 100, 600, 20, 100),
    "NOWHERE": (10, 1, 8, 1, 2),
}


def write_census(folder: Path) -> Path:
    """The nine census tables the build reads, for the districts of CENSUS (OVERALL rows)."""
    folder.mkdir()
    rows: dict[int, list[dict]] = {n: [] for n in cz.CENSUS_TABLES}
    for name, (pop, lit, pop10, elect, hh) in CENSUS.items():
        base = {"province": "P", "name_admin_unit": name}
        rows[1] += [
            {**base, "region": "OVERALL", "area_sqkm": 100, "all_sexes": pop, "pop_2017": pop},
            {**base, "region": "URBAN", "area_sqkm": None, "all_sexes": pop // 2, "pop_2017": 1},
        ]
        for label, value in [
            ("Population >=10", pop10),
            ("Literate >=10", lit),
            ("Population >=5", pop10),
            ("Never to School (all)", pop10 - lit),
        ]:
            rows[12].append({**base, "vars": label, "all_sexes_overall": value,
                             "female_overall": value // 2})  # fmt: skip
        rows[20] += [{**base, "hh_type": "KACHA", "overall": hh // 4},
                     {**base, "hh_type": "TOTAL", "overall": hh}]  # fmt: skip
        overall = {**base, "region": "OVERALL", "households": hh}
        rows[22].append({**overall, "light_elect": elect, "fuel_firewood": hh // 2})
        rows[23].append({**overall, "drink_wtr_improve": hh})
        rows[24].append({**overall, "toilet_none": 0})
        rows[9] += [{**base, "religion": "MUSLIM", "all_sexes_overall": pop - 10},
                    {**base, "religion": "CHRISTIAN", "all_sexes_overall": 10}]  # fmt: skip
        rows[10] += [
            {**base, "age_group": "ALL AGES", "nationality": "AFGHANI", "overall_all_sexes": 5},
            {**base, "age_group": "ALL AGES", "nationality": "PAKISTANI",
             "overall_all_sexes": pop - 5},
        ]  # fmt: skip
        rows[11] += [{**base, "language": "PUSHTO", "all_sexes_overall": pop // 4},
                     {**base, "language": "TOTAL", "all_sexes_overall": pop}]  # fmt: skip
    for number, table in rows.items():
        pd.DataFrame(table).to_csv(
            folder / f"census2023_table{number:02d}_district.csv", index=False
        )
    return folder


@pytest.fixture
def counted(tmp_path: Path) -> tuple[cz.Crosswalk, dict[int, pd.DataFrame]]:
    tables = read_census_tables(write_census(tmp_path / "census"), cz.CENSUS_TABLES)
    walk = cz.census_crosswalk(list(CENSUS), OCHA, TABLE)
    counts = {n: cz.district_counts(c, walk.mapping) for n, c in cz.census_counts(tables).items()}
    return walk, counts


def test_names_match_after_normalising_case_spaces_and_punctuation() -> None:
    assert cz.normalise_name("Tor Ghar") == cz.normalise_name("TORGHAR")
    assert cz.normalise_name("D. I. Khan") == "DIKHAN"
    assert cz.normalise_name("Jammu & Kashmir") == "JAMMUANDKASHMIR"


def test_crosswalk_matches_exact_names_then_the_table(counted) -> None:
    walk, _ = counted
    methods = walk.mapping.set_index(["census_name", "district_id"])["method"].to_dict()
    assert methods == {
        ("ALPHA", "D1"): "exact",
        ("KARACHI BETA", "D2"): "table",
        ("KEAMARI", "D2"): "table",
        ("GAMMA", "D3"): "table",
        ("GAMMA", "D4"): "table",
    }


def test_crosswalk_reports_unmatched_census_names_and_districts_without_census(counted) -> None:
    walk, _ = counted
    assert walk.unmatched_census == ["NOWHERE"]
    assert walk.districts_without_census == ["D5"]


def test_crosswalk_refuses_an_unknown_ocha_district() -> None:
    bad = pd.DataFrame({"census_name": ["X"], "adm2_name": ["Atlantis"], "share": [1.0]})
    with pytest.raises(DataContractError, match="Atlantis"):
        cz.census_crosswalk(["X"], OCHA, bad)


def test_crosswalk_refuses_split_shares_that_do_not_sum_to_one() -> None:
    bad = TABLE.assign(share=[1.0, 1.0, 0.5, 0.25])
    with pytest.raises(DataContractError, match="GAMMA.*sum to 1"):
        cz.census_crosswalk(["GAMMA"], OCHA, bad)


def test_merged_census_districts_are_population_weighted(counted) -> None:
    _, counts = counted
    features = cz.census_features(counts)
    merged = features.loc["D2"]
    assert merged["census_literacy"] == pytest.approx((2000 + 200) / (2500 + 800))
    assert merged["census_electricity"] == pytest.approx((450 + 100) / (500 + 200))
    assert merged["census_log_population"] == pytest.approx(np.log1p(4000))


def test_a_split_census_district_gives_its_rates_and_a_share_of_its_people(counted) -> None:
    _, counts = counted
    features = cz.census_features(counts)
    assert features.loc["D3", "census_literacy"] == features.loc["D4", "census_literacy"]
    assert features.loc["D4", "census_log_population"] == pytest.approx(np.log1p(200))
    assert features.loc["D3", "census_log_density"] == features.loc["D4", "census_log_density"]


def test_religion_language_and_nationality_stay_out_of_model_covariates(counted) -> None:
    _, counts = counted
    model = set(cz.census_features(counts).columns)
    protected = cz.protected_features(counts)
    assert not model & set(protected.columns)
    assert not [c for c in model if c.startswith(("religion", "language", "afghan"))]
    assert protected.loc["D1", "religion_christian_share"] == pytest.approx(0.01)
    assert protected.loc["D1", "afghan_nationals_share"] == pytest.approx(0.005)


def test_districts_without_census_get_the_median_and_a_flag(counted) -> None:
    _, counts = counted
    filled = cz.fill_missing_census(cz.census_features(counts), OCHA["district_id"])
    assert filled.loc["D5", cz.MISSING_FLAG] == 1.0
    assert filled.loc[["D1", "D2"], cz.MISSING_FLAG].tolist() == [0.0, 0.0]
    assert not filled.isna().any().any()


def test_shipped_crosswalk_names_only_existing_targets(tmp_path: Path) -> None:
    table = read_crosswalk(cz.CROSSWALK_PATH)
    assert table.groupby("census_name")["share"].sum().round(6).eq(1).all()
    assert {"KEAMARI", "UPPER CHITRAL", "LOWER KOHISTAN", "KARACHI SOUTH"} <= set(
        table["census_name"]
    )


YEARLY = pd.DataFrame({"year": [2008, 2009, 2010, 2012], "x": [1.0, 2.0, 3.0, 5.0]})


def test_period_t_sees_values_of_t_minus_one_never_later() -> None:
    lagged = cz.lagged_by_period(YEARLY, [2009, 2010, 2011]).set_index("period")["x_lag1"]
    assert lagged.to_dict() == {2009: 1.0, 2010: 2.0, 2011: 3.0}


def test_a_year_without_data_carries_the_last_earlier_value_forward() -> None:
    lagged = cz.lagged_by_period(YEARLY, [2012, 2013, 2015]).set_index("period")["x_lag1"]
    assert lagged.to_dict() == {2012: 3.0, 2013: 5.0, 2015: 5.0}


def test_periods_before_any_data_get_nan_not_a_later_value() -> None:
    lagged = cz.lagged_by_period(YEARLY, [2007, 2008, 2009])["x_lag1"]
    assert lagged.isna().tolist() == [True, True, False]


def test_every_month_of_a_year_sees_the_previous_year() -> None:
    months = ["2010-01", "2010-12", "2011-01"]
    lagged = cz.lagged_by_period(YEARLY, months).set_index("period")["x_lag1"]
    assert lagged.to_dict() == {"2010-01": 2.0, "2010-12": 2.0, "2011-01": 3.0}


def test_lag_is_kept_per_province() -> None:
    table = pd.DataFrame(
        {"gdl": ["a", "a", "b", "b"], "year": [2009, 2010] * 2, "shdi": [0.1, 0.2, 0.5, 0.6]}
    )
    lagged = cz.lagged_by_period(table, [2010, 2011], by="gdl")
    assert lagged.set_index(["gdl", "period"])["shdi_lag1"].to_dict() == {
        ("a", 2010): 0.1,
        ("a", 2011): 0.2,
        ("b", 2010): 0.5,
        ("b", 2011): 0.6,
    }


def test_ex_fata_districts_take_the_fata_shdi_unit() -> None:
    districts = pd.DataFrame(
        {
            "district_id": ["K1", "K2", "A1"],
            "district_name": ["Peshawar", "North Waziristan", "Bagh"],
            "admin1": ["Khyber Pakhtunkhwa", "Khyber Pakhtunkhwa", "Azad Kashmir"],
        }
    )
    assert cz.gdl_region_of(districts).tolist() == ["PAKr103", "PAKr108", "PAKr107"]


def test_wdi_and_gdl_readers_treat_dots_as_missing(tmp_path: Path) -> None:
    wdi = tmp_path / "wdi.csv"
    wdi.write_text(
        "Country Name,Country Code,Series Name,Series Code,1999 [YR1999],2000 [YR2000]\n"
        "Pakistan,PAK,GDP,NY.GDP.PCAP.CD,..,500\n",
        encoding="utf-8",
    )
    assert read_wdi(wdi)[["year", "value"]].values.tolist() == [[2000, 500.0]]
    gdl = tmp_path / "gdl.csv"
    gdl.write_text(
        "Country,Continent,ISO_Code,Level,GDLCODE,Region,2000,2001\n"
        "Pakistan,Asia,PAK,Subnat,PAKr101,Punjab,0.4,\n",
        encoding="utf-8",
    )
    assert read_gdl_shdi(gdl)[["gdl_code", "year", "shdi"]].values.tolist() == [
        ["PAKr101", 2000, 0.4]
    ]


def test_non_numeric_covariate_values_are_refused(tmp_path: Path) -> None:
    wdi = tmp_path / "wdi.csv"
    wdi.write_text(
        "Country Code,Series Code,2000 [YR2000]\nPAK,NY.GDP.PCAP.CD,five hundred\n",
        encoding="utf-8",
    )
    with pytest.raises(DataContractError, match=r"column '2000 \[YR2000\]' .* lines 2"):
        read_wdi(wdi)
