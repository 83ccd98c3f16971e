"""Types a registered model may hold beyond scikit-learn's and numpy's own (which skops trusts).

Every loader of a logged model pins this list, never the one stored inside an artifact: the
project's (`experiments/tracking`) and the registered model's own (`models/serving.py`, logged
with the model as code). A new class in a pipeline must be added here on purpose.
"""

TRUSTED_MODEL_TYPES = (
    "models.pipeline.HistoricalRateClassifier",
    "models.pipeline.PeriodCalibratedClassifier",
    "models.pipeline.PersistenceClassifier",
    "models.stack.StackedClassifier",
    "numpy.dtype",  # held by SimpleImputer (the logistic model's imputation of allowed NaN)
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
)
