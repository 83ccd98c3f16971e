"""The one place that talks to MLflow (this package): the store, runs, registered models, and
run search. The registry's rules and names are in `experiments/registry.py`; callers use
`from experiments import tracking` and the names re-exported here."""

from experiments.tracking.models import (
    alias_version,
    load_model,
    log_model,
    promote,
    register_model,
    run_id_of,
    set_alias,
    swap_champion_and_previous,
    tag_version,
    version_run_id,
)
from experiments.tracking.runs import (
    download_run_results,
    load_run_config,
    log_artifact_files,
    log_config,
    log_dataset,
    log_metric_table,
    log_scalars,
    log_to_run,
    run_tag,
    tag_run,
    tracked_run,
)
from experiments.tracking.search import (
    attach_to_parent,
    log_run_params,
    nested_run,
    run_model_versions,
    search_runs_frame,
)
from experiments.tracking.store import (
    PROJECT_DIR,
    TrackingError,
    check_experiment,
    end_stale_runs,
    store_lock,
    tracking_uri,
)

__all__ = [
    "PROJECT_DIR",
    "TrackingError",
    "alias_version",
    "attach_to_parent",
    "check_experiment",
    "download_run_results",
    "end_stale_runs",
    "load_model",
    "load_run_config",
    "log_artifact_files",
    "log_config",
    "log_dataset",
    "log_metric_table",
    "log_model",
    "log_run_params",
    "log_scalars",
    "log_to_run",
    "nested_run",
    "promote",
    "register_model",
    "run_id_of",
    "run_model_versions",
    "run_tag",
    "search_runs_frame",
    "set_alias",
    "store_lock",
    "swap_champion_and_previous",
    "tag_run",
    "tag_version",
    "tracked_run",
    "tracking_uri",
    "version_run_id",
]
