"""Forecast metrics (models/evaluate.py) on hand-made examples with known values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluate import (
    METRICS,
    expected_calibration_error,
    forecast_scores,
    score_predictions,
    top_k_precision_recall,
)

# --- expected calibration error ---------------------------------------------------------------


def test_ece_of_a_hand_made_example():
    y = [0, 1, 0, 1, 1]
    p = [0.25, 0.25, 0.85, 0.85, 0.85]
    # bin 2 (0.2-0.3): 2 rows, observed 1/2, forecast 0.25 -> 2 · 0.25   = 0.50
    # bin 8 (0.8-0.9): 3 rows, observed 2/3, forecast 0.85 -> 3 · 0.1833 = 0.55
    # ECE = (0.50 + 0.55) / 5 = 0.21
    assert expected_calibration_error(y, p) == pytest.approx(0.21)


def test_ece_of_perfectly_calibrated_forecasts_is_zero():
    y = [0, 0, 0, 0, 1, 0, 1, 1, 1, 1]
    p = [0.2] * 5 + [0.8] * 5  # observed rates 1/5 and 4/5
    assert expected_calibration_error(y, p) == pytest.approx(0.0)


def test_ece_puts_probability_one_in_the_top_bin():
    # p = 1.0 would index bin 10 without the clamp; with it, bin 9 holds 0.95 and 1.0
    # observed 1/2, forecast 0.975 -> ECE = 0.475
    assert expected_calibration_error([0, 1], [0.95, 1.0]) == pytest.approx(0.475)


# --- top-k ------------------------------------------------------------------------------------


def test_top_k_precision_and_recall_average_over_periods():
    y = [1, 0, 1, 0, 0, 1, 0, 0]
    p = [0.9, 0.8, 0.1, 0.2, 0.3, 0.6, 0.5, 0.1]
    groups = [1, 1, 1, 1, 2, 2, 2, 2]
    # period 1 flags 0.9, 0.8 -> 1 hit of 2 flagged, 1 of 2 incidents: P 1/2, R 1/2
    # period 2 flags 0.6, 0.5 -> 1 hit of 2 flagged, 1 of 1 incident:  P 1/2, R 1
    precision, recall = top_k_precision_recall(y, p, groups, k=2)
    assert (precision, recall) == pytest.approx((0.5, 0.75))


def test_top_k_recall_skips_periods_without_incidents():
    y = [1, 0, 1, 0, 0, 1, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.1, 0.2, 0.3, 0.6, 0.5, 0.1, 0.7, 0.2]
    groups = [1, 1, 1, 1, 2, 2, 2, 2, 3, 3]
    # period 3 has no incident: precision 0 counts, recall is left out
    precision, recall = top_k_precision_recall(y, p, groups, k=2)
    assert (precision, recall) == pytest.approx(((0.5 + 0.5 + 0.0) / 3, 0.75))


def test_top_k_larger_than_a_period_flags_the_whole_period():
    precision, recall = top_k_precision_recall([1, 0, 0], [0.1, 0.2, 0.3], [1, 1, 1], k=10)
    assert (precision, recall) == pytest.approx((1 / 3, 1.0))


# --- forecast_scores --------------------------------------------------------------------------

Y = np.array([0, 0, 1, 1])
P = np.array([0.1, 0.2, 0.8, 0.9])
GROUPS = np.array([1, 1, 2, 2])
BRIER = (0.01 + 0.04 + 0.04 + 0.01) / 4  # 0.025


def test_scores_have_every_metric():
    assert list(forecast_scores(Y, P, GROUPS, 1, 0.25)) == METRICS


def test_roc_auc_is_one_for_perfectly_separated_forecasts():
    assert forecast_scores(Y, P, GROUPS, 1, 0.25)["roc_auc"] == pytest.approx(1.0)


def test_brier_of_a_hand_made_example():
    assert forecast_scores(Y, P, GROUPS, 1, 0.25)["brier"] == pytest.approx(BRIER)


def test_brier_skill_is_zero_when_forecast_equals_reference():
    assert forecast_scores(Y, P, GROUPS, 1, BRIER)["brier_skill"] == pytest.approx(0.0)


def test_brier_skill_halves_error_against_twice_the_reference():
    assert forecast_scores(Y, P, GROUPS, 1, 2 * BRIER)["brier_skill"] == pytest.approx(0.5)


def test_log_loss_of_a_hand_made_example():
    expected = -np.mean(np.log([0.9, 0.8, 0.8, 0.9]))
    assert forecast_scores(Y, P, GROUPS, 1, 0.25)["log_loss"] == pytest.approx(expected)


def test_log_loss_stays_finite_for_certain_wrong_forecasts():
    scores = forecast_scores(Y, np.array([1.0, 0.0, 0.0, 1.0]), GROUPS, 1, 0.25)
    assert np.isfinite(scores["log_loss"])


def test_discrimination_is_nan_when_only_one_class_is_present():
    scores = forecast_scores(np.zeros(4), P, GROUPS, 1, 0.25)
    assert np.isnan(scores["roc_auc"]) and np.isnan(scores["aupr"])


# --- score_predictions ------------------------------------------------------------------------


@pytest.fixture
def predictions() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 60
    target = rng.integers(0, 2, n).astype(float)
    target[:2] = [0.0, 1.0]
    return pd.DataFrame(
        {
            "target": target,
            "period_index": np.repeat([5, 6, 7], n // 3),
            "fold": np.repeat([1, 2, 3], n // 3),
            "historical_rate": rng.uniform(0.2, 0.8, n),
            "xgboost": np.clip(0.7 * target + rng.uniform(0, 0.3, n), 0.01, 0.99),
        }
    )


def test_score_predictions_has_a_row_per_model_and_fold_plus_pooled(predictions):
    table = score_predictions(predictions, ["historical_rate", "xgboost"], k=5)
    rows = set(zip(table["model"], table["fold"], strict=True))
    folds = ["1", "2", "3", "pooled"]
    assert rows == {(m, f) for m in ["historical_rate", "xgboost"] for f in folds}
    assert len(table) == 8


def test_score_predictions_has_a_column_per_metric(predictions):
    table = score_predictions(predictions, ["xgboost"], k=5)
    assert list(table.columns) == ["model", "fold", *METRICS]


def test_reference_model_has_zero_brier_skill_in_every_fold(predictions):
    table = score_predictions(predictions, ["historical_rate"], k=5)
    np.testing.assert_allclose(table["brier_skill"], 0.0, atol=1e-12)


def test_pooled_row_scores_all_predictions(predictions):
    table = score_predictions(predictions, ["xgboost"], k=5).set_index("fold")
    expected = np.mean((predictions["xgboost"] - predictions["target"]) ** 2)
    assert table.loc["pooled", "brier"] == pytest.approx(expected)


def test_score_predictions_needs_the_reference_model(predictions):
    with pytest.raises(ValueError, match="historical_rate"):
        score_predictions(predictions.drop(columns="historical_rate"), ["xgboost"], k=5)


def test_top_k_gives_tied_forecasts_their_expected_share_whatever_the_row_order() -> None:
    y = np.array([1, 0, 0, 0])
    p = np.array([0.5, 0.5, 0.5, 0.1])
    groups = np.zeros(4)
    forward = top_k_precision_recall(y, p, groups, k=1)
    backward = top_k_precision_recall(y[::-1], p[::-1], groups, k=1)
    # one place for three tied rows, one of which had an incident: 1/3 expected hit
    assert forward == pytest.approx((1 / 3, 1 / 3))
    assert backward == pytest.approx(forward)
