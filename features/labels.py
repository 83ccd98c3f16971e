"""How districts and periods are named for people: the panel's label columns and period arithmetic.

Shared by the run (which writes them into forecast.csv and plan.csv) and the reports (which
show them), so both name a district and a forecast period the same way.
"""

from __future__ import annotations

import re

import pandas as pd

# panel column -> label column in result tables and reports
LABEL_COLUMNS = {"district_name": "district_name", "admin1": "admin1", "country": "country"}


def district_labels(panel: pd.DataFrame | None, ids) -> pd.DataFrame:
    """`ids` (district ids) -> district_name, admin1 and country from the panel's latest row of
    each district; where the panel lacks a column or a district, the name is the id and
    admin1/country are empty. Indexed by district_id (as text)."""
    ids = pd.Index(pd.Series(ids, dtype=object).astype(str).drop_duplicates(), name="district_id")
    out = pd.DataFrame({"district_name": ids.to_numpy(), "admin1": "", "country": ""}, index=ids)
    if panel is None:
        return out
    latest = panel.drop_duplicates("district_id", keep="last")
    latest = latest.set_axis(latest["district_id"].astype(str)).drop(columns="district_id")
    for column, key in LABEL_COLUMNS.items():
        if column in latest.columns:
            values = latest[column].reindex(ids)
            out[key] = values.where(values.notna(), out[key]).astype(str)
    return out


def period_after(period: str, steps: int) -> str:
    """The period `steps` after `period`: years (2022 -> 2023) and months (2022-12 -> 2023-01);
    any other text gets ` + steps`."""
    if re.fullmatch(r"\d{4}-\d{2}", period):
        months = int(period[:4]) * 12 + int(period[5:]) - 1 + steps
        return f"{months // 12:04d}-{months % 12 + 1:02d}"
    return str(int(period) + steps) if period.isdigit() else f"{period} + {steps}"


def previous_period(periods, period: str) -> str | None:
    """The period just before `period` among `periods` (text, sorted as text: years and
    YYYY-MM months sort in time order); None when `period` is the first or absent."""
    unique = periods.unique() if hasattr(periods, "unique") else set(periods)  # 1M rows: first
    ordered = sorted({str(p) for p in unique})
    return ordered[ordered.index(period) - 1] if period in ordered[1:] else None
