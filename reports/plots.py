"""Report figures as self-contained `data:` URIs (SVG for charts, PNG for dense plots).

Every function takes ready-made tables and returns a string for an `<img src=...>`; nothing
here reads files or refits a model. Figures are built on `matplotlib.figure.Figure` (no pyplot
state), so building a report leaves no open figures behind.
"""

from __future__ import annotations

import base64
import io
import warnings

import numpy as np
import pandas as pd
import shap
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from reports.contract import ORACLE

MAIN_COLOR = "#c0392b"
BASE_COLOR = "#7f8c8d"
ORACLE_COLOR = "#2c3e50"
UP, DOWN = "#d35454", "#3d85c6"
PROGRAM_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]


def plain(text: object) -> str:
    """Data text safe for matplotlib labels: a `$` would start mathtext (and may not parse)."""
    return str(text).replace("$", r"\$")


def figure_uri(fig: Figure, fmt: str = "svg", dpi: int = 110) -> str:
    """The figure as a base64 `data:` URI (no external reference, no font files)."""
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else None
    fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _style(model: str, main: str) -> dict:
    if model == main:
        return {"color": MAIN_COLOR, "linewidth": 2.4, "zorder": 3}
    if model == ORACLE:
        return {"color": ORACLE_COLOR, "linewidth": 1.4, "linestyle": "--", "zorder": 2}
    return {"linewidth": 1.0, "alpha": 0.8, "zorder": 1}


def reliability_diagram(
    predictions: pd.DataFrame, models: list[str], main: str, n_bins: int = 10
) -> str:
    """Mean forecast vs observed rate in equal-width probability bins, one line per model."""
    fig = Figure(figsize=(5.6, 4.6))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#bbbbbb", linewidth=1, label="perfect calibration")
    edges = np.linspace(0, 1, n_bins + 1)
    for model in models:
        bins = pd.cut(predictions[model], edges, include_lowest=True)
        table = predictions.groupby(bins, observed=True).agg(
            forecast=(model, "mean"), observed=("target", "mean"), n=("target", "size")
        )
        table = table[table["n"] >= 5]  # a bin of two rows says nothing about calibration
        ax.plot(
            table["forecast"],
            table["observed"],
            marker="o",
            ms=3.5,
            label=model,
            **_style(model, main),
        )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean forecast probability in bin",
        ylabel="observed share with an incident",
    )
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    ax.grid(alpha=0.3)
    return figure_uri(fig)


