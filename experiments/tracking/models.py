"""Models in the registry: log, register (first version becomes champion), load with the
project's own allow-list of types, aliases and tags (rules in experiments/registry.py).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
import skops.io
import skops.io.exceptions
from mlflow.exceptions import MlflowException
from mlflow.models import Model, infer_signature

from experiments.registry import (
    CHAMPION,
    PREVIOUS,
    TRUSTED_MODEL_TYPES,
    ModelRef,
    becomes_champion_on_registration,
)
from experiments.tracking.store import ABSENT, TrackingError, store_client, store_lock, tracking_uri

log = logging.getLogger(__name__)


# What the logged model needs to load and predict: pinned to the versions that trained it, so
# MLflow does not spend seconds inferring them in a subprocess on every run.
MODEL_PACKAGES = ("mlflow", "scikit-learn", "xgboost-cpu", "skops", "numpy", "pandas", "scipy")


def model_requirements() -> list[str]:
    """`package==version` of every package in MODEL_PACKAGES that is installed."""
    pinned = []
    for package in MODEL_PACKAGES:
        try:
            pinned.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pinned


def log_model(model: object, input_example: pd.DataFrame) -> str:
    """Log the fitted pipeline to the active run (skops format, signature, input example).

    Returns the model's URI. Refuses a model holding types outside TRUSTED_MODEL_TYPES (a
    new class in the pipeline must be allow-listed in experiments/registry.py on purpose).
    """
    untrusted = set(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
    if not untrusted <= set(TRUSTED_MODEL_TYPES):
        raise TrackingError(
            f"the model holds types not in TRUSTED_MODEL_TYPES: {sorted(untrusted)}"
        )
    # pyfunc's predict is predict_proba: columns P(no incident), P(incident)
    output = model.predict_proba(input_example)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(input_example, output),
        input_example=input_example,
        skops_trusted_types=list(TRUSTED_MODEL_TYPES),
        pip_requirements=model_requirements(),
        pyfunc_predict_fn="predict_proba",
        serialization_format="skops",
    )
    return info.model_uri


def register_model(model_uri: str, name: str) -> tuple[str, bool]:
    """Register a finished run's model as a new version of `name`; the first version becomes
    champion (registry rule). Returns (version, became champion)."""
    chatter = io.StringIO()  # MLflow prints "Successfully registered model ..." to stderr
    with warnings.catch_warnings(), contextlib.redirect_stderr(chatter):
        warnings.filterwarnings("ignore", category=FutureWarning)
        version = str(mlflow.register_model(model_uri, name).version)
    for line in chatter.getvalue().splitlines():
        log.info(line)
    with store_lock():
        if not becomes_champion_on_registration(alias_version(name, CHAMPION)):
            return version, False
        set_alias(name, CHAMPION, version)
    return version, True


def run_id_of(ref: ModelRef) -> str:
    """The id of the run that logged the model `ref` names (raises MlflowException)."""
    client = store_client()
    if ref.alias:
        return client.get_model_version_by_alias(ref.name, ref.alias).run_id
    if ref.version:
        return client.get_model_version(ref.name, ref.version).run_id
    return client.get_run(ref.run_id).info.run_id


def load_model(reference: str) -> tuple[object, str]:
    """Load a logged model by registry reference (`name@alias`, `name/version`) or run id.

    Only skops-serialised models load, and only with the project's own allow-list of types
    (TRUSTED_MODEL_TYPES), never the list stored inside the artifact; pickle is refused.
    Returns (the fitted scikit-learn model, the id of the run that logged it).
    """
    mlflow.set_tracking_uri(tracking_uri())
    ref = ModelRef.parse(reference)
    try:
        run_id = run_id_of(ref)
        local = Path(mlflow.artifacts.download_artifacts(ref.uri))
    except MlflowException as exc:
        raise LookupError(f"model {reference!r} not found in {tracking_uri()}: {exc}") from None
    flavor = Model.load(local).flavors.get("sklearn", {})
    if flavor.get("serialization_format") != "skops":
        raise LookupError(
            f"model {reference!r} is not skops-serialised "
            f"({flavor.get('serialization_format')}): refused, it could run arbitrary code"
        )
    try:
        model = skops.io.load(local / flavor["pickled_model"], trusted=list(TRUSTED_MODEL_TYPES))
    except skops.io.exceptions.UntrustedTypesFoundException as exc:
        raise LookupError(f"model {reference!r} holds untrusted types: {exc}") from None
    return model, run_id


def alias_version(name: str, alias: str) -> str | None:
    """Version number behind `name@alias`, or None when the alias (or model) does not exist."""
    try:
        return str(store_client().get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ABSENT:  # other failures (e.g. no server) must not read as absent
            return None
        raise


def version_run_id(name: str, version: str) -> str:
    """The id of the run that logged `name` version `version`."""
    return store_client().get_model_version(name, version).run_id


def set_alias(name: str, alias: str, version: str) -> None:
    store_client().set_registered_model_alias(name, alias, version)


def promote(name: str, version: str) -> None:
    """Make `version` champion; the champion it replaces (if any) keeps alias `previous`."""
    with store_lock():
        current = alias_version(name, CHAMPION)
        if current is not None and current != version:
            set_alias(name, PREVIOUS, current)
        set_alias(name, CHAMPION, version)


def swap_champion_and_previous(name: str) -> tuple[str, str] | None:
    """Rollback: `previous` becomes champion and the champion `previous`. Returns
    (demoted, restored) versions, or None when there is nothing to roll back to."""
    with store_lock():
        current, previous = alias_version(name, CHAMPION), alias_version(name, PREVIOUS)
        if current is None or previous is None:
            return None
        set_alias(name, CHAMPION, previous)
        set_alias(name, PREVIOUS, current)
    return current, previous


def tag_version(name: str, version: str, tags: dict[str, str]) -> None:
    client = store_client()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, str(value))
