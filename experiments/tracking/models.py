"""Models in the registry: log, register (first version becomes champion), load with the
project's own allow-list of types, aliases and tags (rules in experiments/registry.py).
"""

from __future__ import annotations

import ast
import contextlib
import io
import logging
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import mlflow
import pandas as pd
import skops.io
import skops.io.exceptions
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature, infer_signature
from mlflow.models.model import MODEL_CODE_PATH
from mlflow.types import ColSpec, Schema

from experiments.registry import (
    CHAMPION,
    PREVIOUS,
    ModelRef,
    becomes_champion_on_registration,
)
from experiments.tracking.notes import describe_model
from experiments.tracking.store import (
    ABSENT,
    PROJECT_DIR,
    TrackingError,
    store_client,
    store_lock,
    tracking_uri,
)
from features.schema import LABELS
from models.serving import ARTIFACT, ESTIMATOR_FILE, Forecaster, load_estimator
from models.serving import load_forecaster as load_forecaster_files
from models.trusted import TRUSTED_MODEL_TYPES

log = logging.getLogger(__name__)
T = TypeVar("T")

# The registered model's code (MLflow "models from code"), logged as a file with the model.
PANEL_MODEL_CODE = Path(__file__).with_name("panel_model.py")


# What the logged model needs to load and predict: pinned to the versions that trained it, so
# MLflow does not spend seconds inferring them in a subprocess on every run.
MODEL_PACKAGES = (
    "mlflow",
    "scikit-learn",
    "xgboost-cpu",
    "skops",
    "numpy",
    "pandas",
    "scipy",
    "pydantic",  # models.settings and features.catalog (logged with the model)
    "pandera",  # features.schema: the model validates the panel rows it is sent
)
# The project's own packages: a model's classes and what they import from these are logged
# with it (MLflow `code_paths`), so it loads where the project is not on the path.
PROJECT_PACKAGES = ("models", "features")


def model_requirements() -> list[str]:
    """`package==version` of every package in MODEL_PACKAGES that is installed."""
    pinned = []
    for package in MODEL_PACKAGES:
        try:
            pinned.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pinned


def _module_file(module: str) -> Path | None:
    """The project file of `module` (a package's __init__.py), None when not the project's."""
    if module.split(".")[0] not in PROJECT_PACKAGES:
        return None
    base = PROJECT_DIR.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def model_code(modules: set[str]) -> list[Path]:
    """Project files (relative to PROJECT_DIR) that `modules` need to import: the modules,
    every project module they import (transitively) and the packages' __init__.py files."""
    needed: set[Path] = set()
    todo = sorted(modules)
    while todo:
        module = todo.pop()
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):  # the module and the packages holding it
            path = _module_file(".".join(parts[:depth]))
            if path is None or path in needed:
                continue
            needed.add(path)
            todo += imported_names(path)
    return sorted(path.relative_to(PROJECT_DIR) for path in needed)


def imported_names(path: Path) -> list[str]:
    """Every module (and `module.name`) the file `path` imports absolutely."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _copy_code(files: list[Path], dest: Path) -> list[str]:
    """Copy project `files` under `dest` (package layout kept); the top-level folders, for
    MLflow's `code_paths` (each is copied into the model's code/ folder, put on sys.path)."""
    for file in files:
        (dest / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT_DIR / file, dest / file)
    return sorted(str(dest / top) for top in {file.parts[0] for file in files})


def _held_types(estimators: list) -> set[str]:
    """Types the estimators hold beyond those skops trusts itself (e.g. the project's)."""
    return {t for e in estimators for t in skops.io.get_untrusted_types(data=skops.io.dumps(e))}


def panel_signature(example: pd.DataFrame, output: pd.DataFrame) -> ModelSignature:
    """The signature of panel rows -> forecast; the label columns are optional inputs (as
    in the data contract)."""
    with warnings.catch_warnings():  # period and incidents are integers, never missing
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer column")
        signature = infer_signature(example, output)
    inputs = [
        ColSpec(c.type, c.name, required=c.name not in LABELS) for c in signature.inputs.inputs
    ]
    return ModelSignature(Schema(inputs), signature.outputs)


def log_model(forecaster: Forecaster, panel: pd.DataFrame) -> str:
    """Log `forecaster` (the run's model, its bootstrap refits, catalog, horizon, adjacency)
    to the active run as an MLflow model from code (`panel_model.py`): panel rows in, the
    named forecast columns out. Its files are artifacts (skops, JSON, npz; no pickle), the
    project code it imports is logged with it (`code_paths`: only the modules needed), the
    input example is the last periods of `panel` (validated) and the signature is inferred
    from the example and its forecast, so `mlflow.pyfunc.load_model` and `mlflow models
    serve` work outside the project.

    Returns the model's URI. Refuses estimators holding types outside TRUSTED_MODEL_TYPES
    (a new class in the pipeline must be allow-listed in models/trusted.py on purpose).
    """
    estimators = [forecaster.model, *(forecaster.members or ())]
    held = _held_types(estimators)
    untrusted = held - set(TRUSTED_MODEL_TYPES)
    if untrusted:
        raise TrackingError(
            f"the model holds types not in TRUSTED_MODEL_TYPES: {sorted(untrusted)}"
        )
    modules = {name.rsplit(".", 1)[0] for name in held} | {type(e).__module__ for e in estimators}
    modules |= set(imported_names(PANEL_MODEL_CODE))
    example = forecaster.example(panel)
    with tempfile.TemporaryDirectory(prefix="rootcast-model-") as tmp:
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=PANEL_MODEL_CODE,
            artifacts={ARTIFACT: str(forecaster.save(Path(tmp) / ARTIFACT))},
            code_paths=_copy_code(model_code(modules), Path(tmp) / "code"),
            signature=panel_signature(example, forecaster.forecast(example)),
            input_example=example,
            pip_requirements=model_requirements(),
        )
    return info.model_uri


