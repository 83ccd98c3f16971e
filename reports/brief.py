"""The report's brief: the first-page headline, the track record of past held-out forecasts
and the full ranking appendix. Pure: loaded results in, plain dicts and rows out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.labels import period_after
from reports.contract import RISK_BANDS, risk_band
from reports.results import Results

N_TOP = 5  # districts, movers and provinces on the first page
N_LAST = 10  # districts listed in "last period's forecast against what happened"
Z90 = 1.6449  # two-sided 90 % normal quantile


def _named(rows: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    return rows.drop(columns=labels.columns, errors="ignore").join(labels, on="district_id")


def band_ranges() -> list[dict]:
    """Each risk band's name and its range in words ("10 % to < 30 %")."""
    out = []
    for i, (name, bound) in enumerate(RISK_BANDS):
        upper = RISK_BANDS[i + 1][1] if i + 1 < len(RISK_BANDS) else None
        text = f"{bound:.0%} to < {upper:.0%}" if upper is not None else f"≥ {bound:.0%}"
        out.append({"band": name, "range": text if bound > 0 else f"< {upper:.0%}"})
    return out


def _band_counts(probability: pd.Series) -> dict[str, int]:
    counts = risk_band(probability.dropna()).value_counts()
    return {name: int(counts.get(name, 0)) for name, _ in RISK_BANDS}


def _band_moves(forecast: pd.DataFrame) -> tuple[int, int]:
    """(districts now in a higher band, in a lower band) than their previous forecast's."""
    known = forecast.dropna(subset=["previous_probability"])
    order = {name: i for i, (name, _) in enumerate(RISK_BANDS)}
    now = risk_band(known["probability"]).map(order)
    before = risk_band(known["previous_probability"]).map(order)
    return int((now > before).sum()), int((now < before).sum())


def _areas(res: Results) -> list[dict]:
    """Every country and the N_TOP provinces with the most expected districts with an
    incident (aggregates.csv); [] when the run wrote none."""
    table = res.aggregates
    if table is None:
        return []
    table = table.fillna({"unit": "", "country": ""})
    countries = table[table["level"] == "country"]
    provinces = table[table["level"] == "admin1"].nlargest(N_TOP, "expected_districts")
    return pd.concat([countries, provinces]).to_dict("records")


def _expected(res: Results) -> dict:
    """Expected number of districts with an incident: from the aggregates' joint draws (with
    their 90 % interval) when the run wrote them, else the sum of the district forecasts;
    that sum (`district_sum`) and the previous forecast's."""
    forecast = res.forecast
    total = float(forecast["probability"].sum())
    out = {"expected": total, "low": None, "high": None, "district_sum": total, "joint": False}
    if res.aggregates is not None:
        everyone = res.aggregates[res.aggregates["level"] == "all"]
        if len(everyone) == 1:
            row = everyone.iloc[0]
            out |= {
                "expected": float(row["expected_districts"]),
                "low": row["expected_low"],
                "high": row["expected_high"],
                "joint": True,
            }
    known = forecast["previous_probability"].notna() if "previous_probability" in forecast else []
    out["previous"] = (
        float(forecast.loc[known, "previous_probability"].sum())
        if len(known) and known.all()
        else None
    )
    return out


def headline(res: Results, labels: pd.DataFrame) -> dict:
    """The first page: data cut-off, expected districts with an incident, band counts now and
    before, the N_TOP highest-risk districts, the biggest movers, the countries and provinces."""
    s = res.summary
    forecast = res.forecast.sort_values("probability", ascending=False, kind="stable")
    named = _named(forecast, labels)
    has_previous = "change" in forecast and forecast["change"].notna().any()
    movers = named.dropna(subset=["change"]) if has_previous else named.iloc[:0]
    up, down = _band_moves(forecast) if has_previous else (0, 0)
    return {
        "cut_off": s.data.periods[-1],
        "made_from": str(s.forecast_period),
        "target_period": period_after(str(s.forecast_period), s.horizon),
        "n_districts": len(forecast),
        "top": named.head(N_TOP).to_dict("records"),
        "risers": movers[movers["change"] > 0].nlargest(N_TOP, "change").to_dict("records"),
        "fallers": movers[movers["change"] < 0].nsmallest(N_TOP, "change").to_dict("records"),
        "bands": _band_counts(forecast["probability"]),
        "bands_before": _band_counts(forecast["previous_probability"]) if has_previous else None,
        "band_up": up,
        "band_down": down,
        "areas": _areas(res),
        **_expected(res),
    }


def _share_interval(hits: int, n: int) -> tuple[float, float]:
    """90 % Wilson interval of a share hits / n."""
    if n == 0:
        return np.nan, np.nan
    p, z2 = hits / n, Z90**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z90 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


def track_record(res: Results, top_k: int | None) -> dict | None:
    """How the registered model's held-out forecasts (rolling origin: each made by a model
    trained only on earlier periods) compare with what happened: per held-out period, per
    risk band, and district by district for the latest held-out period. None without
    predictions.parquet."""
    preds = res.predictions
    model = res.summary.main_model
    if preds is None or model not in preds.columns:
        return None
    preds = preds.dropna(subset=["target", model])
    k = top_k or 25
    periods = []
    for period, rows in preds.groupby("period", sort=True):
        p, y = rows[model].to_numpy(float), rows["target"].to_numpy(float)
        spread = Z90 * np.sqrt(np.sum(p * (1 - p)))
        top = rows.nlargest(min(k, len(rows)), model)
        periods.append(
            {
                "period": str(period),
                "target_period": period_after(str(period), res.summary.horizon),
                "districts": len(rows),
                "expected": p.sum(),
                "low": max(p.sum() - spread, 0.0),
                "high": p.sum() + spread,
                "observed": int(y.sum()),
                "top_hits": int(top["target"].sum()),
                "top_n": len(top),
            }
        )
    bands = []
    band_of = risk_band(preds[model])
    for name, _ in RISK_BANDS:
        rows = preds[band_of == name]
        hits, n = int(rows["target"].sum()), len(rows)
        low, high = _share_interval(hits, n)
        mean = rows[model].mean() if n else np.nan
        bands.append(
            {
                "band": name,
                "n": n,
                "forecast": mean,
                "observed": hits / n if n else np.nan,
                "low": low,
                "high": high,
            }
        )
    last_period = periods[-1]["period"]
    last = preds[preds["period"].astype(str) == last_period]
    positives = last[last["target"] == 1]
    return {
        "model": model,
        "top_k": k,
        "periods": periods,
        "bands": bands,
        "last": {
            "period": last_period,
            "target_period": periods[-1]["target_period"],
            "rows": last.nlargest(N_LAST, model).to_dict("records"),
            "incidents": len(positives),
            "caught_by_band": _band_counts(positives[model]),
        },
    }


def appendix(res: Results, labels: pd.DataFrame) -> list[dict]:
    """Every forecast district, sorted by name (then id), with rank, band and interval."""
    rows = _named(res.forecast, labels)  # forecast.csv has its rank (the results contract)
    return rows.sort_values(["name", "district_id"], kind="stable").to_dict("records")
