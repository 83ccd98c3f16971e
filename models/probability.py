"""Probabilities and log-odds: the clipping every model's output goes through."""

from __future__ import annotations

import numpy as np

PROB_FLOOR = 1e-4  # keeps log loss finite when a calibrator outputs 0 or 1


def two_columns(p: np.ndarray) -> np.ndarray:
    """P(class 1) as scikit-learn's (n, 2) `predict_proba` layout, clipped to the floor."""
    p = np.clip(np.asarray(p, dtype=float), PROB_FLOOR, 1 - PROB_FLOOR)
    return np.column_stack([1 - p, p])


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) of p clipped to [PROB_FLOOR, 1 - PROB_FLOOR] (always finite)."""
    p = np.clip(np.asarray(p, dtype=float), PROB_FLOOR, 1 - PROB_FLOOR)
    return np.log(p / (1 - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The inverse of `logit`, overflow-free."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def with_members(models: list) -> list:
    """The models and, after each stack, the member models it gives weight to (`members_`
    whose `weights_` is not 0: of the default stack's xgboost, logistic regression and
    historical rate, usually the first two), in that order: the multi-model pool whose range is
    a forecast's interval. A member the stack ignores says nothing about its forecast."""
    pool = []
    for model in models:
        pool.append(model)
        members = getattr(model, "members_", {})
        weights = getattr(model, "weights_", np.ones(len(members)))
        pool.extend(m for m, w in zip(members.values(), weights, strict=True) if w != 0)
    return pool


def interval_pool(models: list) -> list:
    """What an interval of `models[0]` given its refits `models[1:]` is the range of:
    `with_members(models)`, or the one model when there are no refits (then there is no
    interval, and its members need not be scored)."""
    return with_members(models) if len(models) > 1 else list(models)


def pool_range(values: np.ndarray, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column of a (pool, n_rows) array: its minimum and maximum, the interval of the
    forecast of `with_members(models)`; NaN when `n_models` < 2 (without refits there is no
    interval, even for a stack: its members alone measure no sampling variance). What share
    of true values such a range holds is measured on the synthetic truth, not derived."""
    values = np.asarray(values, dtype=float)
    if n_models < 2:
        nan = np.full(values.shape[1], np.nan)
        return nan, nan
    return values.min(axis=0), values.max(axis=0)


def risk_interval(
    models: list, X, band=None, probability: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The forecast interval of `models[0]` given its refits `models[1:]`: the range of the
    probabilities of every model and of every stack's members (`with_members`), widened by
    `band` (a `models.calibration_band.CalibrationBand` of models[0]; None: not widened);
    NaN with one model. `probability`: models[0]'s, when already computed."""
    pool = interval_pool(models)
    first = pool[0].predict_proba(X)[:, 1] if probability is None else probability
    values = np.vstack([first, *(m.predict_proba(X)[:, 1] for m in pool[1:])])
    low, high = pool_range(values, len(models))
    return (low, high) if band is None else band.widen(low, high, values[0])
