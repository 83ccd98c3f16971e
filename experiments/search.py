"""Hyper-parameter search: Optuna trials on inner folds held apart from the reported folds.

`python train.py --search N`: N trials of a seeded TPE sampler (`model.seed`) over six
xgboost hyper-parameters (SEARCH_SPACE). Tuning is nested: a trial never sees the folds whose
scores the training run reports. The reported (outer) folds test the last `split.n_folds`
labelled periods; the trials use only the rows of the first outer fold's training window
(periods up to the first reported test period minus `target.horizon`), which lies inside every
outer training window. On those rows inner rolling-origin folds (at most MAX_INNER_FOLDS, each
with `split.min_train_periods` and the horizon) are built, and a trial scores the pooled
held-out AUPR of MAIN_MODEL over them. So every label a trial fits or scores is observed at or
before the first reported test period, before any reported label, and the reported skill stays
an honest out-of-sample estimate: parameters chosen on the reported folds themselves would
make it optimistically biased.

MLflow: one parent run (`rootcast.run_kind = search`) with one nested run per trial
(`search_trial`: the trial's parameters and pooled inner-fold metrics); the parent holds the
tuning and reported periods, the best parameters, `search.best_aupr` and `search_trials.csv`.
Then the normal training run is made with the best parameters, exactly as `python train.py`
would (baselines, outer folds, final fit, explanation, registration), and is attached to the
parent as a child beside the trials.

The first trial is the config's own setting when it lies inside the search space, so the best
found is never worse on the inner folds than what the config already had.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from experiments import tracking
from experiments.config import ConfigError, ExperimentConfig, SplitSection
from experiments.data import load_inputs
from experiments.prepare import PreparedData, prepare
from experiments.registry import FINGERPRINT_TAG, RUN_KIND_TAG, SEARCH_KIND, TRIAL_KIND
from experiments.run import RunResult, run_training
from features.build import PERIOD_INDEX, TARGET
from features.errors import DataContractError
from features.splits import Fold, rolling_origin_splits
from features.writers import write_csv, write_json
from models.evaluate import REFERENCE_MODEL, score_predictions
from models.pipeline import MAIN_MODEL, model_zoo
from models.validate import cross_validated_predictions

OBJECTIVE = "aupr"
MAX_INNER_FOLDS = 3
log = logging.getLogger(__name__)
Progress = Callable[[str], None]

# name: (kind, low, high, log scale) — bounds inside the config's validation limits
SEARCH_SPACE: dict[str, tuple[str, float, float, bool]] = {
    "max_depth": ("int", 2, 8, False),
    "n_estimators": ("int", 50, 800, True),
    "learning_rate": ("float", 0.01, 0.3, True),
    "min_child_weight": ("float", 0.5, 50.0, True),
    "subsample": ("float", 0.5, 1.0, False),
    "colsample_bytree": ("float", 0.4, 1.0, False),
}


@dataclass(frozen=True)
class TuningWindow:
    """What the trials see: `data` cut to the first outer training window with inner folds
    (`data.folds`), and as period labels the tuning periods, each inner fold's test period and
    the reported (outer) folds' test periods."""

    data: PreparedData
    tuning_periods: list
    inner_test_periods: list
    reported_test_periods: list

    def record(self) -> dict[str, object]:
        """The periods as search.json holds them."""
        return {
            "tuning_periods": self.tuning_periods,
            "inner_folds": [
                {"test_period": test, "train_periods": _train_periods(self.data, fold)}
                for test, fold in zip(self.inner_test_periods, self.data.folds, strict=True)
            ],
            "reported_test_periods": self.reported_test_periods,
        }

    def params(self) -> dict[str, object]:
        """The periods as parameters of the search's parent run (text)."""
        first, last = self.tuning_periods[0], self.tuning_periods[-1]
        return {
            "search.tuning_periods": f"{first}..{last} ({len(self.tuning_periods)} periods)",
            "search.inner_folds": len(self.data.folds),
            "search.inner_test_periods": ", ".join(map(str, self.inner_test_periods)),
            "search.reported_test_periods": ", ".join(map(str, self.reported_test_periods)),
        }


