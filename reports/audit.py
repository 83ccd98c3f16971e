"""Disparity audit: risk, calibration and plan allocation across quintiles of each protected
share (catalog `protected = true`). Protected columns never reach a model; the audit checks
whether the forecasts and the plan still differ across the groups they describe. Protected
columns may be missing (NaN, e.g. districts without census rows): such districts are left out
of that column's fifths and shares, and the note says how many and what the plan spent there.
"""

from __future__ import annotations

import pandas as pd

from reports.results import Results


def quintiles(values: pd.Series) -> pd.Series:
    """Q1 (lowest fifth) .. Q5 of `values`; ties split by order so every group is filled."""
    k = min(5, len(values))
    return pd.qcut(values.rank(method="first"), k, labels=[f"Q{i}" for i in range(1, k + 1)])


def _audit_one(res: Results, column: str, fp: str) -> dict | None:
    """The column's audit table and note; None when no district has a value."""
    panel = res.panel
    values = panel[panel["period"] == fp].set_index("district_id")[column]
    latest = values.dropna()
    if latest.empty:
        return None
    missing = values.index[values.isna()]
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
            forecast=(res.summary.main_model, "mean"),
            observed=("target", "mean"),
            rows=("target", "size"),
        )
        table = table.join(calib)
        table["gap"] = table["forecast"] - table["observed"]
    outside = 0.0
    if res.plan is not None:
        spent = res.plan.assign(group=res.plan["district_id"].map(group))
        by = spent.groupby("group", observed=True)
        audited_cost = spent.loc[spent["group"].notna(), "cost"].sum()
        outside = float(res.plan.loc[res.plan["district_id"].isin(missing), "cost"].sum())
        table["planned"] = by["district_id"].nunique()
        table["cost_share"] = by["cost"].sum() / max(audited_cost, 1e-12)
        table = table.fillna({"planned": 0, "cost_share": 0.0})
    table["risk_share"] = table["risk_sum"] / table["risk_sum"].sum()
    note = _audit_note(column, table)
    if len(missing):
        total = res.plan["cost"].sum() if res.plan is not None else 0.0
        note += (
            f" {len(missing)} of {len(values)} districts have no {column} value (e.g. no census "
            "row): they are left out of these fifths, and the shares of risk and plan cost are "
            "among the other districts"
            + (f" (the plan spends {outside / total:.0%} of its budget there)." if total else ".")
        )
    return {"column": column, "rows": table.reset_index().to_dict("records"), "note": note}


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
    audits = [_audit_one(res, c, str(res.summary.forecast_period)) for c in columns]
    return [a for a in audits if a is not None] or None
