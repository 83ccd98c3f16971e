"""Readers of the raw sources behind the real-data panels: the only file I/O for them.

Events (UCDP GED, plain or the HDX variant with a row of HXL tags; ACLED-style CSVs) come back
as one normalised table; the census, GDL SHDI, WGI, WDI and V-Dem readers return tidy frames
(district polygons: `ingest.polygons`). Malformed inputs raise `DataContractError`
naming the file, the column and the lines (line 1 is the header), or, for events read with
`on_bad="drop"`, are dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import pandas as pd

from features.errors import DataContractError

EVENT_COLUMNS = (
    "event_id date latitude longitude where_prec side_a side_b dyad_name adm_1 adm_2 country line"
).split()
GED_REQUIRED = ["id", "date_start", "latitude", "longitude", "where_prec", "side_a", "side_b"]
YEAR_ONLY = "year"  # GED subsets without dates (year only) are read with `date` = 1 January
ACLED_REQUIRED = ["event_date", "latitude", "longitude", "actor1", "actor2"]
MISSING_MARKERS = {"", "..", "#N/A", "NA", "NaN", "nan"}
MAX_LINES_SHOWN = 5
OnBad = Literal["raise", "drop"]


@dataclass(frozen=True)
class LoadedEvents:
    """Normalised events (EVENT_COLUMNS) of one file, and what was dropped as malformed.

    `n_rows` counts the file's event rows (HXL row excluded); `n_bad` the rows dropped for a
    missing or unparseable date or coordinate (0 unless read with `on_bad="drop"`);
    `bad_by_column` says which column made them bad (a row counts once, for its first).
    `year_only`: the file gives years, not dates (no monthly periods).
    """

    path: Path
    events: pd.DataFrame
    n_rows: int
    n_bad: int = 0
    bad_by_column: dict[str, int] = field(default_factory=dict)
    year_only: bool = False


def _lines_text(lines: pd.Series, values: pd.Series | None = None) -> str:
    shown = [
        f"{line}" + (f" ({values.loc[i]!r})" if values is not None else "")
        for i, line in list(lines.items())[:MAX_LINES_SHOWN]
    ]
    more = f" and {len(lines) - MAX_LINES_SHOWN} more" if len(lines) > MAX_LINES_SHOWN else ""
    return ", ".join(shown) + more


def read_text_csv(path: str | Path) -> pd.DataFrame:
    """Every cell as text (empty -> NaN), with a `line` column giving each row's file line."""
    path = Path(path)
    if not path.is_file():
        raise DataContractError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataContractError(f"{path}: cannot be read as CSV ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.assign(line=range(2, len(frame) + 2))


def drop_hxl_row(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop the HDX hashtag row (e.g. `#date+year`) when it is the first data row."""
    if frame.empty:
        return frame
    first = frame.drop(columns="line").iloc[0].dropna().astype(str).str.strip()
    first = first[first != ""]
    if len(first) and first.str.startswith("#").all():
        return frame.iloc[1:].reset_index(drop=True)
    return frame


def _require(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataContractError(
            f"{path}: required column(s) {missing} missing; columns are "
            f"{[c for c in frame.columns if c != 'line']}"
        )


def parse_dates(text: pd.Series) -> pd.Series:
    """ISO dates (time part allowed, as in HDX files) or ACLED's '12 January 2021'; else NaT."""
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    spelled = pd.to_datetime(text, errors="coerce", format="%d %B %Y")
    return parsed.fillna(spelled).astype("datetime64[ns]")


def numeric_column(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Numbers of a text column; missing markers ('', '..', '#N/A') become NaN, others raise."""
    text = frame[column].astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() & text.notna() & ~text.isin(MISSING_MARKERS)
    if bad.any():
        lines = frame.loc[bad, "line"]
        raise DataContractError(
            f"{path}: column '{column}' must be numeric; bad values at lines "
            f"{_lines_text(lines, frame.loc[bad, column])}"
        )
    return values.astype("float64")


def _bad_masks(normal: pd.DataFrame, date_column: str) -> dict[str, pd.Series]:
    """Per source column, the rows it makes unusable: no date, no or impossible coordinates."""
    lat, lon = normal["latitude"], normal["longitude"]
    return {
        date_column: normal["date"].isna(),
        "latitude": lat.isna() | ~lat.between(-90, 90),
        "longitude": lon.isna() | ~lon.between(-180, 180),
    }


def _settle_bad_rows(
    raw: pd.DataFrame, normal: pd.DataFrame, date_column: str, path: Path, on_bad: OnBad
) -> LoadedEvents:
    masks = _bad_masks(normal, date_column)
    any_bad = pd.Series(False, index=normal.index)
    counts: dict[str, int] = {}
    for column, mask in masks.items():
        new = mask & ~any_bad
        if not mask.any():
            continue
        if on_bad == "raise":
            raise DataContractError(
                f"{path}: column '{column}' is missing or unparseable at lines "
                f"{_lines_text(raw.loc[mask, 'line'], raw.loc[mask, column])}; fix those rows "
                "or drop and count them (on_bad='drop', --drop-bad-rows)"
            )
        counts[column] = int(new.sum())
        any_bad |= mask
    kept = normal.loc[~any_bad, EVENT_COLUMNS].reset_index(drop=True)
    return LoadedEvents(path, kept, len(normal), int(any_bad.sum()), counts)


def _coordinates(raw: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    lat = pd.to_numeric(raw["latitude"].astype("string").str.strip(), errors="coerce")
    lon = pd.to_numeric(raw["longitude"].astype("string").str.strip(), errors="coerce")
    return lat.astype("float64"), lon.astype("float64")


def _text(raw: pd.DataFrame, column: str) -> pd.Series:
    if column not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype="string")
    return raw[column].astype("string").str.strip()


def read_ged_events(path: str | Path, on_bad: OnBad = "raise") -> LoadedEvents:
    """UCDP GED events (plain UCDP CSV or HDX extract with its HXL row), normalised.

    `date` is `date_start` (1 January of `year` in subsets without dates, `year_only`);
    `where_prec` is UCDP's location precision (1 exact … 7 country).
    """
    path = Path(path)
    raw = drop_hxl_row(read_text_csv(path))
    year_only = "date_start" not in raw.columns and YEAR_ONLY in raw.columns
    if year_only:
        raw["date_start"] = _first_of_january(raw[YEAR_ONLY])
    _require(raw, GED_REQUIRED, path)
    lat, lon = _coordinates(raw)
    side_a, side_b = _text(raw, "side_a"), _text(raw, "side_b")
    dyad = _text(raw, "dyad_name").fillna(side_a + " - " + side_b)
    normal = pd.DataFrame(
        {
            "event_id": _text(raw, "id"),
            "date": parse_dates(raw["date_start"]),
            "latitude": lat,
            "longitude": lon,
            "where_prec": numeric_column(raw, "where_prec", path),
            "side_a": side_a,
            "side_b": side_b,
            "dyad_name": dyad,
            "adm_1": _text(raw, "adm_1"),
            "adm_2": _text(raw, "adm_2"),
            "country": _text(raw, "country"),
            "line": raw["line"],
        }
    )
    date_column = YEAR_ONLY if year_only else "date_start"
    loaded = _settle_bad_rows(raw, normal, date_column, path, on_bad)
    return replace(loaded, year_only=year_only)


def _first_of_january(text: pd.Series) -> pd.Series:
    """1 January of each year given as text; NaT where it is no whole year from 1 to 9999."""
    years = pd.to_numeric(text.astype("string").str.strip(), errors="coerce")
    whole = years.where((years == years.round()) & years.between(1, 9999))
    parts = pd.DataFrame({"year": whole, "month": 1, "day": 1})
    return pd.to_datetime(parts, errors="coerce")


def read_acled_events(path: str | Path, on_bad: OnBad = "raise") -> LoadedEvents:
    """ACLED-style events: event_date, latitude, longitude, actor1, actor2, admin1, admin2.

    `geo_precision` (1-3), when present, becomes `where_prec`; without it precision is unknown
    (NaN) and such events pass only a build without a precision limit.
    """
    path = Path(path)
    raw = drop_hxl_row(read_text_csv(path))
    _require(raw, ACLED_REQUIRED, path)
    lat, lon = _coordinates(raw)
    actor1, actor2 = _text(raw, "actor1"), _text(raw, "actor2")
    ids = _text(raw, "event_id_cnty") if "event_id_cnty" in raw.columns else _text(raw, "line")
    precision = (
        numeric_column(raw, "geo_precision", path)
        if "geo_precision" in raw.columns
        else pd.Series(float("nan"), index=raw.index)
    )
    normal = pd.DataFrame(
        {
            "event_id": ids.fillna(raw["line"].astype("string")),
            "date": parse_dates(raw["event_date"]),
            "latitude": lat,
            "longitude": lon,
            "where_prec": precision,
            "side_a": actor1,
            "side_b": actor2,
            "dyad_name": actor1.fillna("") + " - " + actor2.fillna(""),
            "adm_1": _text(raw, "admin1"),
            "adm_2": _text(raw, "admin2"),
            "country": _text(raw, "country"),
            "line": raw["line"],
        }
    )
    return _settle_bad_rows(raw, normal, "event_date", path, on_bad)


def read_events(path: str | Path, on_bad: OnBad = "raise") -> LoadedEvents:
    """GED or ACLED-style events, told apart by their header (`date_start` vs `event_date`)."""
    path = Path(path)
    try:
        header = pd.read_csv(path, nrows=0).columns
    except FileNotFoundError:
        raise DataContractError(f"{path}: file not found") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataContractError(f"{path}: cannot be read as CSV ({exc})") from None
    reader = read_acled_events if "event_date" in header else read_ged_events
    return reader(path, on_bad)


CENSUS_LABELS = set(
    "province name_admin_unit part_of_district admin_unit region religion language vars hh_type "
    "age_group nationality type_of_housing_units disab_func_lim line".split()
)


def read_census_table(path: str | Path) -> pd.DataFrame:
    """One PBS census-2023 district table: label columns as text, every other one numeric."""
    path = Path(path)
    frame = read_text_csv(path)
    _require(frame, ["province", "name_admin_unit"], path)
    for column in frame.columns:
        if column not in CENSUS_LABELS:
            frame[column] = numeric_column(frame, column, path)
        elif column != "line":
            frame[column] = frame[column].astype("string").str.strip()
    return frame


def read_census_tables(folder: str | Path, numbers: list[int]) -> dict[int, pd.DataFrame]:
    """Tables `census2023_tableNN_district.csv` of `folder`, by table number."""
    folder = Path(folder)
    return {n: read_census_table(folder / f"census2023_table{n:02d}_district.csv") for n in numbers}


def read_crosswalk(path: str | Path) -> pd.DataFrame:
    """Census -> OCHA name table: census_name, adm2_name, share (of the census district)."""
    path = Path(path)
    frame = read_text_csv(path)
    _require(frame, ["census_name", "adm2_name", "share"], path)
    shares = numeric_column(frame, "share", path)
    bad = shares.isna() | (shares <= 0) | (shares > 1)
    if bad.any():
        raise DataContractError(
            f"{path}: column 'share' must lie in (0, 1]; bad at lines "
            f"{_lines_text(frame.loc[bad, 'line'])}"
        )
    return frame.assign(
        census_name=frame["census_name"].str.strip(),
        adm2_name=frame["adm2_name"].str.strip(),
        share=shares,
    )


def _year_columns(frame: pd.DataFrame) -> dict[str, int]:
    """Columns named like a year ('1990' or WDI's '1994 [YR1994]') -> the year."""
    years = {}
    for column in frame.columns:
        head = str(column).split(" ")[0]
        if head.isdigit() and len(head) == 4:
            years[column] = int(head)
    return years


def _melt_years(frame: pd.DataFrame, ids: list[str], path: Path, name: str) -> pd.DataFrame:
    years = _year_columns(frame)
    if not years:
        raise DataContractError(f"{path}: no year columns (like '1990') found")
    for column in years:
        frame[column] = numeric_column(frame, column, path)
    long = frame.melt(id_vars=ids, value_vars=list(years), var_name="year", value_name=name)
    return long.assign(year=long["year"].map(years).astype("int64"))


def read_gdl_shdi(path: str | Path) -> pd.DataFrame:
    """GDL subnational HDI, wide by year -> iso3, gdl_code, region, level, year, shdi."""
    path = Path(path)
    frame = read_text_csv(path)
    _require(frame, ["ISO_Code", "Level", "GDLCODE", "Region"], path)
    long = _melt_years(frame, ["ISO_Code", "Level", "GDLCODE", "Region"], path, "shdi")
    long = long.rename(
        columns={"ISO_Code": "iso3", "Level": "level", "GDLCODE": "gdl_code", "Region": "region"}
    )
    return long.dropna(subset=["shdi"]).reset_index(drop=True)


def read_wgi(path: str | Path) -> pd.DataFrame:
    """World Bank WGI, long -> iso3, year, indicator (cc, ge, pv, rl, rq, va), estimate."""
    path = Path(path)
    frame = read_text_csv(path)
    _require(frame, ["code", "year", "indicator", "estimate"], path)
    out = pd.DataFrame(
        {
            "iso3": frame["code"].str.strip(),
            "year": numeric_column(frame, "year", path),
            "indicator": frame["indicator"].str.strip(),
            "estimate": numeric_column(frame, "estimate", path),
        }
    )
    out = out.dropna(subset=["year", "estimate"])
    return out.assign(year=out["year"].astype("int64")).reset_index(drop=True)


def read_wdi(path: str | Path) -> pd.DataFrame:
    """WDI DataBank export, wide by year ('..' = missing) -> iso3, series, year, value."""
    path = Path(path)
    frame = read_text_csv(path)
    _require(frame, ["Country Code", "Series Code"], path)
    frame = frame.dropna(subset=["Series Code"])  # DataBank footer lines carry no series
    long = _melt_years(frame, ["Country Code", "Series Code"], path, "value")
    long = long.rename(columns={"Country Code": "iso3", "Series Code": "series"})
    return long.dropna(subset=["value"]).reset_index(drop=True)


def read_vdem(path: str | Path) -> pd.DataFrame:
    """OWID export of a V-Dem index (Entity, Code, Year, <value>) -> iso3, year, value."""
    path = Path(path)
    frame = read_text_csv(path)
    _require(frame, ["Code", "Year"], path)
    values = [c for c in frame.columns if c not in {"Entity", "Code", "Year", "line"}]
    if len(values) != 1:
        raise DataContractError(f"{path}: expected one value column besides Entity, Code, Year")
    out = pd.DataFrame(
        {
            "iso3": frame["Code"].str.strip(),
            "year": numeric_column(frame, "Year", path),
            "value": numeric_column(frame, values[0], path),
        }
    ).dropna()
    return out.assign(year=out["year"].astype("int64")).reset_index(drop=True)