@dataclass(frozen=True)
class SearchResult:
    """Best xgboost parameters (config names), their pooled inner-fold AUPR, the best trial's
    number, one row per trial, the parent run's id and the periods tuned on and reported."""

    best_params: dict[str, float | int]
    best_value: float
    best_trial: int
    trials: pd.DataFrame
    parent_run_id: str
    periods: dict[str, object]


def search_data(config: ExperimentConfig) -> PreparedData:
    """Load, validate and build features as a training run does."""
    return prepare(config, load_inputs(config))


def inner_fold_count(n_periods: int, split: SplitSection, horizon: int) -> int:
    """Inner folds that `n_periods` labelled periods allow (at most MAX_INNER_FOLDS), each
    with `split.min_train_periods` training periods and the horizon's gap; < 1: none fits."""
    return min(MAX_INNER_FOLDS, n_periods - split.min_train_periods - horizon + 1)


def tuning_window(config: ExperimentConfig, data: PreparedData) -> TuningWindow:
    """`data` cut to the periods <= first reported test period - horizon (the first outer
    training window, inside every other), with inner rolling-origin folds over them.

    Every label of those rows is observed at or before the first reported test period, hence
    before any reported label. Raises ConfigError when they are too few for one inner fold and
    DataContractError when an inner training window or the inner test rows lack an outcome.
    """
    first_test = min(fold.test_period for fold in data.folds)
    frame = data.frame[data.frame[PERIOD_INDEX] <= first_test - data.horizon]
    labelled = frame[TARGET].notna()
    periods = sorted(frame.loc[labelled, PERIOD_INDEX].unique())
    n_inner = inner_fold_count(len(periods), config.split, data.horizon)
    if n_inner < 1:
        raise ConfigError(_too_few_message(config, data, periods))
    folds = list(
        rolling_origin_splits(
            frame[PERIOD_INDEX], labelled, n_inner, data.horizon, config.split.min_train_periods
        )
    )
    _check_inner_outcomes(frame, folds, data.inputs.source)
    inner = replace(data, frame=frame, folds=folds)
    return TuningWindow(
        inner,
        _period_labels(data.frame, periods),
        _period_labels(data.frame, [fold.test_period for fold in folds]),
        _period_labels(data.frame, [fold.test_period for fold in data.folds]),
    )


def _too_few_message(config: ExperimentConfig, data: PreparedData, periods: list) -> str:
    s, horizon = config.split, data.horizon
    return (
        f"--search tunes only on the periods before the reported folds (up to the first "
        f"reported test period minus the horizon): {len(periods)} labelled period(s), but one "
        f"inner fold needs split.min_train_periods + target.horizon = "
        f"{s.min_train_periods} + {horizon}; lower split.n_folds (now {s.n_folds}) or "
        f"split.min_train_periods (now {s.min_train_periods}), or use more periods"
    )


def _check_inner_outcomes(frame: pd.DataFrame, folds: list[Fold], source: str) -> None:
    """Refuse inner folds no model can be fitted on, or whose pooled test rows have one
    outcome (AUPR undefined): DataContractError naming the source."""
    target = frame[TARGET]
    windows = [(f"the training rows of inner fold {f.number}", f.train_index) for f in folds]
    tested = np.concatenate([fold.test_index for fold in folds])
    for what, rows in [*windows, ("the inner test rows", tested)]:
        if target.iloc[rows].nunique() < 2:
            raise DataContractError(
                f"{source}: {what} of the search (periods up to "
                f"{frame['period'].iloc[rows].max()}) have one outcome only; a model needs "
                f"both — lower split.n_folds so tuning gets more periods"
            )


def _period_labels(frame: pd.DataFrame, indexes: list[int]) -> list:
    """The `period` labels (year or YYYY-MM) of period indexes, as plain Python values."""
    lookup = frame.drop_duplicates(PERIOD_INDEX).set_index(PERIOD_INDEX)["period"]
    return lookup.loc[list(indexes)].tolist()


