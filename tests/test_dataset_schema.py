"""The panel's schema logged to MLflow is inferred from a spread of rows, and equals what
MLflow infers from every row (MLflow's own inference is value by value: slow at scale)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas

from experiments.tracking.runs import SCHEMA_ROWS, dataset_schema
from features import synthetic


def test_sampled_schema_equals_the_full_inference() -> None:
    panel = synthetic.generate_region(n_districts=400, n_periods=12, seed=2).panel
    panel = panel.assign(
        census=np.where(np.arange(len(panel)) % 7 == 0, np.nan, 1.0),  # missing values
        small=lambda f: f["poverty"].astype(np.float32),
    )
    assert len(panel) > 2 * SCHEMA_ROWS  # the schema really comes from a sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = from_pandas(panel, source="x").schema
    assert dataset_schema(panel) == full
    assert dataset_schema(pd.DataFrame({"a": [1, 2]})).input_names() == ["a"]
