"""The one panel builder with several countries (`ingest.panel`, `python -m ingest.afpak`):
country-first event assignment and drop counting on small synthetic fixtures; the shipped
AF-PAK catalog, crosswalk, programs and config; and the real AF-PAK panel built from
../shared/data (skipped, with the reason shown, where that folder is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA
from shapely.geometry import box

from experiments.config import load_config
from experiments.data import load_inputs
from experiments.prepare import prepare
from features.catalog import load_catalog
from features.errors import DataContractError
from features.schema import validate_panel
from features.spatial import border_adjacency
from ingest import afghanistan as afg
from ingest import afpak, pakistan
from ingest.countries import Country, DistrictBlock
from ingest.events import AFPAK_EXTREMIST_PATTERNS, IS_PATTERNS, actor_mask
from ingest.panel import BuildSettings, PanelSpec, build_panel
from ingest.sources import read_ged_events
from models.targeting import load_programs

GAP = 0.02  # degrees (about 1.9 km at 30 N) between the two "sources" along their border
BOXES = {
    "Aland": {"A1": box(60.0, 30.0, 60.5, 30.5), "A2": box(60.5, 30.0, 61.0, 30.5)},
    "Bland": {"B1": box(61.0 + GAP, 30.0, 61.5, 30.5)},
}
EVENTS = [  # id, year, lon, lat, where_prec, side_a, country; what happens to it
    (1, 2001, 60.2, 30.2, 1, "TTP", "Aland"),  # kept in A1
    (2, 2001, 60.8, 30.2, 1, "TTP", "Bland"),  # in A2's polygon, but Bland's: outside_district
    (3, 2001, 60.2, 30.2, 1, "TTP", "Cland"),  # other_country
    (4, 2001, 60.2, 30.2, 4, "TTP", "Aland"),  # imprecise
    (5, 2001, 61.2, 30.2, 1, "Militia X", "Bland"),  # filtered_actor
    (6, 1990, 60.2, 30.2, 1, "TTP", "Aland"),  # outside_period
    (7, 2002, 61.2, 30.2, 2, "TTP", "Bland"),  # kept in B1
    (8, 2002, 60.7, 30.3, 1, "IS", "Aland"),  # kept in A2
]
CATALOG = """
[features.log_area_km2]
domain = "geography"
[features.log_border_distance_km]
domain = "geography"
[features.log_population]
domain = "demography"
[features.shdi_lag1]
domain = "socio-economic"
[features.minority_share]
domain = "demography"
protected = true
"""


def country(name: str, iso3: str) -> Country:
    def read(path: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
        shapes = BOXES[name]
        frame = gpd.GeoDataFrame(
            {"district_id": list(shapes), "district_name": list(shapes), "admin1": "P"},
            geometry=list(shapes.values()),
            crs=4326,
        )
        return frame, []

    def covariates(shared: Path, districts: pd.DataFrame) -> DistrictBlock:
        ids = pd.Index(districts["district_id"], name="district_id")
        features = pd.DataFrame({"log_population": np.log1p(1000.0)}, index=ids)
        protected = pd.DataFrame({"minority_share": 0.1}, index=ids) if name == "Bland" else None
        return DistrictBlock(features, protected if protected is not None else features.iloc[:, :0])

    return Country(
        name=name,
        iso3=iso3,
        files={"polygons": f"{iso3}.geojson"},
        read_districts=read,
        gdl_region=lambda d: pd.Series(f"{iso3}r1", index=d["district_id"].to_numpy()),
        covariates=covariates,
    )


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    folder = tmp_path / "shared"
    (folder / "gdl_shdi").mkdir(parents=True)
    (folder / "gdl_shdi" / "gdl_subnational_hdi_region_1990_2021_wide.csv").write_text(
        "ISO_Code,Level,GDLCODE,Region,2000,2001\nAAA,Subnat,AAAr1,A,0.4,0.41\n"
        "BBB,Subnat,BBBr1,B,0.5,0.52\n",
        encoding="utf-8",
    )
    lines = ["id,year,longitude,latitude,where_prec,side_a,side_b,dyad_name,country"]
    lines += [
        f"{i},{y},{x},{la},{p},{a},Civilians,{a} - Civilians,{c}" for i, y, x, la, p, a, c in EVENTS
    ]
    (folder / "events.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "catalog.toml").write_text(CATALOG, encoding="utf-8")
    return folder


def spec(shared: Path, countries: tuple[Country, ...]) -> PanelSpec:
    return PanelSpec(
        name="test",
        title="Test",
        countries=countries,
        events="events.csv",
        catalog=shared / "catalog.toml",
        config="experiments/configs/afpak.toml",
        command="test",
        actor_sets=afpak.SPEC.actor_sets,
        border_distance=True,
    )


BOTH = (country("Aland", "AAA"), country("Bland", "BBB"))


def settings(shared: Path, **changes) -> BuildSettings:
    base = {"shared": shared, "max_where_prec": 3, "country": False}
    return BuildSettings(first_year=2001, last_year=2002, **(base | changes))


def test_events_are_assigned_country_first_and_every_drop_is_counted(shared: Path) -> None:
    build = build_panel(spec(shared, BOTH), settings(shared))
    events = build.report["events"]
    assert events["dropped"] == {
        "bad_row": 0,
        "other_country": 1,
        "outside_period": 1,
        "filtered_actor": 1,
        "imprecise": 1,
        "outside_district": 1,
    }
    assert events["read"] == 8 and events["kept"] == 3
    assert events["by_country"] == {
        "Aland": {
            "read": 4,
            "kept": 2,
            "dropped": {
                "outside_period": 1,
                "filtered_actor": 0,
                "imprecise": 1,
                "outside_district": 0,
            },
        },  # fmt: skip
        "Bland": {
            "read": 3,
            "kept": 1,
            "dropped": {
                "outside_period": 0,
                "filtered_actor": 1,
                "imprecise": 0,
                "outside_district": 1,
            },
        },  # fmt: skip
    }
    counts = build.panel.set_index(["district_id", "period"])["incidents"]
    assert counts.to_dict() == {
        ("A1", 2001): 1, ("A1", 2002): 0, ("A2", 2001): 0,  # the Bland event is not A2's
        ("A2", 2002): 1, ("B1", 2001): 0, ("B1", 2002): 1,
    }  # fmt: skip
    assert build.report["panel"]["districts_by_country"] == {"Aland": 2, "Bland": 1}


def test_the_panel_is_contract_valid_with_labels_protected_nan_and_cross_border_pairs(
    shared: Path,
) -> None:
    build = build_panel(spec(shared, BOTH), settings(shared))
    validate_panel(build.panel, build.catalog, "test")
    assert dict(zip(build.panel["district_id"], build.panel["country"], strict=True)) == {
        "A1": "Aland", "A2": "Aland", "B1": "Bland"
    }  # fmt: skip
    assert build.catalog.protected_features == ["minority_share"]
    protected = build.panel.set_index("district_id")["minority_share"]
    assert protected[["A1", "A2"]].isna().all() and (protected["B1"] == 0.1).all()
    assert build.panel[build.catalog.model_features].notna().all().all()
    assert build.report["cross_border"]["pairs"] == 1  # A2 -- B1 across the 1.9 km gap
    assert build.report["cross_border"]["districts_by_country"] == {"Aland": 1, "Bland": 1}
    distance = build.panel.groupby("district_id")["log_border_distance_km"].first()
    assert distance["A1"] > distance["A2"]


def test_one_country_is_point_in_polygon_as_the_pakistan_panel_has_it(shared: Path) -> None:
    build = build_panel(spec(shared, BOTH[:1]), settings(shared))
    assert "other_country" not in build.report["events"]["dropped"]
    assert "cross_border" not in build.report
    counts = build.panel.groupby("district_id")["incidents"].sum()
    assert counts.to_dict() == {"A1": 2, "A2": 2}  # no country filter: events 2 and 3 count


def test_is_only_keeps_islamic_state_events(shared: Path) -> None:
    build = build_panel(spec(shared, BOTH), settings(shared, actors="is"))
    assert build.report["events"]["kept"] == 1 and build.panel["incidents"].sum() == 1
    assert build.report["settings"]["actor_patterns"] == list(IS_PATTERNS)


def test_year_only_events_are_read_and_refused_for_monthly_periods(shared: Path) -> None:
    loaded = read_ged_events(shared / "events.csv")
    assert loaded.year_only and loaded.events["date"].dt.month.eq(1).all()
    assert loaded.events["country"].tolist()[:3] == ["Aland", "Bland", "Cland"]
    with pytest.raises(DataContractError, match="years only"):
        build_panel(spec(shared, BOTH), settings(shared, period="month"))


def test_a_bad_year_is_named_by_column_and_line(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "id,year,longitude,latitude,where_prec,side_a,side_b\n1,20x1,60,30,1,TTP,X\n",
        encoding="utf-8",
    )
    with pytest.raises(DataContractError, match=r"column 'year' .* lines 2 \('20x1'\)"):
        read_ged_events(path)


def test_afpak_actor_set_adds_the_afghan_war_groups_to_pakistans() -> None:
    added = ["Taleban", "IMU", "Hizb-i Islami-yi Afghanistan"]
    frame = pd.DataFrame({"side_a": [*added, "UIFSA", "Government of Afghanistan"]})
    assert actor_mask(frame, AFPAK_EXTREMIST_PATTERNS).tolist() == [True] * 3 + [False] * 2
    assert set(pakistan.SPEC.actor_sets["extremist"]) < set(afpak.SPEC.actor_sets["extremist"])


def test_shipped_afpak_catalog_programs_and_config_fit_together() -> None:
    catalog = load_catalog(afpak.CATALOG)
    assert all(spec.source for spec in catalog.features.values())
    census = [n for n in load_catalog(pakistan.CATALOG).model_features if n.startswith("census")]
    assert catalog.missing_allowed == census
    assert all("NaN" in catalog.features[n].description for n in census)
    assert catalog.protected_features == [
        n for n in load_catalog(pakistan.CATALOG).protected_features
    ]
    assert [n for n, s in catalog.features.items() if s.actionable] == ["shdi_lag1"]
    config = load_config(afpak.CONFIG)
    programs = load_programs(config.targeting.programs, catalog)
    assert config.targeting.naive_program in programs.programs
    assert config.data.cross_border_lags
    assert config.data.cross_border_tolerance_km == afpak.CROSS_BORDER_KM
    other = load_config(pakistan.CONFIG)
    assert config.tracking.experiment != other.tracking.experiment
    assert config.registered_model_name != other.registered_model_name


def test_afghan_crosswalk_lists_each_district_once_with_a_gdl_province() -> None:
    walk = afg.read_crosswalk()
    primary = walk[walk["method"] != "later split, added to its parent"]
    assert primary["district_id"].is_unique and len(primary) == 398
    assert set(walk["province"]) == set(afg.GDL_BY_PROVINCE) and len(afg.GDL_BY_PROVINCE) == 34
    assert not walk.duplicated(["province", "cso_district"]).any()


needs_shared = pytest.mark.skipif(
    not (SHARED_DATA / "ucdp_ged_afpak_2001_2016").is_dir(),
    reason=f"real data folder {SHARED_DATA} is absent: the AF-PAK build cannot be checked",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (SHARED_DATA / "ucdp_ged_afpak_2001_2016").is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    out = tmp_path_factory.mktemp("afpak") / "panel"
    assert afpak.main(["--shared", str(SHARED_DATA), "--out", str(out)]) == 0
    return out


@needs_shared
def test_real_afpak_panel_is_contract_valid_and_complete(built: Path) -> None:
    panel = pd.read_parquet(built / "panel.parquet")
    catalog = load_catalog(built / "catalog.toml")
    validate_panel(panel, catalog, "built AF-PAK panel")
    per_country = panel.drop_duplicates("district_id")["country"].value_counts().to_dict()
    assert per_country == {"Afghanistan": 398, "Pakistan": 160}
    assert len(panel) == 558 * 16 and set(panel["period"]) == set(range(2001, 2017))
    always = [f for f in catalog.model_features if f not in catalog.missing_allowed]
    assert panel[always].notna().all().all()
    protected = panel[catalog.protected_features]
    afghan = panel["country"] == "Afghanistan"
    assert protected[afghan].isna().all().all()
    assert protected[~afghan & (panel["population_missing"] == 0)].notna().all().all()


@needs_shared
def test_real_afpak_census_covariates_are_nan_exactly_for_afghan_districts(built: Path) -> None:
    panel = pd.read_parquet(built / "panel.parquet")
    catalog = load_catalog(built / "catalog.toml")
    census = [n for n in load_catalog(pakistan.CATALOG).model_features if n.startswith("census")]
    assert catalog.missing_allowed == census  # the Pakistan panel's census covariates, all
    afghan = panel["country"] == "Afghanistan"
    assert panel.loc[afghan, census].isna().all().all()
    assert panel.loc[~afghan, census].notna().all().all()
    pakistani = panel[~afghan].drop_duplicates("district_id")
    assert (pakistani["census_missing"] == pakistani["population_missing"]).all()
    assert pakistani["census_missing"].sum() == 24  # AJK and Gilgit-Baltistan: the median


@needs_shared
def test_real_afpak_build_report_accounts_for_every_event(built: Path) -> None:
    report = json.loads((built / "build_report.json").read_text())
    events = report["events"]
    assert events["read"] == 22070
    assert events["kept"] + sum(events["dropped"].values()) == events["read"]
    by_country = events["by_country"]
    assert {c: v["read"] for c, v in by_country.items()} == {
        "Afghanistan": 18127, "Pakistan": 3943
    }  # fmt: skip
    for counts in by_country.values():
        assert counts["kept"] + sum(counts["dropped"].values()) == counts["read"]
    assert sum(v["kept"] for v in by_country.values()) == events["kept"]
    assert pd.read_parquet(built / "panel.parquet")["incidents"].sum() == events["kept"]
    assert report["panel"]["districts_by_country"] == {"Afghanistan": 398, "Pakistan": 160}
    assert report["cross_border"]["pairs"] == 72 and report["cross_border"]["districts"] == 69
    assert report["population_afghanistan"]["placed"] == 400


KNOWN_PAIRS = [  # (Afghan district, its province, Pakistani district code): facing pairs
    *[
        (d, "Nangarhar", "PK513")
        for d in ("Acheen", "Nazyan", "Dur Baba", "Muhmand Dara", "Lal Por")
    ],
    ("Chamkani", "Paktya", "PK518"),  # Kurram: the polygons leave a 3.5 km gap here
    ("Spin Boldak", "Kandahar", "PK235"),  # Chaman
]


@needs_shared
def test_real_known_districts_face_each_other_across_the_border(built: Path) -> None:
    panel = pd.read_parquet(built / "panel.parquet").drop_duplicates("district_id")
    geometry = gpd.read_file(built / "districts.geojson")
    ids = pd.Index(sorted(panel["district_id"]))
    country = panel.set_index("district_id")["country"]
    at_5km = border_adjacency(geometry, ids, country, afpak.CROSS_BORDER_KM)
    at_0km = border_adjacency(geometry, ids, country, 0.0)
    by_name = panel.set_index(["district_name", "admin1"])["district_id"]
    for name, province, code in KNOWN_PAIRS:
        i, j = ids.get_loc(by_name[(name, province)]), ids.get_loc(code)
        assert at_5km[i, j] == 1, (name, code)
    chamkani = ids.get_loc(by_name[("Chamkani", "Paktya")])
    assert at_0km[chamkani, ids.get_loc("PK518")] == 0  # linked only by the tolerance
    for interior in [("Asadabad", "Kunarha"), ("Kabul", "Kabul"), ("Jalalabad", "Nangarhar")]:
        assert at_5km[ids.get_loc(by_name[interior])].nnz == 0, interior


@needs_shared
def test_real_afpak_config_gives_the_reported_cross_border_lags(built: Path) -> None:
    config = load_config(
        afpak.CONFIG,
        [
            f"data.panel={built / 'panel.parquet'}",
            f"data.catalog={built / 'catalog.toml'}",
            f"data.geometry={built / 'districts.geojson'}",
        ],
    )
    prepared = prepare(config, load_inputs(config))
    report = json.loads((built / "build_report.json").read_text())
    cross = prepared.inputs.cross_border
    assert cross.nnz // 2 == report["cross_border"]["pairs"]
    assert (np.asarray(cross.sum(axis=1)).ravel() > 0).sum() == report["cross_border"]["districts"]
    assert {"hist_spatial_xborder", "hist_spatial_xborder_decay"} <= set(prepared.features)
    assert not set(load_catalog(built / "catalog.toml").protected_features) & set(prepared.features)
