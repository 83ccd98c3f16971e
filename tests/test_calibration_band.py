"""The held-out calibration band that widens the forecast interval (models/calibration_band.py)."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration_band import CalibrationBand, calibration_band
from models.probability import logit, sigmoid


def _held_out(n: int = 20_000, shift: float = 0.0, seed: int = 3):
    """Forecasts and outcomes drawn from the true probabilities sigmoid(logit(p) + shift)."""
    rng = np.random.default_rng(seed)
    p = sigmoid(rng.normal(-1.5, 1.2, n))
    y = (rng.random(n) < sigmoid(logit(p) + shift)).astype(int)
    return p, y


def test_a_calibrated_model_gets_a_band_around_zero_that_narrows_with_evidence() -> None:
    wide, narrow = (calibration_band(*_held_out(n)) for n in (2_000, 200_000))
    for band in (wide, narrow):
        assert 5 <= len(band.counts) <= 10 and sum(band.counts) in (2_000, 200_000)
    # 90 % intervals: over many calibrated samples about 90 % of the bins hold the gap 0
    bands = [calibration_band(*_held_out(2_000, seed=seed)) for seed in range(20)]
    held = [lo < 0 < hi for b in bands for lo, hi in zip(b.low, b.high, strict=True)]
    assert 0.8 <= np.mean(held) <= 0.97
    width = lambda band: np.mean(np.subtract(band.high, band.low))  # noqa: E731
    assert width(narrow) < width(wide) / 5  # about sqrt(100) times narrower


def test_a_model_that_under_forecasts_is_widened_upward_only() -> None:
    band = calibration_band(*_held_out(200_000, shift=0.5))
    assert all(0.3 < lo and hi < 0.7 for lo, hi in zip(band.low, band.high, strict=True))
    p = np.array([0.05, 0.2, 0.6])
    low, high = band.widen(p - 0.01, p + 0.01, p)
    np.testing.assert_allclose(low, p - 0.01)  # the lower bounds stay
    assert np.all(high > sigmoid(logit(p) + 0.3))  # the upper bounds reach the observed rates


def test_widen_keeps_a_missing_interval_missing_and_bins_values_outside_the_edges() -> None:
    band = CalibrationBand(edges=(0.0, 0.5, 1.0), low=(-1.0, -2.0), high=(1.0, 2.0), counts=(5, 5))
    assert band.bins(np.array([-0.1, 0.2, 0.5, 0.9, 1.5])).tolist() == [0, 0, 1, 1, 1]
    nan = np.full(2, np.nan)
    low, high = band.widen(nan, nan, np.array([0.2, 0.7]))
    assert np.isnan(low).all() and np.isnan(high).all()
    low, high = band.widen(np.array([0.19, 0.69]), np.array([0.21, 0.71]), np.array([0.2, 0.7]))
    np.testing.assert_allclose(logit(low), logit(np.array([0.2, 0.7])) + [-1.0, -2.0])
    np.testing.assert_allclose(logit(high), logit(np.array([0.2, 0.7])) + [1.0, 2.0])


def test_band_round_trips_through_its_dict_and_refuses_no_evidence() -> None:
    band = calibration_band(*_held_out(5_000))
    assert CalibrationBand.from_dict(band.to_dict()) == band
    assert calibration_band(np.array([]), np.array([])) is None
    assert calibration_band(np.full(50, 0.3), np.zeros(50)) is None  # one distinct forecast
    with pytest.raises(ValueError):
        calibration_band(np.array([0.1, 0.2]), np.array([1.0]))


def test_bins_with_few_events_or_ties_are_merged_into_a_neighbour() -> None:
    rng = np.random.default_rng(8)
    p = np.r_[np.full(300, 0.005), rng.uniform(0.1, 0.6, 700)]  # 300 rows, ~1.5 events
    y = (rng.random(p.size) < p).astype(int)
    band = calibration_band(p, y)
    bins = band.bins(p)
    for b, n in enumerate(band.counts):
        events = y[bins == b].sum()
        assert n == (bins == b).sum() and events >= 10 and n - events >= 10
    assert band.bins(np.array([0.005]))[0] == band.bins(np.array([0.1]))[0]  # merged upward
    tied = np.r_[np.full(150, 0.1), np.full(50, 0.5), np.full(100, 0.9)]
    outcome = (rng.random(tied.size) < tied).astype(int)
    assert 0 not in calibration_band(tied, outcome).counts  # no empty bin from tied edges
    few = calibration_band(np.linspace(0.01, 0.05, 100), np.r_[np.ones(3), np.zeros(97)])
    assert few.counts == (100,)  # too few events for two bins: one
