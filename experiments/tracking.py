"""The one module that talks to MLflow: runs, params, datasets, metrics, models, registry
(the registry's rules and names are in `experiments/registry.py`).

Default store: SQLite `mlflow.db` in the project folder with artifacts under `mlruns/`;
`MLFLOW_TRACKING_URI` (e.g. an MLflow server) overrides it.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pandas as pd
import skops.io
from mlflow import MlflowClient
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from experiments.registry import (
    CHAMPION,
    FINGERPRINT_TAG,
    PARENT_TAG,
    PREVIOUS,
    ModelRef,
    becomes_champion_on_registration,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
# MLflow's codes for "no such registered model" and "no such alias"
ABSENT = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
log = logging.getLogger(__name__)


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else the project's SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_DIR / 'mlflow.db'}"


def _artifact_root() -> str | None:
    """Local artifact folder beside a local SQLite store; servers choose their own."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return (db.parent / "mlruns").resolve().as_uri()
    return None


def _experiment_id(name: str) -> str:
    client = MlflowClient(tracking_uri())
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=_artifact_root())


@contextmanager
def tracked_run(experiment: str, run_name: str, tags: dict[str, str]) -> Iterator[str]:
    """Start an MLflow run in `experiment`; yields the run id. Failed runs end as FAILED."""
    mlflow.set_tracking_uri(tracking_uri())
    experiment_id = _experiment_id(experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
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


def log_and_register_model(
    model: object,
    input_example: pd.DataFrame,
    registered_name: str | None,
) -> tuple[str, str | None, bool]:
    """Log the fitted pipeline (skops format, signature, input example) and register it.

    Returns (model uri, version or None, became champion). The first version of a registered
    model gets the `champion` alias; promotion of later versions is the retrain command's job.
    """
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    # pyfunc's predict is predict_proba: columns P(no incident), P(incident)
    output = model.predict_proba(input_example)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(input_example, output),
        input_example=input_example,
        registered_model_name=registered_name,
        skops_trusted_types=trusted,
        pyfunc_predict_fn="predict_proba",
        serialization_format="skops",
    )
    if not registered_name:
        return info.model_uri, None, False
    version = str(info.registered_model_version)
    if not becomes_champion_on_registration(alias_version(registered_name, CHAMPION)):
        return info.model_uri, version, False
    set_alias(registered_name, CHAMPION, version)
    return info.model_uri, version, True


def run_id_of(ref: ModelRef) -> str:
    """The id of the run that logged the model `ref` names (raises MlflowException)."""
    client = MlflowClient(tracking_uri())
    if ref.alias:
        return client.get_model_version_by_alias(ref.name, ref.alias).run_id
    if ref.version:
        return client.get_model_version(ref.name, ref.version).run_id
    return client.get_run(ref.run_id).info.run_id


def load_model(reference: str) -> tuple[object, str]:
    """Load a logged model by registry reference (`name@alias`, `name/version`) or run id.

    Returns (the fitted scikit-learn model, the id of the run that logged it).
    """
    mlflow.set_tracking_uri(tracking_uri())
    ref = ModelRef.parse(reference)
    try:
        run_id = run_id_of(ref)
        return mlflow.sklearn.load_model(ref.uri), run_id
    except MlflowException as exc:
        raise LookupError(f"model {reference!r} not found in {tracking_uri()}: {exc}") from None


def load_run_config(run_id: str) -> dict:
    """The config a run logged (config.json artifact)."""
    mlflow.set_tracking_uri(tracking_uri())
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json")


def run_tag(run_id: str, key: str) -> str | None:
    return MlflowClient(tracking_uri()).get_run(run_id).data.tags.get(key)


def alias_version(name: str, alias: str) -> str | None:
    """Version number behind `name@alias`, or None when the alias (or model) does not exist."""
    try:
        return str(MlflowClient(tracking_uri()).get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ABSENT:  # other failures (e.g. no server) must not read as absent
            return None
        raise


def version_run_id(name: str, version: str) -> str:
    """The id of the run that logged `name` version `version`."""
    return MlflowClient(tracking_uri()).get_model_version(name, version).run_id


def set_alias(name: str, alias: str, version: str) -> None:
    MlflowClient(tracking_uri()).set_registered_model_alias(name, alias, version)


def promote(name: str, version: str) -> None:
    """Make `version` champion; the champion it replaces (if any) keeps alias `previous`."""
    current = alias_version(name, CHAMPION)
    if current is not None and current != version:
        set_alias(name, PREVIOUS, current)
    set_alias(name, CHAMPION, version)


def swap_champion_and_previous(name: str) -> tuple[str, str] | None:
    """Rollback: `previous` becomes champion and the champion `previous`. Returns
    (demoted, restored) versions, or None when there is nothing to roll back to."""
    current, previous = alias_version(name, CHAMPION), alias_version(name, PREVIOUS)
    if current is None or previous is None:
        return None
    set_alias(name, CHAMPION, previous)
    set_alias(name, PREVIOUS, current)
    return current, previous


def tag_version(name: str, version: str, tags: dict[str, str]) -> None:
    client = MlflowClient(tracking_uri())
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, str(value))


def tag_run(run_id: str, tags: dict[str, str]) -> None:
    client = MlflowClient(tracking_uri())
    for key, value in tags.items():
        client.set_tag(run_id, key, str(value))


def log_to_run(run_id: str, metrics: dict[str, float], files: list[Path]) -> None:
    """Add metrics and artifact files to a finished run."""
    client = MlflowClient(tracking_uri())
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
    client = MlflowClient(tracking_uri())
    try:
        run_id = run_id_of(ModelRef.parse(run_id_or_model_ref))
        files = [f.path for f in client.list_artifacts(run_id) if not f.is_dir]
    except MlflowException as exc:
        raise LookupError(f"{run_id_or_model_ref!r} not found in {tracking_uri()}: {exc}") from None
    if "summary.json" not in files:
        raise LookupError(f"run {run_id} logged no summary.json; is it a training run?")
    dest.mkdir(parents=True, exist_ok=True)
    mlflow.artifacts.download_artifacts(
        run_id=run_id, dst_path=str(dest), tracking_uri=tracking_uri()
    )
    return dest


# --- Comparing runs and hyper-parameter search (nested runs) ---


def search_runs_frame(experiment: str, filter_string: str = "") -> pd.DataFrame:
    """Every run of `experiment` matching `filter_string` (MLflow's search syntax, e.g.
    "tags.data.synthetic = 'true'"), newest first, as `mlflow.search_runs`' DataFrame: run_id,
    start_time, metrics.*, params.*, tags.* columns; empty when no run matches.

    Raises LookupError for an unknown experiment or a malformed filter.
    """
    mlflow.set_tracking_uri(tracking_uri())
    found = MlflowClient(tracking_uri()).get_experiment_by_name(experiment)
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
    client = MlflowClient(tracking_uri())
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
    MlflowClient(tracking_uri()).set_tag(run_id, PARENT_TAG, parent_run_id)
