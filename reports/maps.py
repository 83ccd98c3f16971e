"""The report's district maps (forecast risk, the plan and the forecast's uncertainty, with
country and province outlines) and its table of countries and provinces."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from features.labels import period_after
from reports.plots import PROGRAM_COLORS, figure_uri, plain
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


MAP_RANKS = 10  # the highest-risk districts numbered on the risk map
MAP_DPI = 130  # sharp enough to read names in print


def map_marks(geo, labels: pd.DataFrame, probability: pd.Series) -> list[tuple]:
    """Text for the risk map: each country's name (when there are two or more) at a point
    inside it, and the rank of the MAP_RANKS highest-risk districts (`probability`:
    district_id -> forecast) at a point inside each."""
    marks = []
    countries = geo["district_id"].map(labels["country"]).replace("", np.nan)
    if countries.nunique() >= 2:
        shapes = geo.assign(unit=countries).dropna(subset=["unit"]).dissolve("unit")
        for name, point in shapes.representative_point().items():
            marks.append((point.x, point.y, str(name), "unit"))
    top = probability.sort_values(ascending=False, kind="stable").head(MAP_RANKS)
    points = geo.set_index("district_id").representative_point()
    for rank, district in enumerate(top.index, start=1):
        if district in points.index:
            marks.append((points[district].x, points[district].y, str(rank), "rank"))
    return marks


def district_maps(res: Results, labels: pd.DataFrame, programs: pd.Series) -> dict:
    """The report's maps (risk, plan, uncertainty) as image URIs, with country and province
    outlines; `programs`: district_id -> the plan's program(s)."""
    geo = res.geometry.merge(
        res.forecast[["district_id", "probability"]], on="district_id", how="left"
    )
    borders = borders_of(geo, labels)
    s = res.summary
    target = period_after(str(s.forecast_period), s.horizon)
    title = f"Forecast risk for {target}"
    title += f"\n(numbers: the {MAP_RANKS} highest-risk districts, as ranked in the tables)"
    marks = map_marks(geo, labels, res.forecast.set_index("district_id")["probability"])
    names = [m for m in marks if m[3] == "unit"]  # country names on the other maps too
    out = {"risk": risk_map(geo, "probability", borders, title, marks), "plan": None}
    out["uncertainty"] = None
    if {"risk_low", "risk_high"} <= set(res.forecast.columns) and res.forecast[
        "risk_low"
    ].notna().any():
        width = res.forecast.set_index("district_id")
        width = 100 * (width["risk_high"] - width["risk_low"])
        out["uncertainty"] = uncertainty_map(
            geo.assign(width=geo["district_id"].map(width)),
            "width",
            borders,
            f"Forecast uncertainty for {target}",
            names,
        )
    if res.plan is not None:
        out["plan"] = plan_map(
            geo.assign(program=geo["district_id"].map(programs)),
            borders=borders,
            title=f"Prevention plan for {target}",
            marks=names,
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


def _draw_borders(ax, borders: dict | None) -> None:
    """Province (thin) and country (thick) outlines over a district map."""
    for level, width in (("admin1", 0.6), ("country", 1.6)):
        if borders and borders.get(level) is not None:
            borders[level].plot(ax=ax, color="#222222", linewidth=width)


def _draw_marks(ax, marks: list[tuple[float, float, str, str]] | None) -> None:
    """Text on the map at (x, y): kind "unit" (a country's name, bold) or "rank" (a
    district's rank in the report's table, in a white circle)."""
    styles = {
        "unit": {
            "fontsize": 8,
            "fontweight": "bold",
            "alpha": 0.8,
            "bbox": {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.6},
        },
        "rank": {
            "fontsize": 6,
            "bbox": {"boxstyle": "circle,pad=0.2", "fc": "white", "ec": "#111111", "lw": 0.6},
        },
    }
    for x, y, text, kind in marks or []:
        ax.text(x, y, plain(text), ha="center", va="center", color="#111111", **styles[kind])


def _choropleth(
    geo, column: str, cmap: str, vmax: float | None, legend: str, title: str, borders, marks=None
) -> str:
    """`column` of `geo` as a choropleth from 0 (districts without a value in light grey),
    with a horizontal colour bar labelled `legend`, the outlines of `borders` and the text
    `marks` (see _draw_marks)."""
    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.add_subplot()
    geo.plot(
        column=column,
        ax=ax,
        cmap=cmap,
        vmin=0,
        vmax=vmax,
        linewidth=0.2,
        edgecolor="#666666",
        legend=True,
        missing_kwds={"color": "#eeeeee"},
        legend_kwds={"label": legend, "shrink": 0.7, "orientation": "horizontal", "pad": 0.02},
    )
    _draw_borders(ax, borders)
    _draw_marks(ax, marks)
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    return figure_uri(fig, "png", dpi=MAP_DPI)


def risk_map(
    geo, column: str = "risk", borders: dict | None = None, title: str = "", marks=None
) -> str:
    """Choropleth of forecast probability; districts without a forecast in light grey;
    `borders`: {"country": GeoSeries of lines, "admin1": ...} drawn on top; `marks`:
    country names and district ranks (see _draw_marks)."""
    legend = "probability of ≥ 1 incident"
    title = title or "Forecast risk"
    return _choropleth(geo, column, "YlOrRd", 1, legend, title, borders, marks)


def uncertainty_map(
    geo, column: str = "width", borders: dict | None = None, title: str = "", marks=None
) -> str:
    """Choropleth of the width of each district's 90 % forecast interval (percentage points);
    districts without an interval in light grey."""
    legend = "width of the 90 % interval (percentage points)"
    title = title or "Forecast uncertainty"
    return _choropleth(geo, column, "Purples", None, legend, title, borders, marks)


def plan_map(
    geo, column: str = "program", borders: dict | None = None, title: str = "", marks=None
) -> str:
    """Districts coloured by the program the plan gives them; the rest in light grey;
    `borders` and `marks` as for `risk_map`."""
    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.add_subplot()
    geo.plot(ax=ax, color="#eeeeee", linewidth=0.2, edgecolor="#888888")
    chosen = geo[geo[column].notna()]
    programs = sorted(chosen[column].unique())
    handles = [Patch(color="#eeeeee", label="no program")]
    if programs:
        colors = [PROGRAM_COLORS[i % len(PROGRAM_COLORS)] for i in range(len(programs))]
        chosen.plot(
            column=column,
            ax=ax,
            categorical=True,
            categories=programs,
            cmap=ListedColormap(colors),
            linewidth=0.3,
            edgecolor="#333333",
        )
        handles += [
            Patch(color=c, label=plain(p.replace("_", " ")))
            for c, p in zip(colors, programs, strict=True)
        ]
    ax.legend(
        handles=handles,
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.01),
        ncol=3,
        frameon=False,
        title="program",
    )
    _draw_borders(ax, borders)
    _draw_marks(ax, marks)
    ax.set_axis_off()
    ax.set_title(title or "Prevention plan", fontsize=10)
    return figure_uri(fig, "png", dpi=MAP_DPI)
