"""Covariates of the Pakistan panel: census 2023 by district, SHDI by province, country indices.

Pure functions. Census tables (as read by `ingest.sources.read_census_table`) are reduced to
counts per census district, mapped to OCHA districts through a name crosswalk, summed there
(so every ratio is population-weighted), and turned into shares. Religion, mother tongue and
nationality give PROTECTED columns only (disparity audit, never model inputs). Time-varying
covariates are joined with a one-period lag: period t sees yearly values of year(t) - 1 at the
latest, never a later one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.errors import DataContractError

CROSSWALK_PATH = Path(__file__).parent / "catalogs" / "pakistan_crosswalk.csv"
CENSUS_TABLES = [1, 9, 10, 11, 12, 20, 22, 23, 24]
MISSING_FLAG = "census_missing"
LAG_SUFFIX = "_lag1"
RELIGIONS = {
    "muslim": ["MUSLIM"],
    "christian": ["CHRISTIAN"],
    "hindu": ["HINDU JATI", "SCHEDULED CASTE"],
    "ahmadi": ["QADIANI/AHMADI"],
}
LANGUAGES = ["URDU", "PUNJABI", "PUSHTO", "SINDHI", "SARAIKI", "BALOCHI", "BRAHVI", "HINDKO"]
# GDL SHDI units of Pakistan by OCHA province; ex-FATA districts (merged into KP in 2018) keep
# GDL's FATA unit, which GDL reports through 2021.
GDL_BY_ADMIN1 = {
    "Punjab": "PAKr101",
    "Sindh": "PAKr102",
    "Khyber Pakhtunkhwa": "PAKr103",
    "Balochistan": "PAKr104",
    "Islamabad": "PAKr105",
    "Gilgit Baltistan": "PAKr106",
    "Azad Kashmir": "PAKr107",
}
GDL_FATA = "PAKr108"
EX_FATA_DISTRICTS = {
    "Bajaur",
    "Khyber",
    "Kurram",
    "Mohmand",
    "North Waziristan",
    "Orakzai",
    "South Waziristan",
}
WGI_INDICATORS = ["cc", "ge", "pv", "rl", "rq", "va"]
WDI_SERIES = {
    "NY.GDP.PCAP.CD": "wdi_log_gdp_pc",
    "FP.CPI.TOTL.ZG": "wdi_inflation",
    "EG.ELC.ACCS.ZS": "wdi_electricity_access",
}


@dataclass(frozen=True)
class Crosswalk:
    """Rows (census_name, district_id, share, method) and what found no partner."""

    mapping: pd.DataFrame
    unmatched_census: list[str]
    districts_without_census: list[str]


def normalise_name(name: str) -> str:
    """Upper case, '&' -> 'AND', every non-alphanumeric removed: 'Tor Ghar' == 'TORGHAR'."""
    return re.sub(r"[^A-Z0-9]", "", str(name).upper().replace("&", "AND"))


def census_crosswalk(
    census_names: Sequence[str], districts: pd.DataFrame, table: pd.DataFrame
) -> Crosswalk:
    """Map census district names to OCHA `district_id`s.

    A census district listed in `table` (census_name, adm2_name, share) is mapped by it: that
    covers 2023 renames, merges (several rows onto one OCHA district) and splits (one census
    district onto several, shares summing to 1). Every other census district is matched on
    its normalised name against `districts.district_name`. Raises DataContractError when the
    table names an unknown OCHA district or a split's shares do not sum to 1.
    """
    by_name = {
        normalise_name(n): i
        for i, n in zip(districts["district_id"], districts["district_name"], strict=True)
    }
    table = table.assign(key=table["census_name"].map(normalise_name))
    unknown = table.loc[~table["adm2_name"].map(normalise_name).isin(by_name), "adm2_name"]
    if len(unknown):
        raise DataContractError(f"crosswalk: OCHA district(s) {sorted(set(unknown))} not found")
    sums = table.groupby("key")["share"].sum()
    off = sums[(sums - 1).abs() > 1e-6]
    if len(off):
        raise DataContractError(f"crosswalk: shares of {list(off.index)} do not sum to 1")
    rows, unmatched = [], []
    for name in dict.fromkeys(census_names):
        key = normalise_name(name)
        listed = table[table["key"] == key]
        if len(listed):
            for target, share in zip(listed["adm2_name"], listed["share"], strict=True):
                rows.append((name, by_name[normalise_name(target)], float(share), "table"))
        elif key in by_name:
            rows.append((name, by_name[key], 1.0, "exact"))
        else:
            unmatched.append(name)
    mapping = pd.DataFrame(rows, columns=["census_name", "district_id", "share", "method"])
    covered = set(mapping["district_id"])
    without = [i for i in districts["district_id"] if i not in covered]
    return Crosswalk(mapping, unmatched, without)


def _overall(frame: pd.DataFrame, label: str, value: str) -> pd.DataFrame:
    """census_name x category matrix of `value` (first row wins where a name repeats)."""
    rows = frame.drop_duplicates(["name_admin_unit", label], keep="first")
    return rows.pivot(index="name_admin_unit", columns=label, values=value).fillna(0.0)


def census_counts(tables: dict[int, pd.DataFrame]) -> dict[int, pd.DataFrame]:
    """Counts per census district (index: census name) from each table, OVERALL rows only."""
    t01 = tables[1].drop_duplicates(["name_admin_unit", "region"], keep="first")
    by_region = t01.pivot(index="name_admin_unit", columns="region", values="all_sexes")
    overall = t01[t01["region"] == "OVERALL"].set_index("name_admin_unit")
    t12 = tables[12]
    educ = _overall(t12, "vars", "all_sexes_overall")
    educ_f = _overall(t12, "vars", "female_overall")
    t10 = tables[10][tables[10]["age_group"] == "ALL AGES"]
    housing = {
        n: tables[n][tables[n]["region"] == "OVERALL"].drop_duplicates("name_admin_unit")
        for n in (22, 23, 24)
    }
    return {
        1: pd.DataFrame(
            {
                "area": overall["area_sqkm"],
                "pop": overall["all_sexes"],
                "pop_2017": overall["pop_2017"],
                "pop_urban": by_region.get("URBAN", pd.Series(dtype=float)),
            }
        ).fillna(0.0),
        12: pd.DataFrame(
            {
                "pop10": educ["Population >=10"],
                "lit10": educ["Literate >=10"],
                "pop10_f": educ_f["Population >=10"],
                "lit10_f": educ_f["Literate >=10"],
                "pop5": educ["Population >=5"],
                "never_school": educ["Never to School (all)"],
            }
        ),
        20: _overall(tables[20], "hh_type", "overall")[["KACHA", "TOTAL"]].set_axis(
            ["kacha", "dwellings"], axis=1
        ),
        22: housing[22].set_index("name_admin_unit")[
            ["households", "light_elect", "fuel_firewood"]
        ],
        23: housing[23].set_index("name_admin_unit")[["drink_wtr_improve"]],
        24: housing[24].set_index("name_admin_unit")[["toilet_none"]],
        9: _overall(tables[9], "religion", "all_sexes_overall"),
        10: _overall(t10, "nationality", "overall_all_sexes"),
        11: _overall(tables[11], "language", "all_sexes_overall"),
    }


def district_counts(counts: pd.DataFrame, mapping: pd.DataFrame) -> pd.DataFrame:
    """Sum census counts onto OCHA districts (× share for splits); unmapped names are left out."""
    joined = mapping.merge(counts, left_on="census_name", right_index=True, how="inner")
    values = joined[counts.columns].mul(joined["share"], axis=0)
    return values.groupby(joined["district_id"]).sum()


def _share(num: pd.Series, den: pd.Series) -> pd.Series:
    return num.div(den.where(den > 0))


def census_features(c: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Model covariates per district from district counts (`district_counts` of each table)."""
    t1, t12, hh = c[1], c[12], c[22]
    years = 6.0  # census 2017 (March) to census 2023 (March)
    out = pd.DataFrame(
        {
            "census_log_population": np.log1p(t1["pop"]),
            "census_log_density": np.log1p(_share(t1["pop"], t1["area"])),
            "census_urban_share": _share(t1["pop_urban"], t1["pop"]),
            "census_growth_2017_23": (_share(t1["pop"], t1["pop_2017"]) ** (1 / years) - 1) * 100,
            "census_household_size": _share(t1["pop"], hh["households"]),
            "census_literacy": _share(t12["lit10"], t12["pop10"]),
            "census_female_literacy": _share(t12["lit10_f"], t12["pop10_f"]),
            "census_never_school": _share(t12["never_school"], t12["pop5"]),
            "census_electricity": _share(hh["light_elect"], hh["households"]),
            "census_firewood_cooking": _share(hh["fuel_firewood"], hh["households"]),
            "census_improved_water": _share(c[23]["drink_wtr_improve"], hh["households"]),
            "census_no_toilet": _share(c[24]["toilet_none"], hh["households"]),
            "census_kacha_housing": _share(c[20]["kacha"], c[20]["dwellings"]),
        }
    )
    return out.rename_axis("district_id")


