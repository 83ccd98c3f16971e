"""The report's model card: what was trained on what, how it scored against the baselines,
and which model the run registered and why."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from reports import plots
from reports.contract import ORACLE
from reports.results import Results

CARD_METRICS = ["roc_auc", "aupr", "brier_skill", "recall_at_k"]


def _selection_text(selection: dict | None) -> str | None:
    """The registration rule's outcome in words (summary.json `selection`)."""
    if not selection:
        return None
    b = selection["bootstrap"]
    margins = (
        f"{selection['candidate']} minus the best baseline: AUPR {b['aupr_diff']:+.3f} (90 % "
        f"district-bootstrap interval {b['aupr_low']:+.3f} to {b['aupr_high']:+.3f}), Brier "
        f"{b['brier_diff']:+.4f} ({b['brier_low']:+.4f} to {b['brier_high']:+.4f}); better than "
        f"{selection['best_baseline']} on both in {selection['fold_wins']} of "
        f"{selection['n_folds']} folds."
    )
    if selection["fell_back"]:
        verdict = (
            f"The main model ({selection['candidate']}) did not beat every baseline "
            f"({', '.join(selection['lost_to'])}), so this run registered and explains the best "
            f"baseline, {selection['chosen']}."
        )
    else:
        verdict = f"The registered model ({selection['chosen']}) beats every baseline."
    return f"{verdict} Rule: {selection['rule']}. {margins}"


def model_card(res: Results) -> dict:
    """The model card's content: metrics of every model, bars, reliability, folds, feature
    list, truth recovery, stability and the registration decision."""
    s = res.summary
    metrics, main = s.metrics, s.main_model
    order = [m for m in [*s.baselines, main, ORACLE] if m in metrics]
    order += [m for m in metrics if m not in order]
    card = {
        "metrics": {m: metrics[m] for m in order},
        "metric_names": list(next(iter(metrics.values()))) if metrics else [],
        "bars": plots.metric_bars({m: metrics[m] for m in order}, CARD_METRICS, main),
        "folds": [
            {**asdict(f), "test_period": period_label(f.test_period_index, s.data.periods[0])}
            for f in s.folds
        ],
        "top_k": s.evaluation.get("top_k"),
        "reliability": None,
        "per_fold": None,
        "stability": None,
        "features": [
            {"name": k, **v, "used": not v.get("protected")} for k, v in res.catalog.items()
        ],
        "recovery": s.truth_recovery,
        "explain": {k: v for k, v in (s.explain or {}).items() if k != "caveat"},
        "baselines": s.baselines,
        "candidate": (s.selection or {}).get("candidate"),
        "backend": s.backend,
        "selection": _selection_text(s.selection),
    }
    if res.predictions is not None:
        models = [m for m in order if m in res.predictions.columns]
        card["reliability"] = plots.reliability_diagram(res.predictions, models, main)
    if res.metrics is not None:
        card["per_fold"] = res.metrics[res.metrics["model"] == main].to_dict("records")
    if res.shap_stability is not None:
        card["stability"] = res.shap_stability.to_dict("records")
    return card


XBORDER_PREFIX = "hist_spatial_xborder"


def spillover(res: Results, labels: pd.DataFrame, period: str) -> dict | None:
    """How much of the forecast the model attributes to incidents across a national border
    (the `hist_spatial_xborder*` features of a panel built with cross-border lags): their
    share of the mean |SHAP| in `period`, and the districts where they weigh most."""
    drivers = res.district_drivers
    if drivers is None or not drivers["feature"].str.startswith(XBORDER_PREFIX).any():
        return None
    rows = drivers[drivers["period"].astype(str) == period]
    xborder = rows["feature"].str.startswith(XBORDER_PREFIX)
    total = rows["shap_value"].abs().sum()
    per_district = rows[xborder].groupby("district_id")["shap_value"].sum()
    top = per_district.abs().sort_values(ascending=False).head(5).index
    return {
        "features": sorted(rows.loc[xborder, "feature"].unique()),
        "share": float(rows.loc[xborder, "shap_value"].abs().sum() / total) if total else 0.0,
        "top": [
            {
                "name": labels["name"].get(d, d),
                "country": labels["country"].get(d, ""),
                "shap": float(per_district[d]),
            }
            for d in top
        ],
    }


def has_interval(res: Results) -> bool:
    """Whether the forecast carries a 90 % interval (the run made bootstrap refits)."""
    forecast = res.forecast
    return "risk_low" in forecast.columns and bool(forecast["risk_low"].notna().any())


def period_label(index: int, first_period: str) -> str:
    """A period index as the panel writes the period: a year, or YYYY-MM for monthly
    panels (index = year * 12 + month - 1)."""
    if "-" in str(first_period):
        return f"{index // 12}-{index % 12 + 1:02d}"
    return str(index)


def limitations(res: Results, card: dict) -> list[str]:
    s = res.summary
    notes = [
        f"Skill is measured on {len(card['folds'])} held-out periods only (rolling origin); "
        "a shift in the conflict (new actors, new reporting) can make the past a poor guide.",
        "Incident data counts what was reported: districts with less media or monitoring "
        "coverage may look safer than they are, and the model learns that bias.",
        "Intervals are the range of the model, its bootstrap refits and (for a stack) the member "
        "models each relies on, widened where held-out forecasts at that risk level missed the "
        "observed rates; they show model uncertainty, not all uncertainty."
        if has_interval(res)
        else "This run made no intervals (no bootstrap refits): its probabilities are point "
        "estimates.",
        "Program effects and costs are assumptions, not measured impacts; plan reductions are "
        "model counterfactuals resting on associations, not causal estimates.",
    ]
    unstable = [r["feature"] for r in card["stability"] or [] if r["unstable"]]
    if unstable:
        notes.append(
            f"{len(unstable)} drivers are unstable across refits ({', '.join(unstable)})"
            "; do not read much into their rank."
        )
    if s.data.synthetic:
        notes.append("The data is SYNTHETIC: nothing here describes a real place.")
    return notes
