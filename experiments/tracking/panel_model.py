"""The registered model's code (MLflow "models from code"): logged as a file with the model,
never imported by the project. MLflow runs it when the model loads, with the model's `code/`
folder (the project modules `models.serving` needs) on the path; `load_context` reads the
forecaster's files (skops, JSON, npz: no pickle) from the model's artifacts.

Input: panel rows (district_id, period, incidents, the covariates; labels optional).
Output: district_id, period, forecast_period, probability, probability_low, probability_high
for the latest period of every district sent (models/serving.py).
"""

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

from features.errors import RootcastError
from models.serving import ARTIFACT, load_forecaster


class PanelForecaster(PythonModel):
    """Panel rows in, the forecast of every district's latest period out."""

    def load_context(self, context) -> None:
        self.forecaster = load_forecaster(Path(context.artifacts[ARTIFACT]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            return self.forecaster.forecast(model_input)
        except RootcastError as exc:  # a caller's mistake: a 400 with the message when served
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None


mlflow.models.set_model(PanelForecaster())
