"""Model factories: the baselines every model must beat, the xgboost pipeline, the stack.

Every model is a scikit-learn classifier taking the model frame's feature columns (a
DataFrame) and returning P(target = 1) from `predict_proba(X)[:, 1]`. Models that need
calibration are wrapped in `PeriodCalibratedClassifier`, which fits its calibrator on
out-of-fold predictions from rolling-origin splits inside the training periods.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from xgboost import XGBClassifier

from models.probability import logit, two_columns
from models.settings import ModelSettings, XGBoostSettings
from models.stack import StackedClassifier, out_of_fold_windows, reseeded


class HistoricalRateClassifier(ClassifierMixin, BaseEstimator):
    """Baseline: a district's historical incident rate (the `hist_rate` feature) as forecast."""

    def __init__(self, column: str = "hist_rate"):
        self.column = column

    def fit(self, X: pd.DataFrame, y: np.ndarray, **_: object) -> HistoricalRateClassifier:
        # the mean training log-odds: the reference its attributions are measured from
        self.center_ = float(np.mean(logit(X[self.column].to_numpy())))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "classes_")
        return two_columns(X[self.column].to_numpy())


class PersistenceClassifier(ClassifierMixin, BaseEstimator):
    """Baseline: last period's state persists; P(incident | incident now) from training rows."""

    def __init__(self, column: str = "hist_any"):
        self.column = column

    def fit(self, X: pd.DataFrame, y: np.ndarray, **_: object) -> PersistenceClassifier:
        state = X[self.column].to_numpy() > 0
        y = np.asarray(y, dtype=float)
        prior = y.mean()
        # one pseudo-observation at the overall rate keeps an unseen state finite
        self.rate_if_quiet_ = (y[~state].sum() + prior) / ((~state).sum() + 1)
        self.rate_if_active_ = (y[state].sum() + prior) / (state.sum() + 1)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "rate_if_active_")
        state = X[self.column].to_numpy() > 0
        return two_columns(np.where(state, self.rate_if_active_, self.rate_if_quiet_))


class PeriodCalibratedClassifier(ClassifierMixin, BaseEstimator):
    """Wraps a classifier; calibrates it on out-of-fold predictions of the last periods.

    `fit(X, y, periods=...)`: for each of the last `n_calibration_periods` training periods
    c, a clone is fitted on periods <= c - horizon and predicts period c; the calibrator
    (isotonic or Platt) is fitted on those out-of-fold predictions only. The final estimator
    is then refitted on all rows. `method="none"` skips calibration.
    """

    def __init__(
        self,
        estimator: BaseEstimator,
        method: str = "isotonic",
        n_calibration_periods: int = 2,
        horizon: int = 1,
    ):
        self.estimator = estimator
        self.method = method
        self.n_calibration_periods = n_calibration_periods
        self.horizon = horizon

    def _out_of_fold(self, X, y, periods) -> tuple[np.ndarray, np.ndarray]:
        scores, labels = [], []
        for train, test in out_of_fold_windows(
            periods, y, self.n_calibration_periods, self.horizon
        ):
            model = clone(self.estimator).fit(X[train], y[train])
            scores.append(model.predict_proba(X[test])[:, 1])
            labels.append(y[test])
        if not scores:
            return np.empty(0), np.empty(0)
        return np.concatenate(scores), np.concatenate(labels)

    def fit(self, X: pd.DataFrame, y: np.ndarray, periods: np.ndarray | None = None):
        if self.method not in {"isotonic", "sigmoid", "none"}:
            raise ValueError(f"calibration method must be isotonic, sigmoid or none: {self.method}")
        y = np.asarray(y).astype(int)
        self.calibrator_ = None
        if self.method != "none":
            if periods is None:
                raise ValueError("PeriodCalibratedClassifier.fit needs `periods`")
            scores, labels = self._out_of_fold(X, y, np.asarray(periods))
            if len(np.unique(labels)) == 2:
                self.calibrator_ = self._fit_calibrator(scores, labels)
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = np.array([0, 1])
        return self

    def _fit_calibrator(self, scores: np.ndarray, labels: np.ndarray):
        if self.method == "isotonic":
            return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
                scores, labels
            )
        return LogisticRegression().fit(logit(scores)[:, None], labels)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Map raw probabilities through the fitted calibrator: (n,) -> (n, 2)."""
        if self.calibrator_ is None:
            return two_columns(raw)
        if isinstance(self.calibrator_, IsotonicRegression):
            return two_columns(self.calibrator_.predict(raw))
        return two_columns(self.calibrator_.predict_proba(logit(raw)[:, None])[:, 1])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.calibrate(self.estimator_.predict_proba(X)[:, 1])


def _select(columns: list[str]) -> ColumnTransformer:
    """Keep exactly `columns`, in order, as a DataFrame (so the model sees feature names)."""
    return ColumnTransformer(
        [("keep", "passthrough", list(columns))], remainder="drop", verbose_feature_names_out=False
    ).set_output(transform="pandas")


def usable_threads(requested: int) -> int:
    """`requested`, but no more than the cores this process may run on (CPU affinity, e.g. a
    container's or `taskset`'s limit): more threads than cores only fight each other."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return max(1, min(requested, available or os.cpu_count() or 1))


