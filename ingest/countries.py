"""The countries a panel can be built from, as inputs of the one builder (`ingest.panel`).

A `Country` names its polygons, how its districts get a GDL SHDI region, and its district
covariates (a `DistrictBlock`: model covariates, protected columns, report). Pakistan comes in
three covariate sets: the full census 2023 block of the Pakistan panel; population only, for
panels whose other countries have nothing more; and population plus that census block (AF-PAK),
whose census_* columns are NaN for the other countries' districts (catalog `missing =
"allowed"`). The census religion, language and Afghan-national shares stay PROTECTED columns
(NaN elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ingest import afghanistan as afg
from ingest import census as cz
from ingest import sources
from ingest.polygons import read_adm2_polygons

EQUAL_AREA_CRS = 6933  # WGS 84 / NSIDC EASE-Grid 2.0 Global: areas in m²
PAK_POLYGONS = "ocha_cod_pak_adm2/pak_adm2_districts_simplified.geojson"
PAK_CENSUS = "pbs_census2023_pakistan"
AFG_POLYGONS = "geoboundaries_afg_adm2/geoBoundaries-AFG-ADM2_simplified.geojson"
AFG_POPULATION = "cso_afghanistan_pop_2013_14/afg_district_settled_population_2013_14.csv"
POPULATION_MISSING = "population_missing"


@dataclass(frozen=True)
class DistrictBlock:
    """Static covariates of one country's districts (index district_id), its protected
    columns, report sections for build_report.json and lines for the printed summary."""

    features: pd.DataFrame
    protected: pd.DataFrame
    report: dict = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Country:
    """One country of a panel. `name` labels its districts (`country` column) and must be
    how the events file names it; `files` (under the shared folder) are listed in the
    report; `read_districts` returns (district_id, district_name, admin1, geometry) and the
    names of polygons left out."""

    name: str
    iso3: str
    files: dict[str, str]
    read_districts: Callable[[Path], tuple[pd.DataFrame, list[str]]]
    gdl_region: Callable[[pd.DataFrame], pd.Series]
    covariates: Callable[[Path, pd.DataFrame], DistrictBlock]


def area_km2(districts: pd.DataFrame) -> pd.Series:
    """Polygon area in km² (equal-area projection), index district_id."""
    area = districts.to_crs(EQUAL_AREA_CRS).area / 1e6
    return pd.Series(area.to_numpy(), index=districts["district_id"].to_numpy())


def population_features(persons: pd.Series, districts: pd.DataFrame) -> pd.DataFrame:
    """log population and log density per district; districts without a count get the
    median of the others and `population_missing` = 1."""
    ids = pd.Index(districts["district_id"], name="district_id")
    persons = persons.reindex(ids)
    missing = persons.isna()
    filled = persons.fillna(persons.median())
    return pd.DataFrame(
        {
            "log_population": np.log1p(filled),
            "log_density": np.log1p(filled / area_km2(districts).reindex(ids)),
            POPULATION_MISSING: missing.astype(float),
        },
        index=ids,
    )


def _census(shared: Path, districts: pd.DataFrame):
    """Census tables, crosswalk and counts per OCHA district, and the crosswalk report."""
    tables = sources.read_census_tables(shared / PAK_CENSUS, cz.CENSUS_TABLES)
    table = sources.read_crosswalk(cz.CROSSWALK_PATH)
    names = pd.concat([t["name_admin_unit"] for t in tables.values()]).dropna().unique()
    walk = cz.census_crosswalk(sorted(names), districts, table)
    counts = {n: cz.district_counts(c, walk.mapping) for n, c in cz.census_counts(tables).items()}
    ids = districts["district_id"]
    t01 = tables[1]
    repeated = t01[t01.duplicated(["name_admin_unit", "region"], keep="first")]
    names_by_id = dict(zip(ids, districts["district_name"], strict=True))
    report = {
        "census_districts": len(names),
        "matched_exact": int((walk.mapping["method"] == "exact").sum()),
        "matched_by_table": sorted(
            set(walk.mapping.loc[walk.mapping["method"] == "table", "census_name"])
        ),
        "unmatched_census_districts": walk.unmatched_census,
        "districts_without_census": [
            f"{i} {names_by_id[i]}" for i in walk.districts_without_census
        ],
        "repeated_census_rows_ignored": [
            f"table01 line {line}: {name} ({region})"
            for line, name, region in zip(
                repeated["line"], repeated["name_admin_unit"], repeated["region"], strict=True
            )
        ],
    }
    summary = [
        f"census: {len(walk.unmatched_census)} census districts unmatched, "
        f"{len(walk.districts_without_census)} districts without census rows (imputed)"
    ]
    protected = cz.protected_features(counts).reindex(pd.Index(ids, name="district_id"))
    return counts, protected, report, summary


def pakistan_census_block(shared: Path, districts: pd.DataFrame) -> DistrictBlock:
    """The Pakistan panel's census 2023 covariates (static, measured after most outcomes)."""
    counts, protected, report, summary = _census(shared, districts)
    features = cz.fill_missing_census(cz.census_features(counts), districts["district_id"])
    imputation = "districts without census rows: median of the others, census_missing = 1"
    return DistrictBlock(
        features, protected, {"census": report | {"imputation": imputation}}, summary
    )


