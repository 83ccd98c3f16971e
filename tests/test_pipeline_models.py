"""Baselines, period calibration and the xgboost pipeline (models/pipeline.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from models.pipeline import (
    HistoricalRateClassifier,
    PeriodCalibratedClassifier,
    PersistenceClassifier,
    XGBoostSettings,
    xgboost_pipeline,
)
from models.probability import PROB_FLOOR

N_PERIODS, PER_PERIOD = 8, 60
COLUMNS = ["x1", "x2"]


@pytest.fixture
def periodic() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Seeded synthetic rows: two informative features, a label, and the period of each row."""
    rng = np.random.default_rng(42)
    n = N_PERIODS * PER_PERIOD
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    logit = -0.5 + 1.5 * X["x1"] - 1.0 * X["x2"]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    periods = np.repeat(np.arange(N_PERIODS), PER_PERIOD)
    return X, y, periods


def manual_out_of_fold(X, y, periods, n_calibration_periods: int, horizon: int):
    """Out-of-fold scores: for each of the last periods c, a model fitted on <= c - horizon."""
    scores, labels = [], []
    for c in np.unique(periods)[-n_calibration_periods:]:
        train, test = periods <= c - horizon, periods == c
        model = LogisticRegression().fit(X[train], y[train])
        scores.append(model.predict_proba(X[test])[:, 1])
        labels.append(y[test])
    return np.concatenate(scores), np.concatenate(labels)


# --- baselines --------------------------------------------------------------------------------


def test_historical_rate_forecasts_the_hist_rate_column():
    X = pd.DataFrame({"hist_rate": [0.1, 0.5, 0.9], "other": [5.0, 6.0, 7.0]})
    proba = HistoricalRateClassifier().fit(X, np.array([0, 1, 1])).predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], [0.1, 0.5, 0.9])


def test_historical_rate_clips_certain_rates():
    X = pd.DataFrame({"hist_rate": [0.0, 1.0]})
    proba = HistoricalRateClassifier().fit(X, np.array([0, 1])).predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], [PROB_FLOOR, 1 - PROB_FLOOR])


def test_historical_rate_probabilities_sum_to_one():
    X = pd.DataFrame({"hist_rate": [0.1, 0.7]})
    proba = HistoricalRateClassifier().fit(X, np.array([0, 1])).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_persistence_learns_rates_for_active_and_quiet_districts():
    X = pd.DataFrame({"hist_any": [1, 1, 1, 1, 0, 0, 0, 0]})
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    model = PersistenceClassifier().fit(X, y)
    # prior 1/2 as one pseudo-observation: active (3 + ½)/(4 + 1), quiet (1 + ½)/(4 + 1)
    assert (model.rate_if_active_, model.rate_if_quiet_) == pytest.approx((0.7, 0.3))


def test_persistence_forecasts_by_current_state():
    X = pd.DataFrame({"hist_any": [1, 1, 1, 1, 0, 0, 0, 0]})
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    model = PersistenceClassifier().fit(X, y)
    proba = model.predict_proba(pd.DataFrame({"hist_any": [0.0, 1.0]}))
    np.testing.assert_allclose(proba[:, 1], [0.3, 0.7])


def test_persistence_gives_an_unseen_state_the_overall_rate():
    X = pd.DataFrame({"hist_any": [0, 0, 0, 0]})
    model = PersistenceClassifier().fit(X, np.array([1, 0, 0, 0]))
    assert model.rate_if_active_ == pytest.approx(0.25)


# --- period calibration -----------------------------------------------------------------------


@pytest.mark.parametrize("horizon", [1, 2])
def test_isotonic_calibrator_is_fitted_on_out_of_fold_predictions_only(periodic, horizon):
    X, y, periods = periodic
    model = PeriodCalibratedClassifier(LogisticRegression(), "isotonic", 2, horizon)
    model.fit(X, y, periods=periods)
    scores, labels = manual_out_of_fold(X, y, periods, 2, horizon)
    expected = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)
    grid = np.linspace(0, 1, 101)
    np.testing.assert_allclose(model.calibrator_.predict(grid), expected.predict(grid))