def register_model(model_uri: str, name: str, description: str = "") -> tuple[str, bool]:
    """Register a finished run's model as a new version of `name` (created when new, and given
    `description` while it has none: a user's own is kept); the first version becomes
    champion (registry rule). Returns (version, became champion)."""
    chatter = io.StringIO()  # MLflow prints "Successfully registered model ..." to stderr
    with warnings.catch_warnings(), contextlib.redirect_stderr(chatter):
        warnings.filterwarnings("ignore", category=FutureWarning)
        version = str(mlflow.register_model(model_uri, name).version)
    for line in chatter.getvalue().splitlines():
        log.info(line)
    if description:
        describe_model(name, description)
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


def _download(reference: str) -> tuple[Path, str]:
    """The logged model `reference` names, downloaded; and the id of the run that logged it."""
    mlflow.set_tracking_uri(tracking_uri())
    ref = ModelRef.parse(reference)
    try:
        run_id = run_id_of(ref)
        local = Path(mlflow.artifacts.download_artifacts(ref.uri))
    except MlflowException as exc:
        raise LookupError(f"model {reference!r} not found in {tracking_uri()}: {exc}") from None
    return local, run_id


def _forecaster_folder(local: Path) -> Path | None:
    """The forecaster's files of a model from code (`log_model`), None for another model."""
    pyfunc = Model.load(local).flavors.get("python_function", {})
    if MODEL_CODE_PATH not in pyfunc or ARTIFACT not in pyfunc.get("artifacts", {}):
        return None
    return local / pyfunc["artifacts"][ARTIFACT]["path"]


def _trusted(load: Callable[[Path], T], path: Path, reference: str) -> T:
    """`load(path)`, a skops file (or a folder of them) that must hold only trusted types."""
    try:
        return load(path)
    except skops.io.exceptions.UntrustedTypesFoundException as exc:
        raise LookupError(f"model {reference!r} holds untrusted types: {exc}") from None
    except zipfile.BadZipFile:
        raise LookupError(
            f"model {reference!r}: an estimator file is not skops (a pickle?): refused, it "
            "could run arbitrary code"
        ) from None


def load_model(reference: str) -> tuple[object, str]:
    """Load a logged model's fitted estimator by registry reference (`name@alias`,
    `name/version`) or run id: the skops file of a panel model (`log_model`), or of a model
    logged with MLflow's sklearn flavour before those.

    Only skops files load, and only with the project's own allow-list of types
    (TRUSTED_MODEL_TYPES), never the list stored inside the artifact; pickle is refused.
    Returns (the fitted scikit-learn model, the id of the run that logged it).
    """
    local, run_id = _download(reference)
    folder = _forecaster_folder(local)
    if folder is not None:
        return _trusted(load_estimator, folder / ESTIMATOR_FILE, reference), run_id
    flavor = Model.load(local).flavors.get("sklearn", {})
    if flavor.get("serialization_format") != "skops":
        raise LookupError(
            f"model {reference!r} is not skops-serialised "
            f"({flavor.get('serialization_format')}): refused, it could run arbitrary code"
        )
    return _trusted(load_estimator, local / flavor["pickled_model"], reference), run_id


def load_forecaster(reference: str) -> tuple[Forecaster, str]:
    """The forecaster of a logged panel model (see `load_model` for references and trust)
    and the id of its run. Raises LookupError for a model logged before panel models."""
    local, run_id = _download(reference)
    folder = _forecaster_folder(local)
    if folder is None:
        raise LookupError(
            f"model {reference!r} predates rootcast's panel models (it takes features, not "
            "panel rows): retrain to register one that does"
        )
    return _trusted(load_forecaster_files, folder, reference), run_id


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
