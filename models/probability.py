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


def ensemble_interval(
    values: np.ndarray, interval: tuple[float, float] = (0.05, 0.95)
) -> tuple[np.ndarray, np.ndarray]:
    """Per column of an (n_models, n_rows) array, the empirical `interval` quantiles over the
    models ("inverted_cdf": values that occur); NaN for one model: one model gives no
    interval, not a zero-width one."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        nan = np.full(values.shape[1], np.nan)
        return nan, nan
    low, high = (np.quantile(values, q, axis=0, method="inverted_cdf") for q in interval)
    return low, high


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The inverse of `logit`, overflow-free."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def with_members(models: list) -> list:
    """The models and, after each stack, its member models (`members_`: the default stack's
    xgboost, logistic regression and historical rate), in that order: the multi-model pool
    whose range is a forecast's interval."""
    pool = []
    for model in models:
        pool.append(model)
        pool.extend(getattr(model, "members_", {}).values())
    return pool


def pool_range(values: np.ndarray, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column of a (pool, n_rows) array: its minimum and maximum, the interval of the
    forecast of `with_members(models)`; NaN when `n_models` < 2 (without refits there is no
    interval, even for a stack: its members alone measure no sampling variance). With k
    exchangeable forecasts a further one falls in their range with probability (k-1)/(k+1):
    92 % for the 24 of the default stack and 5 refits."""
    values = np.asarray(values, dtype=float)
    if n_models < 2:
        nan = np.full(values.shape[1], np.nan)
        return nan, nan
    return values.min(axis=0), values.max(axis=0)


def risk_interval(models: list, X) -> tuple[np.ndarray, np.ndarray]:
    """The forecast interval of `models[0]` given its refits `models[1:]`: the range of the
    probabilities of every model and of every stack's members (`with_members`); NaN with one
    model."""
    pool = with_members(models) if len(models) > 1 else models
    return pool_range(np.vstack([m.predict_proba(X)[:, 1] for m in pool]), len(models))
