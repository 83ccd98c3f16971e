"""The report's district maps (forecast risk, the plan and the forecast's uncertainty, with
country and province outlines) and its table of countries and provinces."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.labels import period_after
from reports import plots
from reports.results import Results


def borders_of(geo, labels: pd.DataFrame) -> dict:
    """Outlines of the countries and provinces the districts belong to (from the panel's
    `country` / `admin1` columns), as lines; a level with fewer than two units is left out."""
    out = {}
    for level in ("country", "admin1"):
        units = geo["district_id"].map(labels[level]).replace("", np.nan)
        if units.nunique() >= 2:
            out[level] = geo.assign(unit=units).dropna(subset=["unit"]).dissolve("unit").boundary
    return out


def district_maps(res: Results, labels: pd.DataFrame, programs: pd.Series) -> dict:
    """The report's maps (risk, plan, uncertainty) as image URIs, with country and province
    outlines; `programs`: district_id -> the plan's program(s)."""
    geo = res.geometry.merge(
        res.forecast[["district_id", "probability"]], on="district_id", how="left"
    )
    borders = borders_of(geo, labels)
    s = res.summary
    title = f"Forecast risk for {period_after(str(s.forecast_period), s.horizon)}"
    out = {"risk": plots.risk_map(geo, "probability", borders, title), "plan": None}
    out["uncertainty"] = None
    if {"risk_low", "risk_high"} <= set(res.forecast.columns):
        width = res.forecast.set_index("district_id")
        width = 100 * (width["risk_high"] - width["risk_low"])
        out["uncertainty"] = plots.uncertainty_map(
            geo.assign(width=geo["district_id"].map(width)), "width", borders
        )
    if res.plan is not None:
        out["plan"] = plots.plan_map(
            geo.assign(program=geo["district_id"].map(programs)), borders=borders
        )
    return out


def aggregate_rows(res: Results) -> list[dict] | None:
    """aggregates.csv for the report: countries, then provinces (the 'all' row only when the
    districts are not in exactly one country); None when the run wrote none."""
    table = res.aggregates
    if table is None:
        return None
    table = table.fillna({"unit": "", "country": ""})
    countries = table[table["level"] == "country"]
    first = table[table["level"] == "all"] if len(countries) != 1 else countries.iloc[:0]
    ordered = [first, countries, table[table["level"] == "admin1"]]
    return pd.concat(ordered).to_dict("records")
