"""The model registry's rules, in one place and without MLflow: model references, alias and
tag names, the champion rule (who becomes and who stays champion).

`experiments/tracking/` (the one MLflow package) carries these out; everything else names
models, aliases and tags through the constants and `ModelRef` here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from features.errors import RootcastError

CHAMPION = "champion"
PREVIOUS = "previous"

# tags on runs
FINGERPRINT_TAG = "data.fingerprint"
SYNTHETIC_TAG = "data.synthetic"
HORIZON_TAG = "horizon"
RUN_KIND_TAG = "rootcast.run_kind"  # SEARCH_KIND (a search's parent) or TRIAL_KIND
SEARCH_KIND, TRIAL_KIND = "search", "search_trial"
RUN_NAME_TAG = "mlflow.runName"  # MLflow's own tag: the run's name
NOTE_TAG = "mlflow.note.content"  # MLflow's own tag: the run's description (markdown, in the UI)
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own tag: the UI nests a run under its parent
MODEL_KIND_TAG = "rootcast.registered_model"  # the zoo model a run registered (stack or baseline)
FALLBACK_TAG = "rootcast.fallback"  # "true" when the stack lost to a baseline (models/selection.py)
COMPLETE_TAG = "rootcast.complete"  # "true" once the run is logged and its model registered
HOST_TAG = "rootcast.host"  # machine and process of a run: a dead process's RUNNING run is
PID_TAG = "rootcast.pid"  # ended KILLED by the next run on that machine
# tags on model versions (with FINGERPRINT_TAG, MODEL_KIND_TAG, FALLBACK_TAG): what it is
SOURCE_TAG = "data.source"  # the panel it was trained on (a file, or synthetic:...)
POOLED_AUPR_TAG = "pooled.aupr"  # its pooled held-out AUPR and Brier score
POOLED_BRIER_TAG = "pooled.brier"
# tags on runs and model versions: the promotion record
DECISION_TAG = "promotion.decision"
REASON_TAG = "promotion.reason"
METRIC_TAG = "promotion.metric"
CHAMPION_SCORE_TAG = "promotion.champion_score"
CHALLENGER_SCORE_TAG = "promotion.challenger_score"

PromotionMetric = Literal["roc_auc", "aupr", "brier", "log_loss", "ece"]
PROMOTION_METRICS: tuple[str, ...] = get_args(PromotionMetric)
DEFAULT_PROMOTION_METRIC = "aupr"
LOWER_IS_BETTER = frozenset({"brier", "log_loss", "ece"})


class ModelRefError(RootcastError):
    """A model reference that is neither NAME@ALIAS, NAME/VERSION nor a run id."""


def registered_name(horizon: int, configured: str = "") -> str:
    """The registered model of a config: its own name, else `rootcast-h<horizon>`."""
    return configured or f"rootcast-h{horizon}"


DEFAULT_MODEL_NAME = registered_name(1)
DEFAULT_MODEL = f"{DEFAULT_MODEL_NAME}@{CHAMPION}"


@dataclass(frozen=True)
class ModelRef:
    """A logged model: `name@alias`, `name/version` (a `models:/` prefix allowed) or a run id."""

    name: str | None = None
    alias: str | None = None
    version: str | None = None
    run_id: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        reference = text.strip().removeprefix("models:/")
        if not reference:
            raise ModelRefError("empty model reference: use NAME@ALIAS, NAME/VERSION or a run id")
        for sep, key in (("@", "alias"), ("/", "version")):
            if sep in reference:
                name, value = reference.split(sep, 1)
                if not name or not value:
                    raise ModelRefError(
                        f"model reference {text!r}: expected NAME{sep}{key.upper()}"
                    )
                return cls(name=name, **{key: value})
        return cls(run_id=reference)

    @property
    def uri(self) -> str:
        """The MLflow model URI."""
        if self.alias:
            return f"models:/{self.name}@{self.alias}"
        if self.version:
            return f"models:/{self.name}/{self.version}"
        return f"runs:/{self.run_id}/model"

    def registered_name_or(self, default: str) -> str:
        """The registered model named by the reference, else `default` (a run id names none)."""
        return self.name or default

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        if self.version:
            return f"{self.name}/{self.version}"
        return str(self.run_id)


def becomes_champion_on_registration(current_champion: str | None) -> bool:
    """The first version of a registered model becomes champion; later versions are only
    promoted by `retrain` (`decide_promotion`) or `rollback`."""
    return current_champion is None


def metric_gain(metric: str, champion: float, challenger: float) -> float:
    """How much better the challenger is on `metric` (positive: better)."""
    return champion - challenger if metric in LOWER_IS_BETTER else challenger - champion


def check_margin(margin: float) -> None:
    """Raise ValueError unless `margin` >= 0: a negative margin promotes worse models."""
    if not margin >= 0:
        raise ValueError(
            f"margin must be >= 0 (a negative one promotes worse models), not {margin}"
        )


def decide_promotion(
    metric: str,
    champion: dict[str, float],
    challenger: dict[str, float],
    margin: float,
    guard_metrics: tuple[str, ...] | list[str] = (),
    force: bool = False,
) -> tuple[bool, str]:
    """Promote when the challenger beats the champion on `metric` by more than `margin` (>= 0)
    and is at least as good on every guard metric (or when forced). Returns (promote, reason).
    Raises ValueError for a negative margin: it would promote a worse model."""
    check_margin(margin)
    gain = metric_gain(metric, champion[metric], challenger[metric])
    if force:
        return True, f"forced (gain in {metric}: {gain:+.4f})"
    if not (math.isfinite(gain) and gain > margin):
        return False, f"challenger not better on {metric} by more than {margin} (gain {gain:+.4f})"
    worse = [
        f"{m} {metric_gain(m, champion[m], challenger[m]):+.4f}"
        for m in guard_metrics
        if not metric_gain(m, champion[m], challenger[m]) >= 0
    ]
    if worse:
        return (
            False,
            f"challenger better on {metric} by {gain:+.4f} but worse on {', '.join(worse)}",
        )
    guarded = f"; not worse on {', '.join(guard_metrics)}" if guard_metrics else ""
    return True, f"challenger better on {metric} by {gain:+.4f} (> margin {margin}){guarded}"