def test_sigmoid_calibrator_is_platt_scaling_of_out_of_fold_logits(periodic):
    X, y, periods = periodic
    model = PeriodCalibratedClassifier(LogisticRegression(), "sigmoid", 3, 1)
    model.fit(X, y, periods=periods)
    scores, labels = manual_out_of_fold(X, y, periods, 3, 1)
    expected = LogisticRegression().fit(np.log(scores / (1 - scores))[:, None], labels)
    np.testing.assert_allclose(model.calibrator_.coef_, expected.coef_, rtol=1e-6)


def test_calibrated_probabilities_lie_strictly_between_zero_and_one(periodic):
    X, y, periods = periodic
    model = PeriodCalibratedClassifier(LogisticRegression()).fit(X, y, periods=periods)
    p = model.predict_proba(X)[:, 1]
    assert ((p > 0) & (p < 1)).all()


def test_calibrated_prediction_is_the_calibrator_applied_to_the_refitted_estimator(periodic):
    X, y, periods = periodic
    model = PeriodCalibratedClassifier(LogisticRegression()).fit(X, y, periods=periods)
    raw = LogisticRegression().fit(X, y).predict_proba(X)[:, 1]
    expected = np.clip(model.calibrator_.predict(raw), PROB_FLOOR, 1 - PROB_FLOOR)
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], expected)


def test_method_none_returns_the_raw_estimators_probabilities(periodic):
    X, y, periods = periodic
    model = PeriodCalibratedClassifier(LogisticRegression(), method="none").fit(X, y)
    raw = LogisticRegression().fit(X, y).predict_proba(X)[:, 1]
    assert model.calibrator_ is None
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], raw)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_without_periods_is_refused(periodic, method):
    X, y, _ = periodic
    with pytest.raises(ValueError, match="periods"):
        PeriodCalibratedClassifier(LogisticRegression(), method=method).fit(X, y)


def test_unknown_calibration_method_is_refused(periodic):
    X, y, periods = periodic
    with pytest.raises(ValueError, match="platt"):
        PeriodCalibratedClassifier(LogisticRegression(), method="platt").fit(X, y, periods)


def test_one_class_out_of_fold_labels_leave_the_model_uncalibrated(periodic):
    X, y, periods = periodic
    y = np.where(periods >= N_PERIODS - 2, 0, y)  # no incident in the calibration periods
    model = PeriodCalibratedClassifier(LogisticRegression()).fit(X, y, periods=periods)
    assert model.calibrator_ is None


def test_calibrated_classifier_clones_with_its_parameters():
    model = PeriodCalibratedClassifier(LogisticRegression(C=0.3), "sigmoid", 4, 2)
    params = clone(model).get_params()
    assert (params["method"], params["n_calibration_periods"], params["horizon"]) == (
        "sigmoid",
        4,
        2,
    )


# --- xgboost pipeline -------------------------------------------------------------------------


def small_xgboost(seed: int = 0):
    return xgboost_pipeline(COLUMNS, XGBoostSettings(n_estimators=20, n_jobs=1), seed=seed)


def test_xgboost_pipeline_feeds_exactly_the_given_columns(periodic):
    X, y, _ = periodic
    extra = X.assign(junk=np.arange(len(X), dtype=float), hist_rate=0.5)
    model = small_xgboost().fit(extra[["junk", "x2", "hist_rate", "x1"]], y)
    assert model.named_steps["xgb"].get_booster().feature_names == COLUMNS


def test_xgboost_pipeline_ignores_extra_columns(periodic):
    X, y, _ = periodic
    plain = small_xgboost().fit(X, y).predict_proba(X)
    noisy_X = X.assign(junk=np.random.default_rng(1).normal(size=len(X)))
    noisy = small_xgboost().fit(noisy_X, y).predict_proba(noisy_X)
    np.testing.assert_array_equal(plain, noisy)


def test_xgboost_pipeline_is_deterministic_for_a_seed(periodic):
    X, y, _ = periodic
    first = small_xgboost(seed=3).fit(X, y).predict_proba(X)
    second = small_xgboost(seed=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)


def test_xgboost_pipeline_takes_settings():
    settings = XGBoostSettings(n_estimators=7, max_depth=2)
    booster = xgboost_pipeline(COLUMNS, settings, seed=0).named_steps["xgb"]
    params = booster.get_params()
    assert (params["n_estimators"], params["max_depth"], params["learning_rate"]) == (7, 2, 0.03)
