"""Comparing runs and hyper-parameter search: run tables, model versions of runs, nested runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from experiments.registry import (
    PARENT_TAG,
)
from experiments.tracking.store import store_client, tracking_uri

# --- Comparing runs and hyper-parameter search (nested runs) ---


def search_runs_frame(experiment: str, filter_string: str = "") -> pd.DataFrame:
    """Every run of `experiment` matching `filter_string` (MLflow's search syntax, e.g.
    "tags.data.synthetic = 'true'"), newest first, as `mlflow.search_runs`' DataFrame: run_id,
    start_time, metrics.*, params.*, tags.* columns; empty when no run matches.

    Raises LookupError for an unknown experiment or a malformed filter.
    """
    mlflow.set_tracking_uri(tracking_uri())
    found = store_client().get_experiment_by_name(experiment)
    if found is None:
        raise LookupError(f"experiment {experiment!r} not found in {tracking_uri()}")
    try:
        return mlflow.search_runs(
            [found.experiment_id],
            filter_string=filter_string,
            order_by=["attributes.start_time DESC"],
            output_format="pandas",
        )
    except MlflowException as exc:
        raise LookupError(f"filter {filter_string!r}: {exc.message}") from None


def run_model_versions(run_ids: list[str]) -> pd.DataFrame:
    """Registered model versions logged by `run_ids`: columns run_id, model, version and
    aliases (comma-separated, e.g. "champion" or "previous"; "" when none)."""
    client = store_client()
    versions = []
    for start in range(0, len(run_ids), 50):  # keeps each filter string short
        quoted = ", ".join(f"'{r}'" for r in run_ids[start : start + 50])
        versions += client.search_model_versions(f"run_id IN ({quoted})")
    aliases: dict[tuple[str, str], list[str]] = {}
    for name in sorted({v.name for v in versions}):
        for alias, version in client.get_registered_model(name).aliases.items():
            aliases.setdefault((name, str(version)), []).append(alias)
    rows = [
        {
            "run_id": v.run_id,
            "model": v.name,
            "version": str(v.version),
            "aliases": ",".join(sorted(aliases.get((v.name, str(v.version)), []))),
        }
        for v in versions
    ]
    return pd.DataFrame(rows, columns=["run_id", "model", "version", "aliases"])


@contextmanager
def nested_run(run_name: str, tags: dict[str, str]) -> Iterator[str]:
    """A child run of the active run (e.g. a search trial under `tracked_run`'s parent), in
    the parent's experiment; yields its id. Ends FAILED on an exception.

    Raises RuntimeError when no run is active.
    """
    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("nested_run needs an active parent run (start one with tracked_run)")
    with mlflow.start_run(
        experiment_id=parent.info.experiment_id, run_name=run_name, nested=True, tags=tags
    ) as run:
        yield run.info.run_id


def log_run_params(params: dict[str, object]) -> None:
    """Log parameters of the active run (values as text, MLflow's way)."""
    mlflow.log_params(params)


def attach_to_parent(run_id: str, parent_run_id: str) -> None:
    """Show a finished run as a child of `parent_run_id` (MLflow's parent tag), e.g. the
    training run a hyper-parameter search chose, beside the search's trials."""
    store_client().set_tag(run_id, PARENT_TAG, parent_run_id)
