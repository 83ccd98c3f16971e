"""Risk report: a results folder (what `train.py --output DIR` writes) -> one self-contained HTML.

The report reads the result files only; it never refits a model. A section whose inputs are
absent (no explanation tables, no polygons, no protected columns) is replaced by a note.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shap
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from features.labels import period_after, previous_period
from features.writers import write_atomically
from reports import brief, naming, plots
from reports.audit import disparity_audit
from reports.contract import GEOMETRY_FILE, SUMMARY_FILE, TABLES_BY_KEY
from reports.maps import aggregate_rows, district_maps
from reports.model_card import has_interval, limitations, model_card, spillover
from reports.results import Results, district_labels, load_results

TOP_N = 25
N_PROFILES = 5
TEMPLATES = Path(__file__).parent / "templates"
SEARCH_SCRIPT = (TEMPLATES / "search.js").read_text(encoding="utf-8")
# the Content-Security-Policy lets this one inline script run, and no other
SEARCH_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SEARCH_SCRIPT.encode()).digest()).decode()
PDF_PACKAGE = "weasyprint==70.0"
PLAN_FILE, PANEL_FILE, PREDICTIONS_FILE = (
    TABLES_BY_KEY[k].file for k in ("plan", "panel", "predictions")
)
log = logging.getLogger(__name__)


def _header(res: Results) -> dict:
    s = res.summary
    horizon = s.horizon
    # summaries older than the `created` field: the file time is the run's date
    written = s.created or datetime.fromtimestamp(
        (res.folder / SUMMARY_FILE).stat().st_mtime, UTC
    ).strftime("%Y-%m-%d %H:%M UTC")
    return {
        "definition": s.target.definition,
        "horizon": horizon,
        "forecast_period": s.forecast_period,
        "target_period": period_after(str(s.forecast_period), horizon),
        "data": asdict(s.data),
        "model": s.main_model,
        "registered": s.registered_model or "not registered",
        "version": s.model_version or "-",
        "run_id": s.run_id or "-",
        "run_date": written,
        "built": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "caveat": (s.explain or {}).get("caveat", ""),
        "print_status": _css_text(
            "SYNTHETIC DATA - no real place or people"
            if s.data.synthetic
            else f"Real data: {s.data.source} - for prevention programs, not security operations"
        ),
    }


def _css_text(text: str) -> str:
    """`text` safe inside a CSS string in <style> (no quote, backslash or markup character:
    entities are not decoded there)."""
    return re.sub(r"[^\w\s.,:/()+-]", "", text)[:120]


def _previous_period(res: Results, period: str) -> str | None:
    return previous_period(res.panel["period"], period) if res.panel is not None else None


def _ranking(res: Results, labels: pd.DataFrame) -> dict:
    fp = str(res.summary.forecast_period)
    table = res.forecast.sort_values("probability", ascending=False).head(TOP_N)
    table = table.drop(columns=labels.columns, errors="ignore").join(labels, on="district_id")
    prev = _previous_period(res, fp)
    preds = res.predictions
    has_change = preds is not None and prev is not None and (preds["period"] == prev).any()
    if has_change:
        before = preds[preds["period"] == prev].set_index("district_id")[res.summary.main_model]
        table["change"] = table["probability"] - table["district_id"].map(before)
    if res.panel is not None:
        now = res.panel[res.panel["period"] == fp].set_index("district_id")["incidents"]
        table["incidents"] = table["district_id"].map(now)
    if res.district_profiles is not None:
        table = table.merge(
            res.district_profiles[["district_id", "driver_1"]], on="district_id", how="left"
        )
    if res.district_drivers is not None:
        table["actionable_driver"] = table["district_id"].map(_top_actionable(res, fp))
    return {
        "rows": table.to_dict("records"),
        "has_change": has_change,
        "previous_period": prev,
        "n": len(res.forecast),
    }


def _top_actionable(res: Results, period: str) -> pd.Series:
    """district_id -> the actionable feature that raises its risk most (if any does)."""
    rows = res.district_drivers[
        (res.district_drivers["period"] == period)
        & res.district_drivers["actionable"]
        & (res.district_drivers["shap_value"] > 0)
    ]
    return rows.sort_values("shap_value").groupby("district_id")["feature"].last()


def _plan_programs(res: Results) -> pd.Series:
    if res.plan is None:
        return pd.Series(dtype=str)
    return res.plan.groupby("district_id")["program"].agg(" + ".join)


def _explanation(res: Results, period: str) -> tuple[shap.Explanation, list[str]] | None:
    """SHAP values of the forecast period as a shap.Explanation (with feature values where
    known) and the district id of each of its rows."""
    rows = res.district_drivers[res.district_drivers["period"] == period]
    if rows.empty:
        return None
    wide = rows.pivot(index="district_id", columns="feature", values="shap_value")
    if "feature_value" in rows.columns:
        data = rows.pivot(index="district_id", columns="feature", values="feature_value")
    else:
        data = pd.DataFrame(index=wide.index)
    data = data.reindex(index=wide.index, columns=wide.columns).astype(float)
    explanation = shap.Explanation(
        values=wide.to_numpy(dtype=float),
        data=data.to_numpy(),
        feature_names=list(wide.columns),
    )
    return explanation, list(wide.index)


def _history(res: Results, district: str, fp: str) -> str | None:
    if res.panel is None:
        return None
    history = res.panel[res.panel["district_id"] == district][["period", "incidents"]]
    frames = []
    if res.predictions is not None:
        held = res.predictions[res.predictions["district_id"] == district]
        frames.append(
            pd.DataFrame(
                {
                    "period": held["period"],
                    "probability": held[res.summary.main_model],
                    "low": np.nan,
                    "high": np.nan,
                    "kind": "held-out",
                }
            )
        )
    row = res.forecast[res.forecast["district_id"] == district].iloc[0]
    frames.append(
        pd.DataFrame(
            {
                "period": [fp],
                "probability": [row["probability"]],
                "low": [row.get("risk_low", np.nan)],
                "high": [row.get("risk_high", np.nan)],
                "kind": ["forecast"],
            }
        )
    )
    return plots.district_history(history, pd.concat(frames), "incidents and forecasts")


def _not_measured(res: Results, names: list[str], data: dict) -> list[str]:
    """Features the catalog lets be missing (`missing = "allowed"`) whose value is NaN."""
    allowed = {f for f, spec in res.catalog.items() if spec.get("missing") == "allowed"}
    return [f for f in names if f in allowed and np.isnan(data[f])]


def _profiles(res: Results, labels: pd.DataFrame, explained) -> list[dict]:
    """The highest-risk districts: waterfall, domain breakdown, history, planned program."""
    fp = str(res.summary.forecast_period)
    if res.district_profiles is not None:
        top = res.district_profiles.sort_values("risk", ascending=False).head(N_PROFILES)
    else:
        top = res.forecast.sort_values("probability", ascending=False).head(N_PROFILES)
    explanation, ids = explained if explained is not None else (None, [])
    names = list(explanation.feature_names) if explanation is not None else []
    programs = _plan_programs(res)
    out = []
    for row in top.to_dict("records"):
        d = row["district_id"]
        entry = {"id": d, **labels.loc[d].to_dict(), "row": row, "history": _history(res, d, fp)}
        entry["forecast"] = res.forecast.set_index("district_id").loc[d].to_dict()
        entry["program"] = programs.get(d)
        if d in ids:
            i = ids.index(d)
            values = pd.Series(explanation.values[i], index=names)
            data = dict(zip(names, explanation.data[i], strict=True))
            text = {
                f: f"{naming.label(res, f)} = {data[f]:.3g}{naming.unit(res, f)}"
                if np.isfinite(data[f])
                else naming.label(res, f)
                for f in names
            }
            entry["not_measured"] = _not_measured(res, names, data)
            text |= {f: f"{naming.label(res, f)} = not measured" for f in entry["not_measured"]}
            entry["waterfall"] = plots.driver_waterfall(
                values, text, f"drivers of {entry['name']}", entry["forecast"]["probability"]
            )
            domains = {k.removeprefix("domain:"): v for k, v in row.items() if "domain:" in k}
            scale = max([abs(v) for v in domains.values()] + [1e-9])
            entry["domains"] = [
                {"domain": k, "value": v, "width": round(45 * abs(v) / scale, 1)}
                for k, v in sorted(domains.items(), key=lambda kv: -kv[1])
            ]
        out.append(entry)
    return out


def _plan(res: Results, labels: pd.DataFrame) -> dict:
    plan = res.plan.drop(columns=labels.columns, errors="ignore").join(labels, on="district_id")
    plan["drivers_text"] = (
        plan["drivers"].map(lambda d: naming.drivers_text(res, d)) if "drivers" in plan else "–"
    )
    s = res.summary
    catalog_name, programs = res.programs
    assumptions = [
        {
            "name": name,
            "description": spec.get("description", ""),
            "moves": ", ".join(
                [f"{naming.label(res, f)} {v:+g}" for f, v in spec.get("shift", {}).items()]
                + [f"{naming.label(res, f)} ×{v:g}" for f, v in spec.get("scale", {}).items()]
            ),
            "cost": spec.get("cost_per_district"),
            "min_risk": spec.get("min_risk", 0.0),
        }
        for name, spec in programs.items()
    ]
    totals = {
        "districts": plan["district_id"].nunique(),
        "cost": plan["cost"].sum(),
        "reduction": plan["reduction"].sum(),
        "low": plan["reduction_low"].sum(min_count=1),  # NaN (shown "–") without intervals
        "high": plan["reduction_high"].sum(min_count=1),
        "by_program": plan.groupby("program")["cost"]
        .agg(["size", "sum"])
        .reset_index()
        .to_dict("records"),
    }
    return {
        # plan.csv's own order: largest (joint) reduction first, a bundle's rows together
        "rows": plan.to_dict("records"),
        "totals": totals,
        # summaries written before risk_aversion existed planned on the expected reduction
        "targeting": {"risk_aversion": 0.0, **(s.targeting or {})},
        "assumptions": assumptions,
        "catalog_name": catalog_name,
        "truth": s.truth_plan,
    }


def _notes(res: Results) -> dict[str, str]:
    """Why a section is missing, keyed by section ("" when it is there)."""
    notes = dict.fromkeys(("map", "drivers", "plan", "audit", "calibration"), "")
    if res.geometry is None:
        notes["map"] = f"No district polygons in the results ({GEOMETRY_FILE}): no map."
    if res.district_drivers is None:
        notes["drivers"] = (
            "No SHAP tables in the results (explain disabled): drivers, waterfalls and "
            "stability are omitted."
        )
    elif res.district_profiles is None:
        notes["drivers"] = (
            "No district profiles in the results (the run made no refits): driver "
            "stability and the top-driver column are omitted."
        )
    if res.plan is None and res.district_drivers is not None:
        notes["plan"] = (
            f"No {PLAN_FILE}: this run made no plan (the dask and lean backends make none); "
            "`train.py plan --budget B --model REF` plans from its registered model."
        )
    elif res.plan is None:
        notes["plan"] = f"No {PLAN_FILE} in the results (explain/targeting disabled): no plan."
    if _disparity_columns_missing(res):
        notes["audit"] = (
            f"No protected columns (catalog `protected = true`) in {PANEL_FILE}: the disparity "
            "audit is omitted. Add ethnic, religious or linguistic composition to audit it."
        )
    if res.predictions is None:
        notes["calibration"] = f"No {PREDICTIONS_FILE}: reliability diagram omitted."
    return notes


def _disparity_columns_missing(res: Results) -> bool:
    protected = [f for f, spec in res.catalog.items() if spec.get("protected")]
    return res.panel is None or not any(c in res.panel.columns for c in protected)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
    )
    env.filters["p"] = lambda v, d=2: "–" if v is None or pd.isna(v) else f"{v:.{d}f}"
    env.filters["g"] = lambda v: "–" if v is None or pd.isna(v) else f"{v:.3g}"
    env.filters["prob"] = lambda v: "–" if v is None or pd.isna(v) else f"{100 * v:.1f}%"
    env.filters["pp"] = lambda v: "–" if v is None or pd.isna(v) else f"{100 * v:+.1f} pp"
    env.filters["pct"] = lambda v: "–" if v is None or pd.isna(v) else f"{v:.0%}"
    # an identifier may wrap after "_" (not mid-word) in narrow printed cells
    env.filters["words"] = lambda v: str(v).replace("_", " ")  # program names
    env.filters["wbr"] = lambda v: Markup("_<wbr>").join(escape(str(v)).split("_"))
    return env


def render_report(res: Results) -> str:
    """The report's HTML for loaded results."""
    labels = district_labels(res)
    fp = str(res.summary.forecast_period)
    explained = _explanation(res, fp) if res.district_drivers is not None else None
    explanation = explained[0] if explained is not None else None
    shown = None  # the explanation with the catalog's labels, for the plots
    if explanation is not None:
        shown = copy.copy(explanation)
        shown.feature_names = [naming.label(res, f) for f in explanation.feature_names]
    card = model_card(res)
    track = brief.track_record(res, card.get("top_k"))
    context = {
        "b": brief.headline(res, labels),
        "has_interval": has_interval(res),
        "bands": brief.band_ranges(),
        "truth_coverage": (res.summary.truth_plan or {}).get("risk_coverage"),
        "track": track,
        "track_plot": plots.track_record(track["periods"]) if track else None,
        "appendix": brief.appendix(res, labels),
        "names": labels["name"].to_dict(),
        "search_script": SEARCH_SCRIPT,
        "search_hash": SEARCH_HASH,
        "h": _header(res),
        "notes": _notes(res),
        "ranking": _ranking(res, labels),
        "maps": district_maps(res, labels, _plan_programs(res))
        if res.geometry is not None
        else None,
        "aggregates": aggregate_rows(res),
        "spillover": spillover(res, labels, fp),
        "profiles": _profiles(res, labels, explained),
        "plan": _plan(res, labels) if res.plan is not None else None,
        "card": card,
        "limitations": limitations(res, card),
        "audit": disparity_audit(res),
        "beeswarm": plots.shap_beeswarm(shown) if shown is not None else None,
        "shap_bar": plots.shap_bar(shown) if shown is not None else None,
        "domains": None if res.shap_domains is None else res.shap_domains.to_dict("records"),
        "interactions": None
        if res.shap_interactions is None
        else res.shap_interactions.to_dict("records"),
        "describe": lambda f: naming.describe(res, f),
        "label": lambda f: naming.label(res, f),
        "top_n": TOP_N,
    }
    return _environment().get_template("report.html.j2").render(**context)


def pdf_available() -> bool:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):  # OSError: the package is there but its system libs are not
        return False
    return True


def build_report(results_dir: Path, out_path: Path, pdf: bool = False) -> Path:
    """Write the HTML report of `results_dir` to `out_path` (and `out_path` .pdf when `pdf`
    and weasyprint is installed; otherwise a warning says so). Returns `out_path`."""
    html = render_report(load_results(Path(results_dir)))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out_path, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    if pdf:
        if pdf_available():
            import weasyprint

            weasyprint.HTML(string=html, base_url=str(out_path.parent)).write_pdf(
                out_path.with_suffix(".pdf")
            )
        else:
            log.warning("PDF skipped: weasyprint is not installed (pip install %s)", PDF_PACKAGE)
    return out_path
