"""Runs side by side: shape `mlflow.search_runs`' DataFrame into a comparison table.

Pure pandas, no MLflow: `experiments/tracking` fetches the runs (`search_runs_frame`) and
the model versions they registered (`run_model_versions`); this module turns them into one
row per training run with its pooled metrics per model, key parameters, data fingerprint,
registered version and champion marker. Runs whose data fingerprint differs from the most
recent run's are marked "not comparable": their metrics come from other data.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.registry import (
    CHAMPION,
    COMPLETE_TAG,
    FINGERPRINT_TAG,
    HOST_TAG,
    RUN_KIND_TAG,
    RUN_NAME_TAG,
    SEARCH_KIND,
    TRIAL_KIND,
)
from features.errors import RootcastError
from models.evaluate import METRICS
from models.pipeline import BASELINES, COMPONENTS, MAIN_MODEL
from reports.contract import ORACLE

DEFAULT_METRICS = ("roc_auc", "aupr", "brier")
MODEL_ORDER = [MAIN_MODEL, *COMPONENTS, *BASELINES, ORACLE]
KEY_PARAMS = {
    "model.xgboost.max_depth": "max_depth",
    "model.xgboost.n_estimators": "n_estimators",
    "model.xgboost.learning_rate": "learning_rate",
    "model.calibration": "calibration",
}
SEARCH_KINDS = {SEARCH_KIND, TRIAL_KIND}
NOT_COMPARABLE = "not comparable"
CHAMPION_MARK = "*"


class CompareError(RootcastError):
    """Nothing to compare, or a comparison option names no metric, parameter or column."""


@dataclass(frozen=True)
class CompareOptions:
    """How to shape the table: metric names (without model), sort key, order and size.

    `sort_by` is a table column (`xgboost.aupr`, `start`, `max_depth`) or any logged metric
    or parameter name (`fold1.xgboost.aupr`, `model.xgboost.subsample`); None keeps the
    newest run first. `max_runs` (>= 1) keeps the first rows after sorting.
    """

    metrics: tuple[str, ...] = DEFAULT_METRICS
    sort_by: str | None = None
    ascending: bool = False
    max_runs: int | None = None
    include_search: bool = False


def _column(runs: pd.DataFrame, name: str) -> pd.Series:
    """A column of `runs`, or an all-missing one when MLflow returned none of that name."""
    if name in runs.columns:
        return runs[name]
    return pd.Series([None] * len(runs), index=runs.index, dtype=object)


def training_runs(runs: pd.DataFrame, include_search: bool = False) -> pd.DataFrame:
    """Rows of `runs` that are training runs (search parents and trials dropped unless
    `include_search`), newest first."""
    if runs.empty:
        return runs
    kept = runs
    if not include_search:
        kept = runs[~_column(runs, f"tags.{RUN_KIND_TAG}").isin(SEARCH_KINDS)]
    return kept.sort_values("start_time", ascending=False, kind="stable")


def model_names(runs: pd.DataFrame) -> list[str]:
    """Models with pooled metrics (`metrics.<model>.<metric>`) in `runs`: the main model and
    the baselines first, in their usual order, then any other model alphabetically."""
    found = {
        column.split(".")[1]
        for column in runs.columns
        if column.startswith("metrics.")
        and column.count(".") == 2
        and column.rsplit(".", 1)[1] in METRICS
        and not column.split(".")[1].startswith("fold")
    }
    known = [m for m in MODEL_ORDER if m in found]
    return known + sorted(found - set(known))


def _version_columns(versions: pd.DataFrame) -> pd.DataFrame:
    """One row per run id: `model_version` ("name vN"), `aliases` and the champion mark."""
    columns = ["run_id", "model_version", "aliases", "champion"]
    if versions.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for run_id, part in versions.groupby("run_id", sort=False):
        aliases = sorted({a for text in part["aliases"] for a in text.split(",") if a})
        rows.append(
            {
                "run_id": run_id,
                "model_version": ", ".join(f"{r.model} v{r.version}" for r in part.itertuples()),
                "aliases": ", ".join(aliases),
                "champion": CHAMPION_MARK if CHAMPION in aliases else "",
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _numeric_or_text(values: pd.Series) -> pd.Series:
    """Logged parameters are text; numbers become numbers so they sort as numbers."""
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if numbers.notna().sum() == values.notna().sum() else values


def _finished(runs: pd.DataFrame) -> pd.Series:
    """Runs that ended normally and completed (a RUNNING, FAILED or KILLED run, or one whose
    process died between the end of the run and registration, has partial results). Runs
    logged before completion was recorded (no host tag) count when FINISHED."""
    finished = _column(runs, "status").fillna("FINISHED") == "FINISHED"
    complete = _column(runs, f"tags.{COMPLETE_TAG}").fillna("") == "true"
    older = _column(runs, f"tags.{HOST_TAG}").isna()
    return finished & (complete | older)


def _state(runs: pd.DataFrame) -> pd.Series:
    status = _column(runs, "status").fillna("FINISHED").astype(str)
    return status.where(status != "FINISHED", "INCOMPLETE")


def reference_fingerprint(runs: pd.DataFrame) -> str:
    """The data fingerprint of the most recent finished run of `runs` ("" when none)."""
    done = runs[_finished(runs)]
    if done.empty:
        return ""
    newest = done.sort_values("start_time", ascending=False, kind="stable").iloc[0]
    value = newest.get(f"tags.{FINGERPRINT_TAG}")
    return "" if pd.isna(value) else str(value)


def _base_table(runs: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    fingerprints = _column(runs, f"tags.{FINGERPRINT_TAG}").fillna("")
    reference = reference_fingerprint(runs)
    config = _column(runs, "params.name").fillna(_column(runs, f"tags.{RUN_NAME_TAG}"))
    table = pd.DataFrame(
        {
            "run": runs["run_id"].str[:8],
            "start": runs["start_time"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "config": config,
            "fingerprint": fingerprints,
            "comparable": np.where(
                ~_finished(runs),
                "no: " + _state(runs),
                np.where(fingerprints == reference, "yes", NOT_COMPARABLE),
            ),
            "run_id": runs["run_id"],
        },
        index=runs.index,
    )
    for logged, short in KEY_PARAMS.items():
        table[short] = _numeric_or_text(_column(runs, f"params.{logged}"))
    for model in model_names(runs):
        for metric in metrics:
            table[f"{model}.{metric}"] = pd.to_numeric(
                _column(runs, f"metrics.{model}.{metric}"), errors="coerce"
            )
    return table


def _sort_column(table: pd.DataFrame, runs: pd.DataFrame, key: str) -> pd.DataFrame:
    """`table` with `key` as a column (taken from the logged metrics or params if needed)."""
    if key in table.columns:
        return table
    for candidate in (f"metrics.{key}", f"params.{key}"):
        if candidate in runs.columns:
            return table.assign(**{key: _numeric_or_text(runs[candidate])})
    examples = ", ".join([c for c in table.columns if "." in c][:3] + ["start", "max_depth"])
    raise CompareError(
        f"--sort-by {key!r}: no such column, metric or parameter in these runs (e.g. {examples})"
    )


def comparison_table(
    runs: pd.DataFrame, versions: pd.DataFrame, options: CompareOptions = CompareOptions()
) -> pd.DataFrame:
    """One row per training run: run (short id), start (UTC), config, fingerprint,
    comparable ("yes" or "not comparable" against the most recent finished run's fingerprint;
    "no: FAILED" etc. for runs that did not finish),
    run_id, key parameters, `<model>.<metric>` pooled metrics, model_version, aliases and
    champion ("*" when the run's version holds the `champion` alias).

    `runs` is `mlflow.search_runs`' DataFrame; `versions` has columns run_id, model, version,
    aliases (comma-separated). `table.attrs["reference_fingerprint"]` is the newest run's
    fingerprint. Raises CompareError when no training run is left or the sort key or a
    metric is unknown.
    """
    unknown = sorted(set(options.metrics) - set(METRICS))
    if unknown:
        raise CompareError(f"unknown metric(s) {', '.join(unknown)}; use {', '.join(METRICS)}")
    runs = training_runs(runs, options.include_search)
    if runs.empty:
        raise CompareError("no training runs to compare (check --experiment and --filter)")
    table = _base_table(runs, options.metrics)
    table = table.merge(_version_columns(versions), on="run_id", how="left")
    for name in ("model_version", "aliases", "champion"):
        table[name] = table[name].fillna("")
    if options.sort_by:
        table = _sort_column(table, runs.reset_index(drop=True), options.sort_by)
        table = table.sort_values(
            options.sort_by, ascending=options.ascending, na_position="last", kind="stable"
        )
    if options.max_runs is not None:
        table = table.head(options.max_runs)
    table = table.reset_index(drop=True)
    table.attrs["reference_fingerprint"] = reference_fingerprint(runs)
    return table


def _cell(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "-" if np.isnan(value) else f"{value:.4g}" if abs(value) >= 100 else f"{value:.4f}"
    return "-" if value is None or value == "" else str(value)


def render_terminal(table: pd.DataFrame) -> str:
    """The table turned on its side for a terminal: one column per run (headed by its
    short id), one row per field; missing values show as "-"."""
    shown = table.drop(columns=["run_id"]).set_index("run")
    text = shown.T.map(_cell) if not shown.empty else shown.T
    text.columns.name, text.index.name = None, None
    return text.to_string()


def render_html(table: pd.DataFrame, title: str) -> str:
    """A self-contained HTML page: one row per run, "not comparable" rows greyed out and the
    champion's row in bold. Every value is HTML-escaped."""
    classes = np.where(table["comparable"] != "yes", "other-data", "")
    classes = np.where(table["champion"] == CHAMPION_MARK, classes + " champion", classes)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "\n".join(
        f'<tr class="{cls.strip()}">'
        + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row)
        + "</tr>"
        for cls, row in zip(classes, table.itertuples(index=False), strict=True)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }}
th {{ background: #f3f3f3; position: sticky; top: 0; }}
tr.other-data td {{ color: #999; }}
tr.champion td {{ font-weight: bold; }}
</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Pooled held-out metrics per model. Grey rows were trained on other data (another data
fingerprint than the most recent run) and are <strong>not comparable</strong>; bold: the
champion's run.</p>
<table><thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""