def metric_bars(metrics: dict[str, dict], names: list[str], main: str) -> str:
    """Pooled held-out metrics of every model, one panel per metric; the main model in red."""
    models = list(metrics)
    names = [n for n in names if any(metrics[m].get(n) is not None for m in models)]
    ncols = 2
    nrows = -(-len(names) // ncols)
    fig = Figure(figsize=(7.2, nrows * (0.3 * len(models) + 1.1)))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    fig.subplots_adjust(wspace=0.45, hspace=0.45)
    colors = [
        MAIN_COLOR if m == main else ORACLE_COLOR if m == ORACLE else BASE_COLOR for m in models
    ]
    for ax, name in zip(axes, names, strict=False):
        values = [metrics[m].get(name) for m in models]
        values = [np.nan if v is None else v for v in values]
        ax.barh(models, values, color=colors)
        for y, v in enumerate(values):
            if np.isfinite(v):
                ax.text(max(v, 0), y, f" {v:.3f}", va="center", fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_xlim(min(0, np.nanmin(values)), max(1.0, np.nanmax(values)) * 1.22)
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.invert_yaxis()
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    return figure_uri(fig)


def _plain_names(explanation: shap.Explanation) -> shap.Explanation:
    names = [plain(f) for f in explanation.feature_names]
    return shap.Explanation(explanation.values, data=explanation.data, feature_names=names)


def shap_beeswarm(explanation: shap.Explanation, max_display: int = 14) -> str:
    """shap's beeswarm: one dot per district, position = SHAP, colour = feature value."""
    fig = Figure(figsize=(7.5, 0.38 * max_display + 1.2))
    ax = fig.add_subplot()
    with warnings.catch_warnings():
        # features whose values are not stored are all-NaN: shap colours them grey
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        shap.plots.beeswarm(
            _plain_names(explanation),
            max_display=max_display,
            ax=ax,
            show=False,
            plot_size=None,
            s=10,
            color_bar_label="feature value (grey: not stored or not measured)",
        )
    ax.set_xlabel("SHAP value (log-odds of the uncalibrated model)", fontsize=9)
    return figure_uri(fig, "png", dpi=100)


def shap_bar(explanation: shap.Explanation, max_display: int = 14) -> str:
    """shap's bar plot of mean |SHAP| per feature."""
    fig = Figure(figsize=(6.5, 0.34 * max_display + 1.0))
    ax = fig.add_subplot()
    shap.plots.bar(_plain_names(explanation), max_display=max_display, ax=ax, show=False)
    ax.set_xlabel("mean |SHAP value| (log-odds)", fontsize=9)
    return figure_uri(fig)


def driver_waterfall(
    contributions: pd.Series, labels: dict[str, str], title: str, max_display: int = 9
) -> str:
    """Waterfall of one district's SHAP values (log-odds), largest |value| first, the rest
    summed; it starts at 0 = the model's average district and ends at the district's total."""
    order = contributions.abs().sort_values(ascending=False).index
    shown = contributions[order[:max_display]]
    rest = contributions[order[max_display:]].sum()
    names = [plain(labels.get(f, f)) for f in shown.index]
    values = list(shown.to_numpy())
    if len(order) > max_display:
        names.append(f"{len(order) - max_display} other features")
        values.append(rest)
    fig = Figure(figsize=(6.4, 0.36 * len(values) + 1.3))
    ax = fig.add_subplot()
    start = 0.0
    for y, value in enumerate(values):
        ax.barh(y, value, left=start, color=UP if value > 0 else DOWN, height=0.7)
        ax.text(
            start + value,
            y,
            f" {value:+.2f} ",
            va="center",
            fontsize=7,
            ha="left" if value > 0 else "right",
        )
        start += value
    ax.axvline(0, color="#888888", linewidth=0.8)
    ax.axvline(start, color="#333333", linewidth=0.8, linestyle=":")
    ax.set_yticks(range(len(values)), names, fontsize=8)
    ax.invert_yaxis()
    span = max(abs(start), np.abs(np.cumsum(values)).max(), 0.1)
    ax.set_xlim(
        min(0, -0.1 * span, *np.cumsum(values)) * 1.25 - 0.05,
        max(0, *np.cumsum(values)) * 1.25 + 0.05,
    )
    ax.set_xlabel(
        f"contribution to log-odds vs the average district (total {start:+.2f})", fontsize=8
    )
    ax.set_title(plain(title), fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return figure_uri(fig)


def district_history(history: pd.DataFrame, forecasts: pd.DataFrame, title: str) -> str:
    """Incidents per period (bars) and the model's probabilities (line, right axis).

    `history`: period, incidents. `forecasts`: period (the row the forecast was made from),
    probability, low, high (low/high may be NaN), kind ('held-out' or 'forecast').
    """
    periods = [str(p) for p in history["period"]]
    position = {p: i for i, p in enumerate(periods)}
    fig = Figure(figsize=(6.4, 2.5))
    ax = fig.add_subplot()
    ax.bar(range(len(periods)), history["incidents"], color="#95a5a6", label="incidents")
    ax.set_ylabel("incidents", fontsize=8)
    step = -(-len(periods) // 8)  # at most 8 labels: periods like 2021-07 are wide
    ax.set_xticks(range(0, len(periods), step), periods[::step], fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    right = ax.twinx()
    for kind, marker in (("held-out", "o"), ("forecast", "D")):
        rows = forecasts[forecasts["kind"] == kind]
        x = [position[str(p)] for p in rows["period"] if str(p) in position]
        if not x:
            continue
        right.plot(
            x,
            rows["probability"],
            marker=marker,
            color=MAIN_COLOR,
            ms=4,
            linewidth=1.2,
            label=f"{kind} probability (of next period)",
        )
        if rows["low"].notna().any():
            # the interval is the ensemble's; the point (the main model) may lie outside it
            right.vlines(x, rows["low"], rows["high"], color=MAIN_COLOR, linewidth=1.2)
    right.set_ylim(0, 1.05)
    right.set_ylabel("probability", fontsize=8)
    right.tick_params(labelsize=7)
    right.legend(fontsize=7, loc="upper left", frameon=False)
    ax.set_title(plain(title), fontsize=9)
    return figure_uri(fig)


def _draw_borders(ax, borders: dict | None) -> None:
    """Province (thin) and country (thick) outlines over a district map."""
    for level, width in (("admin1", 0.6), ("country", 1.6)):
        if borders and borders.get(level) is not None:
            borders[level].plot(ax=ax, color="#222222", linewidth=width)


def _choropleth(
    geo, column: str, cmap: str, vmax: float | None, legend: str, title: str, borders
) -> str:
    """`column` of `geo` as a choropleth from 0 (districts without a value in light grey),
    with a horizontal colour bar labelled `legend` and the outlines of `borders`."""
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
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    return figure_uri(fig, "png", dpi=100)


def risk_map(geo, column: str = "risk", borders: dict | None = None, title: str = "") -> str:
    """Choropleth of forecast probability; districts without a forecast in light grey;
    `borders`: {"country": GeoSeries of lines, "admin1": ...} drawn on top."""
    legend = "probability of ≥ 1 incident"
    return _choropleth(geo, column, "YlOrRd", 1, legend, title or "Forecast risk", borders)


def uncertainty_map(
    geo, column: str = "width", borders: dict | None = None, title: str = ""
) -> str:
    """Choropleth of the width of each district's 90 % forecast interval (percentage points);
    districts without an interval in light grey."""
    legend = "width of the 90 % interval (percentage points)"
    title = title or "Forecast uncertainty"
    return _choropleth(geo, column, "Purples", None, legend, title, borders)


def plan_map(geo, column: str = "program", borders: dict | None = None) -> str:
    """Districts coloured by the program the plan gives them; the rest in light grey;
    `borders` as for `risk_map`."""
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
        handles += [Patch(color=c, label=plain(p)) for c, p in zip(colors, programs, strict=True)]
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
    ax.set_axis_off()
    ax.set_title("Prevention plan", fontsize=10)
    return figure_uri(fig, "png", dpi=100)
