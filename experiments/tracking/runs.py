"""Runs: start one, log config, dataset, metrics and files to it, read back what a run logged."""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from experiments.registry import (
    FINGERPRINT_TAG,
    HOST_TAG,
    PID_TAG,
    ModelRef,
)
from experiments.tracking.models import run_id_of
from experiments.tracking.store import (
    _experiment_id,
    end_stale_runs,
    store_client,
    store_lock,
    tracking_uri,
)
from reports.contract import SUMMARY_FILE


@contextmanager
def tracked_run(experiment: str, run_name: str, tags: dict[str, str]) -> Iterator[str]:
    """Start an MLflow run in `experiment`; yields the run id. A run ended by an exception
    (Ctrl-C included) is FAILED; one whose process was killed is ended KILLED by the next
    run on this machine."""
    mlflow.set_tracking_uri(tracking_uri())
    experiment_id = _experiment_id(experiment)
    end_stale_runs(experiment_id)
    owner = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, tags={**tags, **owner}
    ) as run:
        yield run.info.run_id


def log_config(config: dict) -> None:
    """Log the config as a JSON artifact and its leaves as flattened params."""
    mlflow.log_dict(config, "config.json")
    mlflow.log_params(_flatten(config))


def _flatten(data: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


SCHEMA_ROWS = 2_000


def dataset_schema(panel: pd.DataFrame):
    """The MLflow schema of `panel`, inferred from at most SCHEMA_ROWS rows spread over it."""
    step = max(1, len(panel) // SCHEMA_ROWS)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        return infer_signature(panel.iloc[::step]).inputs


def log_dataset(panel: pd.DataFrame, name: str, source: str, digest: str) -> None:
    """Record the validated panel as the run's training input, with its content hash."""
    with warnings.catch_warnings():
        # MLflow registers its local source class twice and hints about integer columns
        # (keys and counts are integers by contract); neither is actionable here.
        warnings.filterwarnings("ignore", "The specified dataset source", UserWarning)
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        origin = (
            CodeDatasetSource({"generator": source}) if source.startswith("synthetic:") else source
        )
        dataset = mlflow.data.from_pandas(
            panel, source=origin, name=name, targets="incidents", digest=digest
        )
        # MLflow infers the schema value by value (21 s for 100k rows x 56 columns, growing
        # with rows); column types decide it, so rows spread over the panel give the same.
        dataset.schema = dataset_schema(panel)
        # MLflow gets-or-creates the dataset row without a lock: runs logging the same data
        # at once collide on its unique key. Under the store lock one creates it, the others
        # find it; a server store gets one retry, which then finds it.
        with store_lock():
            try:
                mlflow.log_input(dataset, context="training")
            except MlflowException as exc:
                if "UNIQUE constraint" not in str(exc) and "Duplicate entry" not in str(exc):
                    raise
                mlflow.log_input(dataset, context="training")
    mlflow.set_tag(FINGERPRINT_TAG, digest)


def log_metric_table(scores: pd.DataFrame) -> None:
    """Log `model, fold, metric...` rows as `<model>.<metric>` (pooled) and
    `fold<k>.<model>.<metric>` (per fold); NaN metrics are skipped."""
    metrics: dict[str, float] = {}
    for row in scores.to_dict("records"):
        prefix = row["model"] if row["fold"] == "pooled" else f"fold{row['fold']}.{row['model']}"
        for key, value in row.items():
            if key not in {"model", "fold"} and pd.notna(value):
                metrics[f"{prefix}.{key}"] = float(value)
    mlflow.log_metrics(metrics)


def log_scalars(metrics: dict[str, float]) -> None:
    """Log named scalar metrics (NaN skipped)."""
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if pd.notna(v)})


def log_artifact_files(paths: list[Path]) -> None:
    for path in paths:
        mlflow.log_artifact(str(path))


def load_run_config(run_id: str) -> dict:
    """The config a run logged (config.json artifact)."""
    mlflow.set_tracking_uri(tracking_uri())
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json")
    except MlflowException:
        raise LookupError(
            f"run {run_id} logged no config.json: not a model trained by rootcast"
        ) from None


def run_tag(run_id: str, key: str) -> str | None:
    return store_client().get_run(run_id).data.tags.get(key)


def tag_run(run_id: str, tags: dict[str, str]) -> None:
    client = store_client()
    for key, value in tags.items():
        client.set_tag(run_id, key, str(value))


def log_to_run(run_id: str, metrics: dict[str, float], files: list[Path]) -> None:
    """Add metrics and artifact files to a finished run."""
    client = store_client()
    for key, value in metrics.items():
        if pd.notna(value):
            client.log_metric(run_id, key, float(value))
    for path in files:
        client.log_artifact(run_id, str(path))


def download_run_results(run_id_or_model_ref: str, dest: Path) -> Path:
    """Download the result files a training run logged (summary.json, tables, catalog,
    geometry) into `dest`; returns `dest`. The run is a run id, or the run that logged a
    registered model: `name@alias`, `name/version` (a `models:/` prefix is allowed).

    Raises LookupError when the run or model is unknown, or the run logged no summary.json.
    """
    client = store_client()
    try:
        run_id = run_id_of(ModelRef.parse(run_id_or_model_ref))
        files = [f.path for f in client.list_artifacts(run_id) if not f.is_dir]
    except MlflowException as exc:
        raise LookupError(f"{run_id_or_model_ref!r} not found in {tracking_uri()}: {exc}") from None
    if SUMMARY_FILE not in files:
        raise LookupError(f"run {run_id} logged no {SUMMARY_FILE}; is it a training run?")
    dest.mkdir(parents=True, exist_ok=True)
    mlflow.artifacts.download_artifacts(
        run_id=run_id, dst_path=str(dest), tracking_uri=tracking_uri()
    )
    return dest
