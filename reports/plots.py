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
from matplotlib.figure import Figure

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


def waterfall_points(log_odds: list[float], probability: float) -> np.ndarray:
    """Probability (%) before the first step and after each of `log_odds` (additive
    contributions, in order), ending at `probability`: the start is the average district's
    sigmoid(logit(probability) - Σ log_odds)."""
    p = float(np.clip(probability, 1e-6, 1 - 1e-6))
    start = np.log(p / (1 - p)) - float(np.sum(log_odds))
    path = start + np.concatenate([[0.0], np.cumsum(log_odds)])
    return 100 / (1 + np.exp(-path))


def driver_waterfall(
    contributions: pd.Series,
    labels: dict[str, str],
    title: str,
    probability: float,
    max_display: int = 9,
) -> str:
    """Waterfall of one district's contributions (log-odds, additive: SHAP values or exact
    linear terms) drawn in percentage points of probability: it starts at the average
    district's probability sigmoid(logit(`probability`) - Σ contributions) and adds the
    features one by one, largest |value| first (the rest summed), ending at `probability`.
    A step's size depends on the order (the same log-odds are worth most near 50 %)."""
    order = contributions.abs().sort_values(ascending=False).index
    shown = contributions[order[:max_display]]
    names = [plain(labels.get(f, f)) for f in shown.index]
    log_odds = list(shown.to_numpy(dtype=float))
    if len(order) > max_display:
        names.append(f"{len(order) - max_display} other features")
        log_odds.append(float(contributions[order[max_display:]].sum()))
    points = waterfall_points(log_odds, probability)
    steps = np.diff(points)
    fig = Figure(figsize=(6.4, 0.36 * len(steps) + 1.3))
    ax = fig.add_subplot()
    for y, (start, step) in enumerate(zip(points[:-1], steps, strict=True)):
        ax.barh(y, step, left=start, color=UP if step > 0 else DOWN, height=0.7)
        ax.text(
            start + step,
            y,
            f" {step:+.1f} ",
            va="center",
            fontsize=7,
            ha="left" if step > 0 else "right",
        )
    ax.axvline(points[0], color="#888888", linewidth=0.8)
    ax.axvline(points[-1], color="#333333", linewidth=0.8, linestyle=":")
    ax.set_yticks(range(len(steps)), names, fontsize=8)
    ax.invert_yaxis()
    low, high = points.min(), points.max()
    pad = max(0.15 * (high - low), 3.0)  # room for the step labels
    ax.set_xlim(max(low - pad, -12), min(high + pad, 112))
    ax.set_xticks([t for t in range(0, 101, 10) if low - pad <= t <= high + pad])
    ax.set_xlabel(
        f"probability (%): average district {points[0]:.1f} → this district "
        f"{points[-1]:.1f}; steps in percentage points",
        fontsize=8,
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
            # the interval is the ensemble's range, which holds the point (the main model)
            right.vlines(x, rows["low"], rows["high"], color=MAIN_COLOR, linewidth=1.2)
    right.set_ylim(0, 1.05)
    right.set_ylabel("probability", fontsize=8)
    right.tick_params(labelsize=7)
    right.legend(fontsize=7, loc="upper left", frameon=False)
    ax.set_title(plain(title), fontsize=9)
    return figure_uri(fig)


def track_record(periods: list[dict]) -> str:
    """Held-out periods: the expected number of districts with an incident (the sum of the
    forecasts, with its 90 % band if districts were independent) against the number observed.
    `periods`: dicts with target_period, expected, low, high, observed."""
    table = pd.DataFrame(periods)
    x = np.arange(len(table))
    fig = Figure(figsize=(6.4, 2.8))
    ax = fig.add_subplot()
    ax.bar(x, table["observed"], color="#95a5a6", width=0.55, label="observed")
    ax.errorbar(
        x,
        table["expected"],
        yerr=[table["expected"] - table["low"], table["high"] - table["expected"]],
        fmt="D",
        color=MAIN_COLOR,
        ms=5,
        capsize=4,
        label="forecast (sum of probabilities, 90 % band if independent)",
    )
    ax.set_xticks(x, [str(p) for p in table["target_period"]], fontsize=8)
    ax.set_xlabel("period forecast for (each forecast made one horizon before)", fontsize=8)
    ax.set_ylabel("districts with ≥ 1 incident", fontsize=8)
    ax.set_ylim(0, max(table["observed"].max(), table["high"].max()) * 1.3 + 1)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    ax.set_title("Track record: held-out forecasts against what happened", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return figure_uri(fig)
