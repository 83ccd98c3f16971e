"""xgboost on a Dask cluster: fit, forecast and TreeSHAP for panels larger than one machine's
memory (the `scale.backend = "dask"` path); `shared_matrix` and `fit_booster_here` fit the
same booster in this process (`"lean"`).

The same hyper-parameters as the single-machine xgboost (`XGBoostSettings`, `hist` trees,
log-loss objective); the training rows are a `DaskQuantileDMatrix` built on the workers from
dask DataFrames, so no process holds them all. A fitted booster becomes the same scikit-learn
pipeline the single-machine path registers (`select` -> `XGBClassifier`): it predicts pandas
frames without Dask, and `models.explain` reads it as any xgboost pipeline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.pipeline import Pipeline

from models.explain import ADDITIVITY_TOLERANCE, BASE, ExplanationError
from models.pipeline import xgboost_pipeline
from models.settings import XGBoostSettings


def booster_params(settings: XGBoostSettings, seed: int) -> dict[str, object]:
    """xgboost.train parameters equal to `models.pipeline.xgboost_pipeline`'s classifier (each
    worker uses its own threads)."""
    return {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        "max_depth": settings.max_depth,
        "learning_rate": settings.learning_rate,
        "subsample": settings.subsample,
        "colsample_bytree": settings.colsample_bytree,
        "min_child_weight": settings.min_child_weight,
        "reg_lambda": settings.reg_lambda,
        "seed": seed,
    }


def fit_booster(client, X, y, settings: XGBoostSettings, seed: int) -> xgb.Booster:
    """Train on dask DataFrame `X` and Series `y` (the labelled training rows) on `client`'s
    workers; returns the booster (a plain object on this process)."""
    import xgboost.dask as dxgb  # here: the lean backend needs no xgboost.dask or dask.dataframe

    matrix = dxgb.DaskQuantileDMatrix(client, X, y)
    with xgb.config_context(verbosity=0):  # passed to the workers: no "got rank" lines
        found = dxgb.train(
            client,
            booster_params(settings, seed),
            matrix,
            num_boost_round=settings.n_estimators,
            verbose_eval=False,
        )
    return found["booster"]


def shared_matrix(
    X: pd.DataFrame, y: pd.Series, cut_rows: np.ndarray, n_jobs: int
) -> xgb.QuantileDMatrix:
    """A `QuantileDMatrix` of every row of `X` (the lean backend's labelled rows) binned with
    histogram cuts sketched from the rows where `cut_rows` is True alone (not a weighted sketch
    of all rows with the others at weight 0: on large panels where those are many, its cuts
    drift). With `fit_booster_here` a fit on it trains the trees of a matrix of its weighted
    rows alone binned with those cuts (tested): one matrix serves every fit whose rows include
    `cut_rows`, each fit changing only the weights.

    When `cut_rows` are the first rows (a rolling-origin fold's, rows sorted by period) the
    sketch reads a slice of `X`, a view: no copy of those rows (a float64 copy of 1M cut rows
    × 57 features held ~0.45 GB more)."""
    cut_rows = np.asarray(cut_rows, dtype=bool)  # by position, as the slice reads them
    if len(cut_rows) != len(X):
        raise ValueError(f"cut_rows has {len(cut_rows)} entries for {len(X)} rows")
    n_cut = int(np.count_nonzero(cut_rows))
    if cut_rows[:n_cut].all():  # the first n_cut rows: a slice, not a copy
        rows, labels = X.iloc[:n_cut], y.iloc[:n_cut]
    else:
        rows, labels = X[cut_rows], y[cut_rows]
    cuts = xgb.QuantileDMatrix(rows, labels, nthread=n_jobs)
    return xgb.QuantileDMatrix(X, y, nthread=n_jobs, ref=cuts)


def fit_booster_here(
    matrix: xgb.QuantileDMatrix, weight: np.ndarray, settings: XGBoostSettings, seed: int
) -> xgb.Booster:
    """`fit_booster` in this process (the lean backend): the same parameters, `settings.n_jobs`
    threads, on the rows of `matrix` (`shared_matrix`) whose `weight` (0 or 1 per row) is 1
    (a row of weight 0 has zero gradient and hessian: it moves no tree).
    With `subsample` < 1 the rows drawn equal those of a matrix of the weighted rows alone when
    those rows come first (rows are sorted by period, so a rolling-origin fold's are)."""
    matrix.set_weight(weight)
    params = booster_params(settings, seed) | {"nthread": settings.n_jobs}
    return xgb.train(params, matrix, num_boost_round=settings.n_estimators)


def as_pipeline(
    booster: xgb.Booster, columns: list[str], settings: XGBoostSettings, seed: int, rows
) -> Pipeline:
    """The booster as the single-machine xgboost pipeline (column selection + XGBClassifier),
    its selection step fitted on `rows` (a few pandas rows holding `columns`): predicts
    pandas frames without Dask; saved with skops like any registered model."""
    pipeline = xgboost_pipeline(columns, settings, seed)
    select, classifier = pipeline.steps[0][1], pipeline.steps[-1][1]
    select.fit(rows[columns])
    classifier.load_model(bytearray(booster.save_raw("json")))
    if list(classifier.feature_names_in_) != list(columns):
        raise ValueError("the booster was trained on other columns than the model's features")
    return pipeline


def predict(booster: xgb.Booster, X: pd.DataFrame) -> np.ndarray:
    """P(incident) of pandas rows `X` (a fold's held-out period: small) on this process."""
    return booster.inplace_predict(X)


def tree_shap(
    client, booster: xgb.Booster, rows: pd.DataFrame, tolerance: float = ADDITIVITY_TOLERANCE
) -> pd.DataFrame:
    """TreeSHAP (`pred_contribs`) of the pandas `rows` (a forecast period: small) through
    the Dask predict, gathered: one row per row (rows' index), a column per feature and
    `base_value`, as `models.explain.tree_shap` gives. Raises ExplanationError when
    contributions + base miss the margin by more than `tolerance` (the margin is predicted
    here: a second trip through Dask cost ~1.5 s at 4,200 rows)."""
    import dask.dataframe as dd  # here: the lean backend needs no xgboost.dask or dask.dataframe
    import xgboost.dask as dxgb

    X = dd.from_pandas(rows, npartitions=1)
    contributions = dxgb.predict(client, booster, X, pred_contribs=True).compute()
    margin = booster.inplace_predict(rows, predict_type="margin")
    values = np.asarray(contributions)
    gap = np.abs(values.sum(axis=1) - np.asarray(margin))
    if gap.size and gap.max() > tolerance:
        raise ExplanationError(
            f"SHAP additivity broken: contributions miss the margin by up to {gap.max():.2e}"
        )
    index = contributions.index if isinstance(contributions, pd.DataFrame) else None
    return pd.DataFrame(values, index=index, columns=[*X.columns, BASE])
