"""The MLflow store: its URI, a lock for store creation and alias moves, experiments, and
stale runs of killed processes.

Default store: SQLite `mlflow.db` in the project folder with artifacts under `mlruns/`;
`MLFLOW_TRACKING_URI` (e.g. an MLflow server) overrides it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException

from experiments.locks import file_lock, process_alive
from experiments.registry import (
    HOST_TAG,
    PID_TAG,
)
from features.errors import RootcastError

PROJECT_DIR = Path(__file__).resolve().parents[2]
# MLflow's codes for "no such registered model" and "no such alias"
ABSENT = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
log = logging.getLogger(__name__)
# downloads of a run's few small files need no progress bar on the user's terminal
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else the project's SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_DIR / 'mlflow.db'}"


class TrackingError(RootcastError):
    """The tracking store or registry refuses what was asked (e.g. a deleted experiment)."""


def _sqlite_path() -> Path | None:
    uri = tracking_uri()
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def _artifact_root() -> str | None:
    """Local artifact folder beside a local SQLite store; servers choose their own."""
    db = _sqlite_path()
    return (db.parent / "mlruns").resolve().as_uri() if db else None


@contextmanager
def store_lock() -> Iterator[None]:
    """Serialise store creation and alias moves between processes on a local SQLite store
    (a server serialises its own writes: no lock needed there)."""
    db = _sqlite_path()
    if db is None:
        yield
        return
    with file_lock(db.with_name(db.name + ".lock")):
        yield


_READY: set[str] = set()


def store_client() -> MlflowClient:
    """A client of the store, created and migrated once under the store lock, so several
    processes starting on a new SQLite store do not race to create its tables."""
    uri = tracking_uri()
    if uri not in _READY:
        try:
            with store_lock():
                MlflowClient(uri).search_experiments(max_results=1)
        except MlflowException as exc:
            raise TrackingError(f"MLflow store {uri}: {exc.message}") from None
        _READY.add(uri)
    return MlflowClient(uri)


def check_experiment(name: str) -> None:
    """Raise TrackingError when experiment `name` exists but was deleted (MLflow keeps the
    name; a run there would fail only after training). Creates no store."""
    db = _sqlite_path()
    if db is not None and not db.exists():
        return  # a new store has no experiments yet, deleted or not
    found = store_client().get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage == "deleted":
        raise TrackingError(
            f"experiment {name!r} was deleted in {tracking_uri()}: restore it (mlflow "
            "experiments restore) or set tracking.experiment to another name"
        )


# The tag (and value) by which MLflow 3's UI can tell a model-training experiment from a GenAI
# one (MLflow's own demo sets it). The 3.17 UI reads it only with its workflow feature off;
# otherwise the browser's mode decides (`?workflowType=machine_learning`, see `make ui`).
EXPERIMENT_KIND_TAG, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"


def _experiment_id(name: str) -> str:
    """The id of experiment `name`, created (marked as model training) when absent; an
    existing experiment without a kind gets it, one a user marked otherwise keeps theirs."""
    client = store_client()
    with store_lock():
        found = client.get_experiment_by_name(name)
        if found is None:
            return client.create_experiment(
                name, artifact_location=_artifact_root(), tags={EXPERIMENT_KIND_TAG: TRAINING_KIND}
            )
        if EXPERIMENT_KIND_TAG not in found.tags:
            client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, TRAINING_KIND)
        return found.experiment_id


def end_stale_runs(experiment_id: str) -> list[str]:
    """Runs of this tool left RUNNING by a process of this machine that no longer exists
    (killed) are ended as KILLED. Returns their ids."""
    client, host = store_client(), socket.gethostname()
    stale = []
    for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        if tags.get(HOST_TAG) == host and PID_TAG in tags:
            if not process_alive(int(tags[PID_TAG])):
                client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
                stale.append(run.info.run_id)
    return stale
