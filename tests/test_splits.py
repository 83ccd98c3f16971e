"""Rolling-origin splits (features/splits.py): expanding windows by period, never random."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.splits import rolling_origin_splits

N_DISTRICTS, N_PERIODS = 4, 12


def frame(horizon: int) -> tuple[pd.Series, pd.Series]:
    """Period index of 4 districts × 12 periods (shuffled rows); the last `horizon` unlabelled."""
    rng = np.random.default_rng(0)
    period = np.tile(np.arange(N_PERIODS), N_DISTRICTS)
    rng.shuffle(period)
    period_index = pd.Series(period, index=np.arange(100, 100 + len(period)))
    labelled = period_index < N_PERIODS - horizon
    return period_index, labelled


def folds(horizon: int, n_folds: int = 3, min_train_periods: int = 3):
    period_index, labelled = frame(horizon)
    split = rolling_origin_splits(period_index, labelled, n_folds, horizon, min_train_periods)
    return period_index.to_numpy(), labelled.to_numpy(), list(split)


@pytest.mark.parametrize("horizon", [1, 2])
def test_test_folds_are_the_last_labelled_periods_in_order(horizon):
    _, _, split = folds(horizon)
    last_labelled = N_PERIODS - horizon - 1
    assert [f.test_period for f in split] == list(range(last_labelled - 2, last_labelled + 1))


@pytest.mark.parametrize("horizon", [1, 2])
def test_fold_numbers_count_from_one(horizon):
    _, _, split = folds(horizon)
    assert [f.number for f in split] == [1, 2, 3]


@pytest.mark.parametrize("horizon", [1, 2])
def test_training_rows_end_horizon_periods_before_the_test_period(horizon):
    period, _, split = folds(horizon)
    for fold in split:
        assert period[fold.train_index].max() == fold.test_period - horizon


@pytest.mark.parametrize("horizon", [1, 2])
def test_training_uses_every_labelled_row_up_to_test_period_minus_horizon(horizon):
    period, labelled, split = folds(horizon)
    for fold in split:
        expected = np.flatnonzero(labelled & (period <= fold.test_period - horizon))
        np.testing.assert_array_equal(fold.train_index, expected)


@pytest.mark.parametrize("horizon", [1, 2])
def test_test_rows_are_all_rows_of_the_test_period(horizon):
    period, _, split = folds(horizon)
    for fold in split:
        np.testing.assert_array_equal(fold.test_index, np.flatnonzero(period == fold.test_period))
        assert len(fold.test_index) == N_DISTRICTS


@pytest.mark.parametrize("horizon", [1, 2])
def test_training_windows_expand_fold_by_fold(horizon):
    _, _, split = folds(horizon)
    for earlier, later in zip(split, split[1:], strict=False):
        assert set(earlier.train_index) < set(later.train_index)


def test_unlabelled_rows_are_never_trained_or_tested_on():
    _, labelled, split = folds(horizon=2)
    for fold in split:
        assert labelled[fold.train_index].all() and labelled[fold.test_index].all()


@pytest.mark.parametrize("horizon", [1, 2])
def test_fewest_periods_that_suffice_give_min_train_periods_in_the_first_fold(horizon):
    # 12 periods, 12 - horizon labelled: n_folds + min_train + horizon - 1 == labelled periods
    n_folds = 3
    min_train = N_PERIODS - horizon - n_folds - horizon + 1
    period, _, split = folds(horizon, n_folds, min_train)
    assert len(np.unique(period[split[0].train_index])) == min_train


@pytest.mark.parametrize("horizon", [1, 2])
def test_refuses_too_few_labelled_periods(horizon):
    n_folds = 3
    too_many = N_PERIODS - horizon - n_folds - horizon + 2
    with pytest.raises(ValueError, match="too few"):
        folds(horizon, n_folds, too_many)


def test_refuses_zero_folds():
    with pytest.raises(ValueError, match="n_folds"):
        folds(horizon=1, n_folds=0)
