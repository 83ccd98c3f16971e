"""Disparity audit: risk, calibration and plan allocation across quintiles of each protected
share (catalog `protected = true`). Protected columns never reach a model; the audit checks
whether the forecasts and the plan still differ across the groups they describe.
"""

from __future__ import annotations

import pandas as pd

from models.pipeline import MAIN_MODEL
from reports.results import Results


def quintiles(values: pd.Series) -> pd.Series:
    """Q1 (lowest fifth) .. Q5 of `values`; ties split by order so every group is filled."""
    k = min(5, len(values))
    return pd.qcut(values.rank(method="first"), k, labels=[f"Q{i}" for i in range(1, k + 1)])


def _audit_one(res: Results, column: str, fp: str) -> dict:
    panel = res.panel
    latest = panel[panel["period"] == fp].set_index("district_id")[column]
    group = quintiles(latest)
    risk = res.forecast.set_index("district_id")["probability"]
    frame = pd.DataFrame({"value": latest, "group": group, "risk": risk.reindex(latest.index)})
    table = frame.groupby("group", observed=True).agg(
        districts=("value", "size"),
        low=("value", "min"),
        high=("value", "max"),
        mean_risk=("risk", "mean"),
        risk_sum=("risk", "sum"),
    )
    if res.predictions is not None:
        held = res.predictions.assign(group=res.predictions["district_id"].map(group))
        calib = held.groupby("group", observed=True).agg(
            forecast=(MAIN_MODEL, "mean"), observed=("target", "mean"), rows=("target", "size")
        )
        table = table.join(calib)
        table["gap"] = table["forecast"] - table["observed"]
    if res.plan is not None:
        spent = res.plan.assign(group=res.plan["district_id"].map(group))
        by = spent.groupby("group", observed=True)
        table["planned"] = by["district_id"].nunique()
        table["cost_share"] = by["cost"].sum() / max(res.plan["cost"].sum(), 1e-12)
        table = table.fillna({"planned": 0, "cost_share": 0.0})
    table["risk_share"] = table["risk_sum"] / table["risk_sum"].sum()
    return {
        "column": column,
        "rows": table.reset_index().to_dict("records"),
        "note": _audit_note(column, table),
    }


def _audit_note(column: str, table: pd.DataFrame) -> str:
    q1, q5 = table.iloc[0], table.iloc[-1]
    parts = [
        f"Mean forecast risk is {q1['mean_risk']:.1%} in the fifth of districts with the "
        f"lowest {column} and {q5['mean_risk']:.1%} in the fifth with the highest."
    ]
    if "gap" in table:
        worst = table["gap"].abs().idxmax()
        gap = table.loc[worst, "gap"]
        parts.append(
            f"On held-out periods the mean forecast is within {100 * abs(gap):.1f} percentage "
            f"points of the observed rate in "
            f"every fifth (largest gap in {worst}: risk {'over' if gap > 0 else 'under'}-stated)."
        )
    if "cost_share" in table:
        parts.append(
            f"The plan spends {q5['cost_share']:.0%} of its budget in the top fifth, which holds "
            f"{q5['risk_share']:.0%} of the total forecast risk, and {q1['cost_share']:.0%} in "
            f"the bottom fifth ({q1['risk_share']:.0%} of the risk)."
        )
    return " ".join(parts)


def disparity_audit(res: Results) -> list[dict] | None:
    protected = [f for f, spec in res.catalog.items() if spec.get("protected")]
    columns = [c for c in protected if res.panel is not None and c in res.panel.columns]
    if not columns:
        return None
    return [_audit_one(res, c, str(res.summary["forecast_period"])) for c in columns]