def pakistan_population_block(shared: Path, districts: pd.DataFrame) -> DistrictBlock:
    """Population only (census 2017 counts as tabulated in the 2023 census, i.e. before the
    end of a 2001-2016 panel), plus the protected census shares."""
    counts, protected, report, summary = _census(shared, districts)
    features = population_features(counts[1]["pop_2017"], districts)
    imputation = "districts without census rows: median of the others, population_missing = 1"
    report = report | {"population": "pop_2017 of census table 01", "imputation": imputation}
    return DistrictBlock(features, protected, {"census_pakistan": report}, summary)


def pakistan_population_census_block(shared: Path, districts: pd.DataFrame) -> DistrictBlock:
    """`pakistan_population_block` plus the Pakistan panel's census 2023 covariates
    (`pakistan_census_block`'s census_* columns, census_missing included) for a panel whose
    other countries have no census: there they are NaN, declared `missing = "allowed"`."""
    counts, protected, report, summary = _census(shared, districts)
    population = population_features(counts[1]["pop_2017"], districts)
    census = cz.fill_missing_census(cz.census_features(counts), districts["district_id"])
    imputation = (
        "districts without census rows: median of the others, population_missing = 1 and "
        "census_missing = 1; districts of other countries: census_* not measured (NaN)"
    )
    report = report | {
        "population": "pop_2017 of census table 01",
        "census_covariates": list(census.columns),
        "imputation": imputation,
    }
    features = population.join(census)
    return DistrictBlock(features, protected, {"census_pakistan": report}, summary)


def afghanistan_population_block(shared: Path, districts: pd.DataFrame) -> DistrictBlock:
    """CSO 2013-14 settled population (static; nomads excluded); no protected columns."""
    cso = afg.read_cso_population(shared / AFG_POPULATION)
    persons, report = afg.cso_population(cso, afg.read_crosswalk())
    features = population_features(persons, districts)
    summary = [
        f"CSO population: {report['placed']} of {report['cso_districts']} CSO districts placed; "
        f"{len(report['not_placed'])} later splits not placed ({report['share_not_placed']:.1%} "
        "of the population)"
    ]
    empty = pd.DataFrame(index=pd.Index(districts["district_id"], name="district_id"))
    return DistrictBlock(features, empty, {"population_afghanistan": report}, summary)


def read_afghanistan_districts(path: Path) -> tuple[pd.DataFrame, list[str]]:
    polygons, excluded = read_adm2_polygons(path, "shapeID", "shapeName", None)
    return afg.afghanistan_districts(polygons, afg.read_crosswalk()), excluded


def _pakistan(covariates: Callable[[Path, pd.DataFrame], DistrictBlock]) -> Country:
    return Country(
        name="Pakistan",
        iso3="PAK",
        files={"polygons": PAK_POLYGONS, "census": PAK_CENSUS},
        read_districts=read_adm2_polygons,
        gdl_region=cz.gdl_region_of,
        covariates=covariates,
    )


PAKISTAN_CENSUS = _pakistan(pakistan_census_block)
PAKISTAN_POPULATION = _pakistan(pakistan_population_block)
PAKISTAN_POPULATION_CENSUS = _pakistan(pakistan_population_census_block)
AFGHANISTAN = Country(
    name="Afghanistan",
    iso3="AFG",
    files={
        "polygons": AFG_POLYGONS,
        "population": AFG_POPULATION,
        "crosswalk": str(afg.CROSSWALK_PATH),
    },
    read_districts=read_afghanistan_districts,
    gdl_region=afg.gdl_region_of,
    covariates=afghanistan_population_block,
)
