"""Event files -> incidents: readers (GED, HDX/HXL, ACLED-style), actor and precision filters,
spatial join with counted drops, aggregation with zero rows."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from features.errors import DataContractError
from ingest import events as ev
from ingest.sources import read_acled_events, read_events, read_ged_events

GED_HEADER = "id,date_start,latitude,longitude,where_prec,side_a,side_b,dyad_name,adm_1,adm_2"
HXL_ROW = ",#date+start,#geo+lat,#geo+lon,#geo+precision,#group+a,#group+b,#group+dyad,#adm1,#adm2"
GED_ROWS = [
    "1,2010-03-01 00:00:00.000,0.5,0.5,1,Government of Pakistan,TTP,Government of Pakistan - TTP,,",
    "2,2010-07-15 00:00:00.000,0.5,1.5,2,IS,Civilians,IS - Civilians,,",
    "3,2011-01-02 00:00:00.000,0.2,1.2,1,BLA,Civilians,BLA - Civilians,,",
]


def squares() -> gpd.GeoDataFrame:
    """Two unit squares side by side: A = [0,1]x[0,1], B = [1,2]x[0,1] (lon/lat)."""
    return gpd.GeoDataFrame(
        {"district_id": ["A", "B"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326
    )


def event_table(rows: list[dict]) -> pd.DataFrame:
    base = {"where_prec": 1.0, "side_a": "TTP", "side_b": "Civilians", "dyad_name": None}
    frame = pd.DataFrame([{**base, **row} for row in rows])
    return frame.assign(date=pd.to_datetime(frame["date"]))


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_assigns_points_to_the_square_that_holds_them() -> None:
    events = pd.DataFrame({"longitude": [0.5, 1.5, 3.0], "latitude": [0.5, 0.5, 0.5]})
    assigned = ev.assign_districts(events, squares())
    assert assigned.iloc[:2].tolist() == ["A", "B"]
    assert pd.isna(assigned.iloc[2])


def test_point_on_a_shared_edge_counts_once_for_the_lowest_id() -> None:
    events = pd.DataFrame({"longitude": [1.0], "latitude": [0.5]})
    assert ev.assign_districts(events, squares()).tolist() == ["A"]


def test_select_counts_every_dropped_event_by_reason() -> None:
    events = event_table(
        [
            {"date": "2010-05-01", "latitude": 0.5, "longitude": 0.5},  # kept in A
            {"date": "2010-05-01", "latitude": 0.5, "longitude": 1.5},  # kept in B
            {"date": "1995-05-01", "latitude": 0.5, "longitude": 0.5},  # outside period
            {"date": "2010-05-01", "latitude": 0.5, "longitude": 0.5, "side_a": "BLA"},
            {"date": "2010-05-01", "latitude": 0.5, "longitude": 0.5, "where_prec": 3.0},
            {"date": "2010-05-01", "latitude": 5.0, "longitude": 5.0},  # outside every square
        ]
    )
    chosen = ev.select_events(events, squares(), [2010, 2011], max_where_prec=2, bad_rows=2)
    assert chosen.dropped == {
        "bad_row": 2,
        "outside_period": 1,
        "filtered_actor": 1,
        "imprecise": 1,
        "outside_district": 1,
    }
    assert len(chosen.kept) + sum(chosen.dropped.values()) == chosen.n_read == 8
    assert chosen.kept["district_id"].tolist() == ["A", "B"]


def test_actor_filter_matches_the_ged_spellings_of_extremist_groups() -> None:
    extremist = ["TTP", "TTP - TA", "TTP-KM", "TTP-Islahi", "al-Qaida", "LeJ", "IS"]
    extremist += ["Lashkar-e-Islam", "Jamaat-ul-Ahrar", "Islamic State - Khorasan Province"]
    frame = pd.DataFrame({"side_a": extremist, "side_b": "Civilians"})
    assert ev.actor_mask(frame, ev.EXTREMIST_PATTERNS).all()


def test_actor_filter_leaves_out_tribal_lashkars_states_and_other_groups() -> None:
    others = ["Lashkar of Zakakhel tribe", "Government of Pakistan", "Taleban", "BLA", "IMU"]
    others += ["Ansaar ul-Islam", "Tawheed ul-Islam", "ISI", "Civilians", "Isis River Militia"]
    frame = pd.DataFrame({"side_a": others, "side_b": "Civilians"})
    assert not ev.actor_mask(frame, ev.EXTREMIST_PATTERNS).any()


def test_is_only_filter_keeps_islamic_state_alone() -> None:
    frame = pd.DataFrame({"side_a": ["Government of Pakistan", "TTP", "IS"], "side_b": "IS"})
    frame.loc[1, "side_b"] = "Civilians"
    assert ev.actor_mask(frame, ev.IS_PATTERNS).tolist() == [True, False, True]


def test_actor_filter_reads_dyad_names_when_sides_are_absent() -> None:
    frame = pd.DataFrame(
        {"dyad_name": ["Government of Pakistan - TTP - TA", "al-Qaida  - Civilians", "BLA - X"]}
    )
    assert ev.actor_mask(frame, ev.EXTREMIST_PATTERNS).tolist() == [True, True, False]


def test_incident_counts_give_quiet_districts_zero_rows() -> None:
    kept = pd.DataFrame({"district_id": ["A", "A", "A"], "period": [2010, 2010, 2011]})
    counts = ev.incident_counts(kept, ["A", "B"], [2010, 2011])
    assert counts.to_dict("list") == {
        "district_id": ["A", "A", "B", "B"],
        "period": [2010, 2011, 2010, 2011],
        "incidents": [2, 1, 0, 0],
    }


def test_monthly_periods_label_events_by_year_and_month() -> None:
    events = event_table(
        [
            {"date": "2010-01-31", "latitude": 0.5, "longitude": 0.5},
            {"date": "2010-02-01", "latitude": 0.5, "longitude": 0.5},
        ]
    )
    periods = ev.panel_periods(2010, 2010, "month")
    chosen = ev.select_events(events, squares(), periods, period="month")
    counts = ev.incident_counts(chosen.kept, ["A", "B"], periods)
    assert len(periods) == 12 and len(counts) == 24
    assert counts.set_index(["district_id", "period"]).loc[("A", "2010-02"), "incidents"] == 1


def test_reads_the_hdx_variant_with_its_hxl_row_like_the_plain_file(tmp_path: Path) -> None:
    plain = read_ged_events(write(tmp_path / "plain.csv", [GED_HEADER, *GED_ROWS]))
    hdx = read_ged_events(write(tmp_path / "hdx.csv", [GED_HEADER, HXL_ROW, *GED_ROWS]))
    assert hdx.n_rows == plain.n_rows == 3
    pd.testing.assert_frame_equal(
        hdx.events.drop(columns="line"), plain.events.drop(columns="line")
    )
    assert hdx.events["date"].dt.year.tolist() == [2010, 2010, 2011]


def test_reads_acled_style_events_with_spelled_out_dates(tmp_path: Path) -> None:
    path = write(
        tmp_path / "acled.csv",
        [
            "event_date,latitude,longitude,actor1,actor2,admin1,admin2,geo_precision",
            "12 January 2021,0.5,0.5,Tehrik-i-Taliban Pakistan (TTP),Civilians,KP,Bajaur,1",
            "2021-02-03,0.5,1.5,Military Forces of Pakistan,Civilians,KP,Khyber,2",
        ],
    )
    loaded = read_events(path)
    frame = loaded.events
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == ["2021-01-12", "2021-02-03"]
    assert frame["adm_2"].tolist() == ["Bajaur", "Khyber"]
    assert ev.actor_mask(frame, ev.EXTREMIST_PATTERNS).tolist() == [True, False]
    assert read_acled_events(path).events["where_prec"].tolist() == [1.0, 2.0]


def test_missing_coordinates_raise_naming_file_column_and_line(tmp_path: Path) -> None:
    rows = [GED_ROWS[0], "9,2010-03-01,,0.5,1,TTP,Civilians,TTP - Civilians,,"]
    path = write(tmp_path / "ged.csv", [GED_HEADER, *rows])
    with pytest.raises(DataContractError, match=r"ged\.csv: column 'latitude' .* lines 3"):
        read_ged_events(path)


def test_unparseable_dates_raise_naming_the_column_and_value(tmp_path: Path) -> None:
    rows = [GED_ROWS[0], "9,2010-13-45,0.5,0.5,1,TTP,Civilians,TTP - Civilians,,"]
    path = write(tmp_path / "ged.csv", [GED_HEADER, HXL_ROW, *rows])
    with pytest.raises(DataContractError, match=r"column 'date_start' .* lines 4 \('2010-13-45'\)"):
        read_ged_events(path)


def test_malformed_rows_are_dropped_and_counted_when_configured(tmp_path: Path) -> None:
    rows = [
        *GED_ROWS,
        "8,not a date,0.5,0.5,1,TTP,Civilians,TTP - Civilians,,",
        "9,2010-03-01,,0.5,1,TTP,Civilians,TTP - Civilians,,",
        "10,2010-03-01,95,0.5,1,TTP,Civilians,TTP - Civilians,,",
    ]
    loaded = read_ged_events(write(tmp_path / "ged.csv", [GED_HEADER, *rows]), on_bad="drop")
    assert (loaded.n_rows, loaded.n_bad, len(loaded.events)) == (6, 3, 3)
    assert loaded.bad_by_column == {"date_start": 1, "latitude": 2}


def test_a_ged_file_without_coordinate_columns_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "ged.csv", ["id,date_start,side_a,side_b", "1,2010-01-01,TTP,X"])
    with pytest.raises(DataContractError, match=r"required column\(s\) \['latitude'"):
        read_ged_events(path)
