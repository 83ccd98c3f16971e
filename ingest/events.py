"""Point events -> `incidents` per district and period: actor and precision filters, spatial join.

Pure functions over the normalised event table of `ingest.sources` (columns `date`,
`latitude`, `longitude`, `where_prec`, `side_a`, `side_b`, `dyad_name`, ...). Nothing is
dropped silently: `select_events` returns the count of every event it leaves out, by reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import pandas as pd

Period = Literal["year", "month"]

# Full-match patterns (case-insensitive) for actor names as UCDP GED spells them (checked on the
# Pakistan extract: "IS", "TTP", "TTP - TA", "TTP-KM", "TTP-Islahi", "al-Qaida", "LeJ",
# "Lashkar-e-Islam", "Jamaat-ul-Ahrar"), plus the spellings other sources use.
ISLAMIC_STATE = r"IS|ISIS|ISIL|ISKP|IS-?K|IS ?- ?Khorasan|Islamic State.*|Daesh"
EXTREMIST_PATTERNS: tuple[str, ...] = (
    ISLAMIC_STATE,
    r"TTP\b.*|Tehrik-?[ei]-?Taliban(?: Pakistan)?.*|Tehreek-?[ei]-?Taliban.*|Pakistani Taliban",
    r"al-?Qa[e']?ida.*|AQIS",
    r"LeJ|Lashkar-?e-?Jhangvi.*",
    r"Lashkar-?e-?Islam",
    r"JuA|Jamaat-?ul-?Ahrar.*",
)
IS_PATTERNS: tuple[str, ...] = (ISLAMIC_STATE,)
ACTOR_SETS: dict[str, tuple[str, ...]] = {"extremist": EXTREMIST_PATTERNS, "is": IS_PATTERNS}
# The AF-PAK panel's set adds the armed groups of the Afghan war, as GED names them: the
# Taleban (GED codes Haqqani network activity under "Taleban"), the IMU and Hizb-i
# Islami-yi Afghanistan. Not in it: UIFSA (Northern Alliance, 2001), the Taleban splinter
# "High Council of Afghanistan Islamic Emirate" (its events are fights with the Taleban, kept
# through them), tribal lashkars and militias.
AFPAK_EXTREMIST_PATTERNS: tuple[str, ...] = (
    *EXTREMIST_PATTERNS,
    r"Taleban|Taliban|Afghan Taliban",
    r"IMU|Islamic Movement of Uzbekistan",
    r"Hizb-?i[ -]Islami(?:-?yi Afghanistan)?|Hezb-?e-?Islami",
)
AFPAK_ACTOR_SETS: dict[str, tuple[str, ...]] = {
    "extremist": AFPAK_EXTREMIST_PATTERNS,
    "is": IS_PATTERNS,
}
SIDE_COLUMNS = ("side_a", "side_b")
DYAD_COLUMNS = ("dyad_name",)

BAD_ROW = "bad_row"
OTHER_COUNTRY = "other_country"  # only when events are matched country first
OUTSIDE_PERIOD = "outside_period"
FILTERED_ACTOR = "filtered_actor"
IMPRECISE = "imprecise"
OUTSIDE_DISTRICT = "outside_district"
DROP_REASONS = (BAD_ROW, OUTSIDE_PERIOD, FILTERED_ACTOR, IMPRECISE, OUTSIDE_DISTRICT)


@dataclass(frozen=True)
class EventSelection:
    """Events kept (with `district_id` and `period`) and the count dropped for each reason.

    Reasons are applied in DROP_REASONS order and an event counts once, for the first reason
    that removes it; `n_read` = len(kept) + sum(dropped.values()). `by_country` gives, per
    country of a country-first selection, its events read, kept and dropped by reason.
    """

    kept: pd.DataFrame
    dropped: dict[str, int]
    n_read: int
    by_country: dict[str, dict] = field(default_factory=dict)


def actor_mask(
    events: pd.DataFrame,
    patterns: Sequence[str],
    side_columns: Sequence[str] = SIDE_COLUMNS,
    dyad_columns: Sequence[str] = DYAD_COLUMNS,
) -> pd.Series:
    """True where an actor matches: a side column matches a pattern whole, or a dyad name
    ('A - B') holds a matching actor between its ' - ' separators. Case-insensitive."""
    if not patterns:
        raise ValueError("actor filter needs at least one pattern")
    joined = "|".join(f"(?:{p})" for p in patterns)
    whole = re.compile(joined, re.IGNORECASE)
    in_dyad = re.compile(rf"(?:^|\s-\s)\s*(?:{joined})\s*(?=\s-\s|$)", re.IGNORECASE)
    mask = pd.Series(False, index=events.index)
    for column in side_columns:
        if column in events.columns:
            names = events[column].astype("string").fillna("").str.strip()
            mask |= names.str.fullmatch(whole).astype(bool)
    for column in dyad_columns:
        if column in events.columns:
            names = events[column].astype("string").fillna("").str.strip()
            mask |= names.str.contains(in_dyad, regex=True).astype(bool)
    return mask


def precision_mask(events: pd.DataFrame, max_where_prec: float | None) -> pd.Series:
    """True where `where_prec` <= the limit (unknown precision fails); all True without one."""
    if max_where_prec is None:
        return pd.Series(True, index=events.index)
    return (events["where_prec"] <= max_where_prec).fillna(False).astype(bool)


def period_of(dates: pd.Series, period: Period = "year") -> pd.Series:
    """The period of each date: the year (int) or 'YYYY-MM' (text)."""
    if period == "year":
        return dates.dt.year.astype("int64")
    if period == "month":
        return dates.dt.strftime("%Y-%m")
    raise ValueError(f"period must be 'year' or 'month', not {period!r}")


def panel_periods(first_year: int, last_year: int, period: Period = "year") -> list:
    """Every period from January of `first_year` to December of `last_year`, in order."""
    if last_year < first_year:
        raise ValueError(f"last year {last_year} is before first year {first_year}")
    if period == "year":
        return list(range(first_year, last_year + 1))
    months = pd.period_range(f"{first_year}-01", f"{last_year}-12", freq="M")
    return [str(m) for m in months]


def assign_districts(events: pd.DataFrame, districts: gpd.GeoDataFrame) -> pd.Series:
    """`district_id` of the polygon holding each event point (NaN outside every polygon).

    A point on a shared boundary goes to the lowest district_id, so each event counts once.
    Coordinates and polygons are lon/lat (EPSG:4326).
    """
    points = gpd.GeoDataFrame(
        index=events.index,
        geometry=gpd.points_from_xy(events["longitude"], events["latitude"]),
        crs=4326,
    )
    polygons = districts[["district_id", "geometry"]].to_crs(4326)
    joined = gpd.sjoin(points, polygons, how="inner", predicate="intersects")
    first = joined.sort_values("district_id", kind="stable").groupby(level=0)["district_id"]
    return first.first().reindex(events.index)


def select_events(
    events: pd.DataFrame,
    districts: gpd.GeoDataFrame,
    periods: Sequence,
    patterns: Sequence[str] | None = EXTREMIST_PATTERNS,
    max_where_prec: float | None = 2,
    period: Period = "year",
    bad_rows: int = 0,
) -> EventSelection:
    """Keep events in `periods`, by a matching actor (`patterns`; None keeps all), precise
    enough (`where_prec` <= `max_where_prec`) and inside a district polygon.

    `bad_rows` (malformed rows the reader dropped) is reported under BAD_ROW. The kept table
    gains `district_id` and `period`.
    """
    dropped = dict.fromkeys(DROP_REASONS, 0)
    dropped[BAD_ROW] = int(bad_rows)
    frame = events.assign(period=period_of(events["date"], period))
    steps = [
        (OUTSIDE_PERIOD, lambda f: f["period"].isin(list(periods))),
        (FILTERED_ACTOR, lambda f: actor_mask(f, patterns) if patterns is not None else True),
        (IMPRECISE, lambda f: precision_mask(f, max_where_prec)),
    ]
    for reason, keep in steps:
        mask = pd.Series(keep(frame), index=frame.index).astype(bool)
        dropped[reason] = int((~mask).sum())
        frame = frame.loc[mask]
    frame = frame.assign(district_id=assign_districts(frame, districts))
    outside = frame["district_id"].isna()
    dropped[OUTSIDE_DISTRICT] = int(outside.sum())
    kept = frame.loc[~outside].reset_index(drop=True)
    return EventSelection(kept=kept, dropped=dropped, n_read=len(events) + int(bad_rows))


def select_events_by_country(
    events: pd.DataFrame,
    districts: gpd.GeoDataFrame,
    periods: Sequence,
    patterns: Sequence[str] | None = EXTREMIST_PATTERNS,
    max_where_prec: float | None = 2,
    period: Period = "year",
    bad_rows: int = 0,
) -> EventSelection:
    """`select_events` country first: an event is matched only against the polygons of its
    own country (events' `country` = districts' `country`, e.g. "Afghanistan"), so a point
    that the simplified border puts in a neighbour's polygon is not counted there.

    Events of another or no country are dropped as OTHER_COUNTRY (after BAD_ROW, before the
    other reasons); `by_country` counts each panel country's events by reason.
    """
    if "country" not in events.columns or "country" not in districts.columns:
        raise ValueError("country-first selection needs a 'country' column in events and districts")
    countries = list(dict.fromkeys(districts["country"]))
    named = events["country"].astype("string").str.strip()
    dropped = {BAD_ROW: int(bad_rows), OTHER_COUNTRY: int((~named.isin(countries)).sum())} | {
        reason: 0 for reason in DROP_REASONS if reason != BAD_ROW
    }
    kept, by_country = [], {}
    for country in countries:
        own = districts[districts["country"] == country]
        part = select_events(
            events[(named == country).fillna(False).to_numpy()],
            own, periods, patterns, max_where_prec, period,
        )  # fmt: skip
        kept.append(part.kept)
        reasons = {k: v for k, v in part.dropped.items() if k != BAD_ROW}
        by_country[country] = {"read": part.n_read, "kept": len(part.kept), "dropped": reasons}
        for reason, count in reasons.items():
            dropped[reason] += count
    frame = pd.concat(kept, ignore_index=True)
    n_read = len(events) + int(bad_rows)
    return EventSelection(kept=frame, dropped=dropped, n_read=n_read, by_country=by_country)


def incident_counts(
    kept: pd.DataFrame, district_ids: Sequence[str], periods: Sequence
) -> pd.DataFrame:
    """`incidents` for every (district_id, period) of the grid, zero where no event was kept.

    Events of districts or periods outside the grid raise ValueError (select them first).
    """
    grid = pd.MultiIndex.from_product(
        [pd.Index(list(district_ids), dtype="object"), pd.Index(list(periods))],
        names=["district_id", "period"],
    )
    counts = kept.groupby(["district_id", "period"]).size()
    outside = counts.index.difference(grid)
    if len(outside):
        raise ValueError(f"events outside the district-period grid: {list(outside[:5])}")
    full = counts.reindex(grid, fill_value=0).astype("int64")
    return full.rename("incidents").reset_index()