def _summed(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    return frame.reindex(columns=columns, fill_value=0.0).sum(axis=1)


def protected_features(c: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """PROTECTED shares per district: religion, mother tongue, Afghan nationals."""
    religion, language, nation = c[9], c[11], c[10]
    believers = religion.sum(axis=1)
    speakers = language["TOTAL"] if "TOTAL" in language else language.sum(axis=1)
    out = {f"religion_{n}_share": _share(_summed(religion, cols), believers)
           for n, cols in RELIGIONS.items()}  # fmt: skip
    named = [c for cols in RELIGIONS.values() for c in cols]
    others = religion.drop(columns=named, errors="ignore").sum(axis=1)
    out["religion_other_share"] = _share(others, believers)
    for lang in LANGUAGES:
        out[f"language_{lang.lower()}_share"] = _share(_summed(language, [lang]), speakers)
    others = language.drop(columns=LANGUAGES + ["TOTAL"], errors="ignore").sum(axis=1)
    out["language_other_share"] = _share(others, speakers)
    out["afghan_nationals_share"] = _share(_summed(nation, ["AFGHANI"]), nation.sum(axis=1))
    return pd.DataFrame(out).rename_axis("district_id")


def fill_missing_census(features: pd.DataFrame, district_ids: Sequence[str]) -> pd.DataFrame:
    """One row per district: districts without census values get the median of the others
    and `census_missing` = 1 (AJK and Gilgit-Baltistan are not in the 2023 tables)."""
    full = features.reindex(pd.Index(list(district_ids), name="district_id"))
    missing = full.isna().any(axis=1)
    filled = full.fillna(features.median())
    return filled.assign(**{MISSING_FLAG: missing.astype(float)})


def gdl_region_of(districts: pd.DataFrame) -> pd.Series:
    """GDL SHDI region code of each district (index district_id), FATA for ex-FATA districts."""
    region = districts["admin1"].map(GDL_BY_ADMIN1)
    region = region.where(~districts["district_name"].isin(EX_FATA_DISTRICTS), GDL_FATA)
    unknown = districts.loc[region.isna(), "admin1"]
    if len(unknown):
        raise DataContractError(f"SHDI: no GDL region for province(s) {sorted(set(unknown))}")
    return pd.Series(region.to_numpy(), index=districts["district_id"], name="gdl_code")


def country_covariates(
    wgi: pd.DataFrame, wdi: pd.DataFrame, vdem: pd.DataFrame, iso3: str
) -> pd.DataFrame:
    """Country-year table (column `year`) of WGI estimates, selected WDI series, V-Dem EDI."""
    w = wgi[(wgi["iso3"] == iso3) & wgi["indicator"].isin(WGI_INDICATORS)]
    w = w.pivot_table(index="year", columns="indicator", values="estimate")
    w = w.reindex(columns=WGI_INDICATORS).add_prefix("wgi_")
    d = wdi[(wdi["iso3"] == iso3) & wdi["series"].isin(WDI_SERIES)]
    d = d.pivot_table(index="year", columns="series", values="value")
    d = d.reindex(columns=list(WDI_SERIES)).rename(columns=WDI_SERIES)
    d["wdi_log_gdp_pc"] = np.log(d["wdi_log_gdp_pc"])
    v = vdem[vdem["iso3"] == iso3].set_index("year")["value"].rename("vdem_electoral_democracy")
    table = pd.concat([w, d, v], axis=1).sort_index()
    return table.rename_axis("year").reset_index()


def period_year(periods: Sequence) -> pd.Series:
    """Calendar year of each period (int year or 'YYYY-MM')."""
    return pd.Series([int(str(p)[:4]) for p in periods], dtype="int64")


def lagged_by_period(table: pd.DataFrame, periods: Sequence, by: str | None = None) -> pd.DataFrame:
    """Yearly `table` (column `year`, optional key `by`) seen from each period with a lag of one:
    period t gets, per column, the latest non-missing value of a year <= year(t) - 1.

    Returns one row per period (and key) with columns renamed `<name>_lag1`; NaN where no
    value that old exists. Only past values are carried forward, never later ones.
    """
    values = [c for c in table.columns if c not in {"year", by}]
    cutoff = period_year(periods) - 1
    first = int(min(table["year"].min(), cutoff.min()))
    years = pd.RangeIndex(first, int(max(table["year"].max(), cutoff.max())) + 1, name="year")
    keys = [None] if by is None else sorted(table[by].unique())
    frames = []
    for key in keys:
        part = table if by is None else table[table[by] == key]
        grid = part.groupby("year")[values].last().reindex(years).ffill()
        seen = grid.reindex(cutoff.to_numpy()).reset_index(drop=True)
        seen.insert(0, "period", list(periods))
        if by is not None:
            seen.insert(0, by, key)
        frames.append(seen)
    out = pd.concat(frames, ignore_index=True)
    return out.rename(columns={c: f"{c}{LAG_SUFFIX}" for c in values})
