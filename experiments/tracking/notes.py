"""What a training run and a registered version say about themselves in MLflow: the run's
name and description (MLflow's `mlflow.note.content` tag, shown in the UI), the version's
description and tags. Built from the run's summary (reports/contract.py)."""

from __future__ import annotations

from datetime import datetime

from experiments.registry import (
    FINGERPRINT_TAG,
    NOTE_TAG,
    POOLED_AUPR_TAG,
    POOLED_BRIER_TAG,
    SOURCE_TAG,
)
from experiments.tracking.store import store_client
from reports.contract import RunSummary


def training_run_name(summary: RunSummary) -> str:
    """`<config name>-<registered model kind>-<YYYYMMDD-HHMM>` (UTC, when the run was made)."""
    created = datetime.fromisoformat(summary.created)
    return f"{summary.config_name}-{summary.main_model}-{created:%Y%m%d-%H%M}"


def _pooled(summary: RunSummary, metric: str) -> str:
    value = summary.metrics.get(summary.main_model, {}).get(metric)
    return "n/a" if value is None else f"{value:.4f}"


def _data(summary: RunSummary) -> str:
    data = summary.data
    status = " (SYNTHETIC)" if data.synthetic else ""
    return (
        f"{data.source}{status}: {data.n_districts:,} districts, {data.n_rows:,} "
        f"district-periods, periods {data.periods[0]} to {data.periods[-1]}; "
        f"fingerprint `{data.fingerprint}`"
    )


def _registered(summary: RunSummary) -> str:
    fell_back = (summary.selection or {}).get("fell_back")
    kind = f"{summary.main_model}{' (fallback)' if fell_back else ''}"
    if not summary.registered_model:
        return f"{kind}, not registered (tracking.register_model is off)"
    version = f" version {summary.model_version}" if summary.model_version else ""
    return f"{kind}, registered as {summary.registered_model}{version}"


def run_description(summary: RunSummary, selection: str) -> str:
    """The run's description (markdown): data, folds, the registered model, the selection."""
    folds = summary.folds
    held_out = ", ".join(f"{f.n_test:,}" for f in folds)
    return "\n\n".join(
        [
            f"**Data**: {_data(summary)}.",
            f"**Target**: {summary.target.definition} (horizon {summary.target.horizon}); "
            f"forecast made from period {summary.forecast_period}.",
            f"**Folds**: {len(folds)} rolling-origin folds (held-out district-periods: "
            f"{held_out}).",
            f"**Registered model**: {_registered(summary)}; pooled held-out AUPR "
            f"{_pooled(summary, 'aupr')}, Brier {_pooled(summary, 'brier')}.",
            f"**Selection**: {selection}",
        ]
    )


def version_description(summary: RunSummary, selection: str) -> str:
    """A registered version's description: what it is, its skill, its data, why it was chosen."""
    return (
        f"{_registered(summary)}, trained by run {summary.run_id} (config "
        f"{summary.config_name}). Pooled held-out AUPR {_pooled(summary, 'aupr')}, Brier "
        f"{_pooled(summary, 'brier')} over {len(summary.folds)} rolling-origin folds. "
        f"Data: {_data(summary)}. Selection: {selection}"
    )


def version_tags(summary: RunSummary) -> dict[str, str]:
    """A registered version's own tags: pooled AUPR and Brier, data fingerprint and panel."""
    return {
        POOLED_AUPR_TAG: _pooled(summary, "aupr"),
        POOLED_BRIER_TAG: _pooled(summary, "brier"),
        FINGERPRINT_TAG: summary.data.fingerprint,
        SOURCE_TAG: summary.data.source,
    }


def describe_run(run_id: str, text: str) -> None:
    """Set the run's description (MLflow's note tag, shown on the run's page)."""
    store_client().set_tag(run_id, NOTE_TAG, text)


def describe_version(name: str, version: str, text: str) -> None:
    store_client().update_model_version(name, version, description=text)
