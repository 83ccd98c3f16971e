"""The small grid panel the scale backends' tests share (benchmarks/scale_panel.py), and the
single-machine path's held-out forecasts of the models those backends train."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.config import load_config
from experiments.data import load_inputs
from experiments.prepare import prepare
from models.pipeline import HistoricalRateClassifier, PersistenceClassifier, xgboost_pipeline
from models.validate import cross_validated_predictions

CELLS, MONTHS, FEATURES = 100, 36, 24


def single_machine_predictions(grid: Path) -> tuple[pd.DataFrame, list[str]]:
    """The pandas path's held-out forecasts of the dask and lean backends' three models."""
    config = load_config(grid / "scale.toml")
    data = prepare(config, load_inputs(config))
    xgb = config.model.xgboost
    zoo = {
        "historical_rate": HistoricalRateClassifier(),
        "persistence": PersistenceClassifier(),
        "xgboost": xgboost_pipeline(data.features, xgb, config.model.seed),
    }
    predictions = cross_validated_predictions(data.frame, zoo, data.features, data.folds)
    return predictions, list(zoo)
