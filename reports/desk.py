"""forecast.csv, plan.csv and aggregates.csv as a desk officer opens them: named, ranked,
banded, rounded.

The run (and `train.py plan`) pass their tables through here before writing: each row gets the
district's name, admin1 and country (from the panel's label columns when present), the rank of
its risk (1 = highest), its risk band (`contract.RISK_BANDS`), the period the forecast is FOR
(`forecast_period` = `period` + horizon; `period` stays the period the forecast is made from,
as every reader expects) and probabilities rounded to `contract.DECIMALS` places. forecast.csv
also gets the change since the previous forecast: the registered model's held-out forecast
made from the period before (predictions.parquet), where that period was held out.
aggregates.csv gets the same two periods, its counts as whole numbers and its probabilities
and expected counts rounded. The parquet tables keep full precision.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.labels import district_labels, period_after, previous_period
from reports.contract import DECIMALS, LABELS, TABLES_BY_KEY, risk_band

FORECAST_ORDER = (
    "rank",
    "district_id",
    *LABELS,
    "period",
    "forecast_period",
    "probability",
    "risk_low",
    "risk_high",
    "band",
    "previous_probability",
    "change",
)
PLAN_ORDER = (
    "district_id",
    *LABELS,
    "period",
    "forecast_period",
    "rank",
    "band",
    "program",
    "cost",
    "risk",
    "risk_after",
    "reduction",
    "reduction_low",
    "reduction_high",
)
AGGREGATES_ORDER = TABLES_BY_KEY["aggregates"].columns  # the contract's columns, in order
COUNTS = ("n_districts", "expected_low", "expected_high")  # whole districts
PROBABILITIES = (
    "probability",
    "risk_low",
    "risk_high",
    "previous_probability",
    "change",
    "risk",
    "risk_after",
    "reduction",
    "reduction_low",
    "reduction_high",
    "p_any",
    "p_any_independent",
    "expected_districts",
)


def _ordered(frame: pd.DataFrame, first: tuple[str, ...]) -> pd.DataFrame:
    """`first` columns (those present) ahead of the others, probabilities rounded."""
    frame = frame.copy()
    for column in PROBABILITIES:
        if column in frame.columns:
            frame[column] = frame[column].astype(float).round(DECIMALS)
    head = [c for c in first if c in frame.columns]
    return frame[head + [c for c in frame.columns if c not in head]]


def _with_labels(frame: pd.DataFrame, panel: pd.DataFrame | None) -> pd.DataFrame:
    """`frame` with the LABELS columns of its districts (replacing any it had)."""
    ids = frame["district_id"].astype(str)
    labels = district_labels(panel, ids).reindex(ids)
    return frame.assign(**{c: labels[c].to_numpy() for c in LABELS})


def _previous_forecast(
    forecast: pd.DataFrame,
    panel: pd.DataFrame | None,
    predictions: pd.DataFrame | None,
    model: str,
) -> pd.Series:
    """Each row's forecast made one period earlier by `model` (held out), NaN where none."""
    empty = pd.Series(np.nan, index=forecast.index)
    periods = panel["period"] if panel is not None else forecast["period"]
    if predictions is None or model not in predictions.columns or forecast.empty:
        return empty
    before = previous_period(periods, str(forecast["period"].iloc[0]))
    rows = predictions[predictions["period"].astype(str) == before]
    if before is None or rows.empty:
        return empty
    by_district = rows.set_index(rows["district_id"].astype(str))[model]
    return forecast["district_id"].astype(str).map(by_district).astype(float)


def forecast_table(
    forecast: pd.DataFrame,
    panel: pd.DataFrame | None,
    horizon: int,
    predictions: pd.DataFrame | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """forecast.csv: `forecast` (district_id, period, probability[, risk_low, risk_high]) with
    labels, rank (1 = highest risk, ties share the better rank), forecast_period, band and the
    change since `model`'s previous held-out forecast (`predictions`); highest risk first."""
    out = forecast.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True)
    out["rank"] = _ranks(out).to_numpy()
    out = _with_labels(out, panel)
    out["forecast_period"] = [period_after(str(p), horizon) for p in out["period"]]
    out["band"] = risk_band(out["probability"])
    out["previous_probability"] = _previous_forecast(out, panel, predictions, model or "")
    # from the rounded figures, so the sheet's own subtraction gives the same number
    now, before = (out[c].round(DECIMALS) for c in ("probability", "previous_probability"))
    out["change"] = now - before
    return _ordered(out, FORECAST_ORDER)


def _ranks(forecast: pd.DataFrame) -> pd.Series:
    """district_id -> rank of its forecast probability (1 = highest; ties share the better);
    a forecast that has ranks already (forecast.csv) keeps them."""
    keyed = forecast.set_index(forecast["district_id"].astype(str))
    if "rank" in keyed.columns:
        return keyed["rank"]
    return keyed["probability"].rank(ascending=False, method="min").astype(int)


def plan_table(
    plan: pd.DataFrame, forecast: pd.DataFrame | None, panel: pd.DataFrame | None, horizon: int
) -> pd.DataFrame:
    """plan.csv: `plan` with labels, forecast_period, the district's rank among all forecast
    districts (`forecast`: district_id, probability; empty rank without it) and the band of
    the plan's risk; rows in the plan's order."""
    out = _with_labels(plan.reset_index(drop=True), panel)
    out["forecast_period"] = [period_after(str(p), horizon) for p in out["period"]]
    ranks = _ranks(forecast) if forecast is not None else pd.Series(dtype=int)
    out["rank"] = out["district_id"].astype(str).map(ranks).astype("Int64")
    out["band"] = risk_band(out["risk"])
    return _ordered(out, PLAN_ORDER)


def aggregates_table(aggregates: pd.DataFrame, period, horizon: int) -> pd.DataFrame:
    """aggregates.csv: the units' aggregates (models/aggregates.py) of the forecast made from
    `period`, with `period` and forecast_period; counts as integers, the rest rounded."""
    out = aggregates.reset_index(drop=True).assign(
        period=period, forecast_period=period_after(str(period), horizon)
    )
    for column in COUNTS:
        out[column] = out[column].round().astype(int)
    return _ordered(out, AGGREGATES_ORDER)


def desk_tables(
    tables: dict[str, pd.DataFrame],
    panel: pd.DataFrame | None,
    horizon: int,
    model: str | None = None,
) -> dict[str, pd.DataFrame]:
    """`tables` with its forecast and plan (those present) made into the desk officer's
    tables, and its aggregates dated by the forecast's period; the change uses `model`'s
    column of tables["predictions"]."""
    out = dict(tables)
    if "aggregates" in out and "forecast" in out and not out["forecast"].empty:
        period = out["forecast"]["period"].iloc[0]  # one period: the latest of the data
        out["aggregates"] = aggregates_table(out["aggregates"], period, horizon)
    if "forecast" in out:
        out["forecast"] = forecast_table(
            out["forecast"], panel, horizon, out.get("predictions"), model
        )
    if "plan" in out:
        out["plan"] = plan_table(out["plan"], out.get("forecast"), panel, horizon)
    return out
