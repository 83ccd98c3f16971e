"""What a training run, a registered model and its versions say about themselves in MLflow: the
run's name and description (MLflow's `mlflow.note.content` tag, shown in the UI), the
registered model's description (what it forecasts, its intended use), each version's
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
    kind = f"{summary.main_model}{' (fallback)' if _fell_back(summary) else ''}"
    if not summary.registered_model:
        return f"{kind}, not registered (tracking.register_model is off)"
    version = f" version {summary.model_version}" if summary.model_version else ""
    return f"{kind}, registered as {summary.registered_model}{version}"


def _fell_back(summary: RunSummary) -> bool:
    return bool((summary.selection or {}).get("fell_back"))


def model_description(summary: RunSummary) -> str:
    """The registered model's own description (markdown; set once, when empty)."""
    target = summary.target
    return (
        f"rootcast district early-warning forecast, {target.horizon} period(s) ahead. Given "
        "each district's district-period history (incidents and the catalog's covariates), it "
        "returns for every district the probability of at least one incident in the period "
        f"{target.horizon} after the latest one sent (target: {target.definition}), with the "
        "training run's 90 % interval where that run made one.\n\n"
        "Each version is described individually: its training run, data, pooled held-out skill "
        "and why it was registered; the `champion` alias marks the version in use.\n\n"
        "**Intended use**: allocating prevention and development programs (schooling, "
        "livelihoods, local governance, social cohesion). Not for security operations or "
        "actions against people. The model learned associations, not causes."
    )


def _why(summary: RunSummary, reason: str) -> str:
    """`reason` (models/selection.py `Selection.reason`) as a clause after the model's name."""
    return f"a fallback — {reason}" if _fell_back(summary) else f"it {reason}"


def run_description(summary: RunSummary, reason: str) -> str:
    """The run's description (markdown): data, folds, the registered model and why (`reason`:
    the selection's, models/selection.py)."""
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
            f"**Why {summary.main_model}**: {_why(summary, reason)}.",
        ]
    )


def version_description(summary: RunSummary, reason: str) -> str:
    """A registered version's description: what it is, its skill, its data, why it was chosen
    (`reason`: the selection's, models/selection.py)."""
    return (
        f"{_registered(summary)}, trained by run {summary.run_id} (config "
        f"{summary.config_name}). Pooled held-out AUPR {_pooled(summary, 'aupr')}, Brier "
        f"{_pooled(summary, 'brier')} over {len(summary.folds)} rolling-origin folds. "
        f"Data: {_data(summary)}. Registered "
        f"{'as a fallback: ' if _fell_back(summary) else 'because it '}{reason}."
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


def describe_model(name: str, text: str) -> None:
    """Set registered model `name`'s description to `text` unless it has one (a user's own
    description is kept)."""
    client = store_client()
    if not (client.get_registered_model(name).description or "").strip():
        client.update_registered_model(name, description=text)


def describe_version(name: str, version: str, text: str) -> None:
    store_client().update_model_version(name, version, description=text)