def _train_periods(data: PreparedData, fold: Fold) -> list:
    """First and last period label of a fold's training rows."""
    indexes = data.frame[PERIOD_INDEX].iloc[fold.train_index]
    return _period_labels(data.frame, [int(indexes.min()), int(indexes.max())])


def suggest_params(trial: optuna.Trial) -> dict[str, float | int]:
    """One point of SEARCH_SPACE, named as in `[model.xgboost]`."""
    params: dict[str, float | int] = {}
    for name, (kind, low, high, log_scale) in SEARCH_SPACE.items():
        if kind == "int":
            params[name] = trial.suggest_int(name, int(low), int(high), log=log_scale)
        else:
            params[name] = trial.suggest_float(name, low, high, log=log_scale)
    return params


def with_xgboost_params(config: ExperimentConfig, params: dict) -> ExperimentConfig:
    """`config` with `[model.xgboost]` values replaced by `params` (validated)."""
    data = config.model_dump()
    data["model"]["xgboost"].update(params)
    return ExperimentConfig.model_validate(data)


def _inside_space(config: ExperimentConfig) -> dict[str, float | int] | None:
    """The config's own values of the searched parameters, if all lie inside SEARCH_SPACE."""
    current = config.model.xgboost.model_dump()
    own = {name: current[name] for name in SEARCH_SPACE}
    inside = all(low <= own[n] <= high for n, (_, low, high, _) in SEARCH_SPACE.items())
    return own if inside else None


def fold_scores(config: ExperimentConfig, data: PreparedData) -> dict[str, float]:
    """Pooled held-out metrics of MAIN_MODEL over `data.folds` (the search passes the tuning
    window's inner folds)."""
    zoo = model_zoo(
        data.features, data.history, config.model, data.horizon, data.catalog.missing_allowed
    )
    models = {name: zoo[name] for name in (REFERENCE_MODEL, MAIN_MODEL)}  # reference: skill
    predictions = cross_validated_predictions(data.frame, models, data.features, data.folds)
    scores = score_predictions(predictions, [MAIN_MODEL], config.evaluation.top_k)
    pooled = scores[(scores["fold"] == "pooled") & (scores["model"] == MAIN_MODEL)]
    return {k: float(v) for k, v in pooled.drop(columns=["model", "fold"]).iloc[0].items()}


def _describe(params: dict) -> str:
    return (
        f"depth {params['max_depth']}, {params['n_estimators']} trees, "
        f"lr {params['learning_rate']:.3f}, min child weight {params['min_child_weight']:.2f}, "
        f"subsample {params['subsample']:.2f}, colsample {params['colsample_bytree']:.2f}"
    )


def _run_trial(
    study: optuna.Study, config: ExperimentConfig, data: PreparedData, tags: dict[str, str]
) -> dict:
    """Ask the study for a point, score it in a nested run, tell the study; one trial row."""
    trial = study.ask()
    params = suggest_params(trial)
    with tracking.nested_run(f"trial-{trial.number}", tags) as run_id:
        tracking.log_run_params({f"model.xgboost.{k}": v for k, v in params.items()})
        scores = fold_scores(with_xgboost_params(config, params), data)
        tracking.log_scalars({f"{MAIN_MODEL}.{k}": v for k, v in scores.items()})
    study.tell(trial, scores[OBJECTIVE])
    return {"trial": trial.number, "run_id": run_id, **params, **scores}


def run_search(
    config: ExperimentConfig, n_trials: int, output_dir: Path, progress: Progress = log.info
) -> SearchResult:
    """N trials on the inner folds of the tuning window, as nested runs under one parent run;
    writes and logs `search_trials.csv` and `search.json`. Raises ConfigError for n_trials < 1
    or too few periods for the outer or the inner folds (before logging)."""
    if n_trials < 1:
        raise ConfigError(f"--search {n_trials}: the number of trials must be >= 1")
    if config.scale.backend != "pandas":
        raise ConfigError(
            '--search runs on the single-machine path (scale.backend = "pandas"); search on a '
            "sample of the panel, then train on the dask or lean backend with the parameters found"
        )
    window = tuning_window(config, search_data(config))
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own progress line per trial
    try:
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.model.seed)
        )
        own = _inside_space(config)
        if own is not None:
            study.enqueue_trial(own)
        return _search_in_parent(study, config, window, n_trials, output_dir, progress)
    finally:
        optuna.logging.set_verbosity(previous)


