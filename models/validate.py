"""Rolling-origin cross-validation: out-of-sample forecasts of every model on held-out periods."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sklearn.base import BaseEstimator, clone

from features.build import PERIOD_INDEX, TARGET
from features.splits import Fold
from models.pipeline import StackMember, fit_model

ID_COLUMNS = ["district_id", "period", PERIOD_INDEX]


def cross_validated_predictions(
    frame: pd.DataFrame,
    models: dict[str, BaseEstimator],
    feature_columns: list[str],
    folds: list[Fold],
    on_fold: Callable[[Fold], None] | None = None,
) -> pd.DataFrame:
    """For each fold, fit a fresh clone of every model on the training rows and forecast the
    test rows (a `StackMember` is read from its fitted stack). Returns one row per test row:
    district_id, period, period_index, fold, target and one probability column per model
    name, in the order of `models`."""
    X = frame[feature_columns]
    y = frame[TARGET]
    periods = frame[PERIOD_INDEX].to_numpy()
    parts = []
    for fold in folds:
        if on_fold is not None:
            on_fold(fold)
        train, test = fold.train_index, fold.test_index
        out = frame.iloc[test][ID_COLUMNS].copy()
        out["fold"] = fold.number
        out[TARGET] = y.iloc[test].to_numpy()
        fitted = {
            name: fit_model(clone(model), X.iloc[train], y.iloc[train].to_numpy(), periods[train])
            for name, model in models.items()
            if not isinstance(model, StackMember)
        }
        for name, model in models.items():
            if isinstance(model, StackMember):
                out[name] = fitted[model.stack].member_proba(model.member, X.iloc[test])
            else:
                out[name] = fitted[name].predict_proba(X.iloc[test])[:, 1]
        parts.append(out)
    return pd.concat(parts, ignore_index=True)