def xgboost_pipeline(columns: list[str], settings: XGBoostSettings, seed: int) -> Pipeline:
    """Column selection + XGBClassifier(`hist`), the main model's uncalibrated pipeline."""
    booster = XGBClassifier(
        tree_method="hist",
        objective="binary:logistic",
        eval_metric="logloss",
        n_estimators=settings.n_estimators,
        max_depth=settings.max_depth,
        learning_rate=settings.learning_rate,
        subsample=settings.subsample,
        colsample_bytree=settings.colsample_bytree,
        min_child_weight=settings.min_child_weight,
        reg_lambda=settings.reg_lambda,
        n_jobs=usable_threads(settings.n_jobs),
        random_state=seed,
    )
    return Pipeline([("select", _select(columns)), ("xgb", booster)])


def logistic_pipeline(columns: list[str], C: float, missing: Sequence[str] = ()) -> Pipeline:
    """Baseline: standardised features + L2-regularised logistic regression.

    `missing`: columns that may be NaN (catalog `missing = "allowed"`); when there are any, an
    `impute` step before scaling fills them with the training median and adds a 0/1
    `missingindicator_<column>` for each that had NaN in training. Without them the pipeline
    is select -> scale -> logit, as before."""
    steps = [("select", _select(columns))]
    may_be_missing = [c for c in columns if c in set(missing)]
    if may_be_missing:
        steps.append(("impute", _impute(may_be_missing)))
    return Pipeline(
        [
            *steps,
            ("scale", StandardScaler()),
            ("logit", LogisticRegression(C=C, max_iter=2000)),
        ]
    )


def _impute(columns: list[str]) -> ColumnTransformer:
    """Median-impute `columns` with was-missing indicators; other columns pass through."""
    imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    return ColumnTransformer(
        [("impute", imputer, columns)], remainder="passthrough", verbose_feature_names_out=False
    ).set_output(transform="pandas")


class StackMember(BaseEstimator):
    """Not a model of its own: the forecast of member `member` of the fitted zoo model
    `stack` alone (`StackedClassifier.member_proba`), shown beside the stack at no extra fit.
    `models.validate` fills its column from the fitted stack; it cannot be fitted."""

    def __init__(self, stack: str, member: str):
        self.stack = stack
        self.member = member

    def fit(self, *args: object, **kwargs: object) -> StackMember:
        raise TypeError(f"{self.member} is read from the fitted {self.stack}, not fitted alone")


MAIN_MODEL = "stack"  # registered when it beats every baseline (models/selection.py)
COMPONENTS = ["xgboost"]  # shown beside the main model: what the stack adds to it
BASELINES = ["historical_rate", "persistence", "conflict_history", "logistic"]


def model_zoo(
    all_features: list[str],
    history_features: list[str],
    settings: ModelSettings,
    horizon: int,
    missing: Sequence[str] = (),
) -> dict[str, BaseEstimator]:
    """The baselines, the calibrated xgboost and the main model (the stack), by name.
    `missing`: features that may be NaN (xgboost takes NaN as is; the logistic imputes)."""

    def calibrated(estimator: BaseEstimator) -> PeriodCalibratedClassifier:
        return PeriodCalibratedClassifier(
            estimator, settings.calibration, settings.n_calibration_periods, horizon
        )

    xgb, seed = settings.xgboost, settings.seed
    stack = StackedClassifier(
        [
            ("xgboost", xgboost_pipeline(all_features, xgb, seed)),
            ("logistic", logistic_pipeline(all_features, settings.logistic_C, missing)),
            ("historical_rate", HistoricalRateClassifier()),
        ],
        settings.stack_periods,
        horizon,
    )
    return {
        "historical_rate": HistoricalRateClassifier(),
        "persistence": PersistenceClassifier(),
        "conflict_history": calibrated(xgboost_pipeline(history_features, xgb, seed)),
        "logistic": logistic_pipeline(all_features, settings.logistic_C, missing),
        # the stack's xgboost member alone, Platt-calibrated on its out-of-fold periods
        "xgboost": StackMember(MAIN_MODEL, "xgboost"),
        MAIN_MODEL: stack,
    }


def fit_model(model: BaseEstimator, X: pd.DataFrame, y: np.ndarray, periods: np.ndarray):
    """Fit any zoo model; models fitted on out-of-fold periods receive `periods`."""
    if isinstance(model, PeriodCalibratedClassifier | StackedClassifier):
        return model.fit(X, y, periods=periods)
    return model.fit(X, y)


def refit_like(
    model: BaseEstimator, X: pd.DataFrame, y: np.ndarray, periods: np.ndarray, seed: int
) -> BaseEstimator:
    """A copy of a fitted zoo model refitted on other rows (a bootstrap sample, a fold's
    training window) that keeps what the original learned out of fold: a stack keeps its
    weights, a calibrated model its calibrator; xgboost parts take `seed`. Baselines are
    simply refitted."""
    y = np.asarray(y).astype(int)
    if isinstance(model, StackedClassifier):
        return model.refit_members(X, y, seed)
    if isinstance(model, PeriodCalibratedClassifier):
        check_is_fitted(model, "estimator_")
        estimator = reseeded(clone(model.estimator), seed)
        copy = clone(model)
        copy.estimator_, copy.calibrator_ = estimator.fit(X, y), model.calibrator_
        copy.classes_ = model.classes_
        return copy
    return fit_model(clone(model), X, y, periods)


def input_columns(model: BaseEstimator) -> list[str]:
    """The feature columns a fitted zoo model reads, in first-seen order (a stack: the union
    of its members')."""
    if isinstance(model, StackedClassifier):
        columns = [c for member in model.members_.values() for c in input_columns(member)]
        return list(dict.fromkeys(columns))
    if isinstance(model, PeriodCalibratedClassifier):
        return input_columns(model.estimator_)
    if isinstance(model, HistoricalRateClassifier | PersistenceClassifier):
        return [model.column]
    return [str(c) for c in model.feature_names_in_]