def _search_in_parent(
    study: optuna.Study,
    config: ExperimentConfig,
    window: TuningWindow,
    n_trials: int,
    output_dir: Path,
    progress: Progress,
) -> SearchResult:
    """The parent run: the periods, trials as nested runs, then the best parameters, score and
    files."""
    data = window.data
    tags = {RUN_KIND_TAG: SEARCH_KIND, FINGERPRINT_TAG: data.fingerprint}
    trial_tags = {RUN_KIND_TAG: TRIAL_KIND, FINGERPRINT_TAG: data.fingerprint}
    rows = []
    with tracking.tracked_run(config.tracking.experiment, f"{config.name}-search", tags) as parent:
        tracking.log_run_params(
            {"search.n_trials": n_trials, "search.objective": f"{MAIN_MODEL}.{OBJECTIVE}"}
            | window.params()
        )
        for i in range(n_trials):
            rows.append(_run_trial(study, config, data, trial_tags))
            best = study.best_trial
            progress(
                f"trial {rows[-1]['trial']} ({i + 1}/{n_trials}): {OBJECTIVE} "
                f"{rows[-1][OBJECTIVE]:.4f} "
                f"(best {best.value:.4f}, trial {best.number}) — {_describe(rows[-1])}"
            )
        best = study.best_trial
        result = SearchResult(
            best.params, float(best.value), best.number, pd.DataFrame(rows), parent, window.record()
        )
        tracking.log_run_params({f"best.model.xgboost.{k}": v for k, v in best.params.items()})
        tracking.log_scalars({f"search.best_{OBJECTIVE}": result.best_value})
        tracking.log_artifact_files(_write_search_files(result, output_dir))
    return result


def _write_search_files(result: SearchResult, output_dir: Path) -> list[Path]:
    summary = {
        "parent_run_id": result.parent_run_id,
        "objective": (
            f"pooled {OBJECTIVE} of {MAIN_MODEL} on the inner rolling-origin folds of the "
            "tuning periods (before the reported folds)"
        ),
        **result.periods,
        "best_trial": result.best_trial,
        "best_value": result.best_value,
        "best_params": result.best_params,
        "search_space": {k: list(v) for k, v in SEARCH_SPACE.items()},
    }
    return [
        write_csv(output_dir / "search_trials.csv", result.trials),
        write_json(output_dir / "search.json", summary),
    ]


def train_with_search(
    config: ExperimentConfig, n_trials: int, output_dir: Path, progress: Progress = log.info
) -> tuple[RunResult, SearchResult]:
    """Search, then the normal training run with the best parameters, attached to the
    search's parent run (tagged `search.parent_run_id`; the parent gets
    `search.final_run_id`)."""
    found = run_search(config, n_trials, output_dir, progress)
    best = with_xgboost_params(config, found.best_params)
    progress(f"training with the best parameters of trial {found.best_trial}")
    result = run_training(best, output_dir, progress)
    run_id = result.summary.run_id
    tracking.attach_to_parent(run_id, found.parent_run_id)
    tracking.tag_run(run_id, {"search.parent_run_id": found.parent_run_id})
    tracking.tag_run(found.parent_run_id, {"search.final_run_id": run_id})
    result.files.extend([output_dir / "search_trials.csv", output_dir / "search.json"])
    return result, found


def search_summary(found: SearchResult) -> str:
    """One paragraph for the terminal: trials, best trial and its parameters, parent run."""
    return (
        f"Search: {len(found.trials)} trials (MLflow parent run {found.parent_run_id}); best "
        f"inner-fold {MAIN_MODEL} {OBJECTIVE} {found.best_value:.4f} at trial "
        f"{found.best_trial}: "
        f"{_describe(found.best_params)}"
    )
