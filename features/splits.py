"""Rolling-origin (expanding-window) splits by period: never random."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fold:
    """Rows to train on and to test on; `test_period` is the period index of the test rows."""

    number: int
    test_period: int
    train_index: np.ndarray
    test_index: np.ndarray


def rolling_origin_splits(
    period_index: pd.Series,
    labelled: pd.Series,
    n_folds: int,
    horizon: int = 1,
    min_train_periods: int = 3,
) -> Iterator[Fold]:
    """Yield expanding-window folds over the last `n_folds` labelled periods.

    The rows of period t have targets from t + horizon; for the test period T, training rows
    are the labelled rows of periods <= T - horizon, so no training target lies after the
    test rows' period. `labelled` marks rows whose target is known. Positions are integer
    positions into `period_index`.
    """
    periods = np.sort(period_index[labelled].unique())
    if n_folds < 1:
        raise ValueError("n_folds must be >= 1")
    if len(periods) < n_folds + min_train_periods + horizon - 1:
        raise ValueError(
            f"{len(periods)} labelled periods are too few for {n_folds} folds with at least "
            f"{min_train_periods} training periods and horizon {horizon}"
        )
    values = period_index.to_numpy()
    known = labelled.to_numpy()
    for number, test_period in enumerate(periods[-n_folds:], start=1):
        train = np.flatnonzero(known & (values <= test_period - horizon))
        test = np.flatnonzero(known & (values == test_period))
        yield Fold(number, int(test_period), train, test)
