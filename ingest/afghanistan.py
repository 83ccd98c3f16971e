"""Afghanistan's district inputs: geoBoundaries ADM2 polygons with their province, the CSO
2013-14 settled population per district, and GDL SHDI regions by province.

geoBoundaries' 398 districts (AIMS, boundary year 2014) carry neither a province nor a code the
CSO tables share, and their transliterations differ from CSO's. The shipped crosswalk
(`catalogs/afghanistan_crosswalk.csv`: district_id, district_name, province, cso_district,
method) gives each polygon its province and the CSO district(s) whose population it holds. It
was made once by fuzzy name matching (method `name`), with the province of ambiguous names
taken from neighbouring polygons (`name, province of neighbours`), 8 names set by hand
(`manual`) and two CSO districts split off after 2014 added to the polygon they came from
(`later split, added to its parent`: Marja -> Nad Ali, Laja Mangel -> Laja Ahmad Khail). CSO
districts it does not place (later splits whose parent is uncertain) are reported, with
their population, by `cso_population`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.errors import DataContractError
from ingest.sources import numeric_column, read_text_csv

CROSSWALK_PATH = Path(__file__).parent / "catalogs" / "afghanistan_crosswalk.csv"
CROSSWALK_COLUMNS = ["district_id", "district_name", "province", "cso_district", "method"]
# GDL SHDI regions of Afghanistan (each a group of provinces, as GDL names them), by CSO province.
GDL_REGIONS = {
    "AFGr101": ["Kabul", "Wardak", "Kapisa", "Logar", "Parwan", "Panjsher"],
    "AFGr102": ["Bamyan", "Daykundi"],
    "AFGr103": ["Nangarhar", "Kunarha", "Laghman", "Nooristan"],
    "AFGr104": ["Samangan", "Saripul", "Balkh", "Jawzjan", "Faryab"],
    "AFGr105": ["Baghlan", "Takhar", "Badakhshan", "Kunduz"],
    "AFGr106": ["Urozgan", "Helmand", "Zabul", "Nimroz", "Kandahar"],
    "AFGr107": ["Ghazni", "Paktya", "Paktika", "Khost"],
    "AFGr108": ["Ghor", "Herat", "Badghis", "Farah"],
}
GDL_BY_PROVINCE = {p: code for code, provinces in GDL_REGIONS.items() for p in provinces}


def read_cso_population(path: str | Path) -> pd.DataFrame:
    """CSO settled population 2013-14 (tidy file) -> province, district, persons (district
    rows only; the file's figures are thousands)."""
    path = Path(path)
    frame = read_text_csv(path)
    missing = [
        c for c in ("province", "district", "is_province_total", "total_k") if c not in frame
    ]
    if missing:
        raise DataContractError(f"{path}: required column(s) {missing} missing")
    total = numeric_column(frame, "total_k", path)
    rows = frame["is_province_total"].str.strip() != "1"
    out = pd.DataFrame(
        {
            "province": frame["province"].str.strip(),
            "district": frame["district"].str.strip(),
            "persons": total * 1000.0,
        }
    )[rows.to_numpy()]
    bad = out["persons"].isna() | (out["persons"] < 0)
    if bad.any():
        lines = frame.loc[out.index[bad], "line"].tolist()[:5]
        raise DataContractError(f"{path}: column 'total_k' missing or negative at lines {lines}")
    return out.reset_index(drop=True)


def read_crosswalk(path: str | Path = CROSSWALK_PATH) -> pd.DataFrame:
    """The polygon -> province and CSO district table (see the module docstring)."""
    path = Path(path)
    frame = read_text_csv(path)
    missing = [c for c in CROSSWALK_COLUMNS if c not in frame.columns]
    if missing:
        raise DataContractError(f"{path}: required column(s) {missing} missing")
    blank = frame[CROSSWALK_COLUMNS[:4]].isna().any(axis=1)
    if blank.any():
        raise DataContractError(f"{path}: empty cells at lines {frame.loc[blank, 'line'].tolist()}")
    names = frame.drop_duplicates("district_id")
    if names.groupby("province")["district_name"].apply(lambda s: s.duplicated().any()).any():
        raise DataContractError(f"{path}: a district name repeats within a province")
    return frame[CROSSWALK_COLUMNS].apply(lambda c: c.str.strip())


def afghanistan_districts(polygons: pd.DataFrame, crosswalk: pd.DataFrame) -> pd.DataFrame:
    """Polygons (district_id, ..., geometry) with `district_name` (whitespace-clean) and
    `admin1` (CSO province) from the crosswalk; every polygon must be listed, and only them."""
    first = crosswalk.drop_duplicates("district_id").set_index("district_id")
    ids = pd.Index(polygons["district_id"])
    unlisted = ids.difference(first.index)
    unknown = first.index.difference(ids)
    if len(unlisted) or len(unknown):
        raise DataContractError(
            f"{CROSSWALK_PATH.name}: polygons not listed {list(unlisted[:5])}, listed ids "
            f"without a polygon {list(unknown[:5])}: the crosswalk belongs to another "
            "geoBoundaries release"
        )
    return polygons.assign(
        district_name=first.loc[ids, "district_name"].to_numpy(),
        admin1=first.loc[ids, "province"].to_numpy(),
    )


def cso_population(cso: pd.DataFrame, crosswalk: pd.DataFrame) -> tuple[pd.Series, dict]:
    """Persons per district_id (CSO districts summed onto their polygon) and a report of the
    CSO districts not placed. A crosswalk entry naming no CSO district raises."""
    keyed = cso.set_index(["province", "district"])["persons"]
    if keyed.index.duplicated().any():
        raise DataContractError("CSO population: a district repeats within its province")
    pairs = pd.MultiIndex.from_frame(crosswalk[["province", "cso_district"]])
    unknown = pairs.difference(keyed.index)
    if len(unknown):
        raise DataContractError(
            f"{CROSSWALK_PATH.name}: CSO district(s) {list(unknown[:5])} not in the CSO table"
        )
    persons = pd.Series(keyed.loc[pairs].to_numpy(), index=crosswalk["district_id"])
    per_district = persons.groupby(level=0).sum().rename("persons")
    placed = keyed.index.isin(pairs)
    report = {
        "cso_districts": len(keyed),
        "placed": int(placed.sum()),
        "not_placed": [f"{p}: {d}" for p, d in keyed.index[~placed]],
        "persons_not_placed": round(float(keyed[~placed].sum())),
        "share_not_placed": round(float(keyed[~placed].sum() / keyed.sum()), 4),
        "crosswalk_methods": crosswalk["method"].value_counts().to_dict(),
    }
    return per_district, report


def gdl_region_of(districts: pd.DataFrame) -> pd.Series:
    """GDL SHDI region of each district (index district_id) from its province (`admin1`)."""
    region = districts["admin1"].map(GDL_BY_PROVINCE)
    unknown = districts.loc[region.isna(), "admin1"]
    if len(unknown):
        raise DataContractError(f"SHDI: no GDL region for province(s) {sorted(set(unknown))}")
    return pd.Series(region.to_numpy(), index=districts["district_id"], name="gdl_code")
