"""Exact additive explanations (SHAP values) of every model the run may register.

`contributions` dispatches on the model: xgboost's native TreeSHAP for tree models (log-odds
of the uncalibrated booster; calibration is monotone, so the ranking of drivers is that of the
calibrated forecast), exact linear terms for the logistic model, the one feature a historical
rate or persistence baseline reads, and for the stack the weighted sum of its members'
attributions, which is exact in the stack's own (calibrated) log-odds. They show what the
model associates with risk, not proven causes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shap
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from features.catalog import FeatureCatalog
from models.pipeline import (
    HistoricalRateClassifier,
    PeriodCalibratedClassifier,
    PersistenceClassifier,
)
from models.probability import logit
from models.stack import StackedClassifier, is_xgboost_pipeline

BASE = "base_value"
ADDITIVITY_TOLERANCE = 1e-3
CAVEAT = (
    "SHAP values show what the model associates with risk, not proven causes; "
    "a driver is a place to look, not a finding."
)


class ExplanationError(RuntimeError):
    """SHAP values do not add up to the model's margin, or the model cannot be explained."""


def _xgboost_pipeline(model) -> Pipeline | None:
    """The fitted xgboost pipeline inside `model` (itself, or under calibration), else None."""
    inner = model.estimator_ if isinstance(model, PeriodCalibratedClassifier) else model
    return inner if is_xgboost_pipeline(inner) else None


def _booster_and_inputs(model, X: pd.DataFrame) -> tuple[xgb.Booster, pd.DataFrame]:
    """The fitted booster and the frame it sees, unwrapping calibration and the pipeline."""
    inner = _xgboost_pipeline(model)
    if inner is None:
        raise ExplanationError(f"TreeSHAP needs an xgboost pipeline, got {type(model).__name__}")
    transformed = inner[:-1].transform(X)
    unknown = [c for c in transformed.columns if c not in X.columns]
    if unknown:
        # The pipeline only selects columns today; a transforming step needs a mapping here.
        raise ExplanationError(f"pipeline outputs {unknown}, which are not input features")
    return inner.steps[-1][1].get_booster(), transformed


def tree_shap(model, X: pd.DataFrame, tolerance: float = ADDITIVITY_TOLERANCE) -> pd.DataFrame:
    """SHAP value of every input feature for every row of X, plus `base_value`.

    Columns are the catalog features the model uses (original names); rows keep X's index.
    Raises ExplanationError when contributions + base differ from the margin by > tolerance.
    """
    booster, inputs = _booster_and_inputs(model, X)
    matrix = xgb.DMatrix(inputs)
    contributions = booster.predict(matrix, pred_contribs=True)
    margin = booster.predict(matrix, output_margin=True)
    gap = np.abs(contributions.sum(axis=1) - margin)
    if gap.size and gap.max() > tolerance:
        raise ExplanationError(
            f"SHAP additivity broken: contributions miss the margin by up to {gap.max():.2e}"
        )
    return pd.DataFrame(contributions, index=X.index, columns=[*inputs.columns, BASE])


INDICATOR_PREFIX = "missingindicator_"  # sklearn's name of a was-missing indicator column


def linear_shap(model: Pipeline, X: pd.DataFrame, background: pd.DataFrame) -> pd.DataFrame:
    """SHAP values of the logistic baseline (select -> [impute ->] scale -> logistic) with the
    `shap` library's LinearExplainer (interventional, against `background`), in log-odds.

    Columns are the selected features (original names, in order) and `base_value`. Scaling and
    median imputation are one-to-one, so each value belongs to the column of the same name; the
    value of a was-missing indicator (`missingindicator_<column>`, added for features that may
    be missing) is added to its column's, so the total per row is unchanged.
    """
    if not isinstance(model, Pipeline) or not isinstance(model.steps[-1][1], LogisticRegression):
        raise ExplanationError(f"linear SHAP needs the logistic pipeline, got {type(model)}")
    prepare = model[:-1]
    features = list(model[0].get_feature_names_out())
    inputs = list(prepare.get_feature_names_out())
    owner = {n: n.removeprefix(INDICATOR_PREFIX) if n not in features else n for n in inputs}
    unknown = sorted(n for n, o in owner.items() if o not in features)
    if unknown:
        raise ExplanationError(f"logistic pipeline outputs {unknown}, which are not features")
    masker = shap.maskers.Independent(prepare.transform(background), max_samples=200)
    explainer = shap.LinearExplainer(model.steps[-1][1], masker)
    values = explainer(prepare.transform(X)).values
    if inputs != features:  # indicators summed into their features, features in input order
        to_feature = np.zeros((len(inputs), len(features)))
        to_feature[np.arange(len(inputs)), [features.index(owner[n]) for n in inputs]] = 1.0
        values = values @ to_feature
    frame = pd.DataFrame(values, index=X.index, columns=features)
    frame[BASE] = float(np.ravel(explainer.expected_value)[0])
    return frame


def linear_terms(model: Pipeline, X: pd.DataFrame) -> pd.DataFrame:
    """Exact attributions of the logistic pipeline: coefficient x standardised value per
    column (the scaler centres on the training rows, so the reference is their mean), the
    intercept as base. A missing-value indicator's term counts for its feature."""
    if not isinstance(model, Pipeline) or not isinstance(model.steps[-1][1], LogisticRegression):
        raise ExplanationError(f"linear terms need the logistic pipeline, got {type(model)}")
    names = [str(n).removeprefix("missingindicator_") for n in model[:-1].get_feature_names_out()]
    values = np.asarray(model[:-1].transform(X), dtype=float) * model.steps[-1][1].coef_[0]
    frame = pd.DataFrame(values, index=X.index, columns=names).T.groupby(level=0, sort=False)
    frame = frame.sum().T
    frame[BASE] = float(model.steps[-1][1].intercept_[0])
    return frame


def _single_column(X: pd.DataFrame, column: str, terms: np.ndarray, base: float) -> pd.DataFrame:
    frame = pd.DataFrame({column: terms}, index=X.index)
    frame[BASE] = base
    return frame


def _own_contributions(model, X: pd.DataFrame) -> pd.DataFrame:
    """Attributions of one non-stacked model, in its own log-odds (see the module doc)."""
    if _xgboost_pipeline(model) is not None:
        return tree_shap(model, X)
    if isinstance(model, Pipeline) and isinstance(model.steps[-1][1], LogisticRegression):
        return linear_terms(model, X)
    if isinstance(model, HistoricalRateClassifier):
        z = logit(X[model.column].to_numpy())
        return _single_column(X, model.column, z - model.center_, model.center_)
    if isinstance(model, PersistenceClassifier):
        quiet, active = logit(np.array([model.rate_if_quiet_, model.rate_if_active_]))
        state = (X[model.column].to_numpy() > 0).astype(float)
        return _single_column(X, model.column, state * (active - quiet), float(quiet))
    raise ExplanationError(f"no attribution method for {type(model).__name__}")


def contributions(
    model, X: pd.DataFrame, features: list[str], tolerance: float = ADDITIVITY_TOLERANCE
) -> pd.DataFrame:
    """Attribution of every feature in `features` (0 for those the model does not read) for
    every row of X, plus `base_value`; rows keep X's index. For a stack the values sum to its
    log-odds (checked: ExplanationError when they miss by more than `tolerance`)."""
    columns = [*features, BASE]
    if not isinstance(model, StackedClassifier):
        return _own_contributions(model, X).reindex(columns=columns, fill_value=0.0)
    total = pd.DataFrame(0.0, index=X.index, columns=columns)
    total[BASE] = model.intercept_
    for member, weight in zip(model.members_.values(), model.weights_, strict=True):
        if weight > 0:
            part = _own_contributions(member, X).reindex(columns=columns, fill_value=0.0)
            total += weight * part
    gap = np.abs(total.sum(axis=1).to_numpy() - model.decision_function(X))
    if gap.size and gap.max() > tolerance:
        raise ExplanationError(f"stack attributions miss its log-odds by up to {gap.max():.2e}")
    return total


def _tree_part(model) -> tuple[object, float] | None:
    """The model's xgboost part and its weight in the model's log-odds, if it has one."""
    if isinstance(model, StackedClassifier):
        for member, weight in zip(model.members_.values(), model.weights_, strict=True):
            if weight > 0 and _xgboost_pipeline(member) is not None:
                return member, float(weight)
        return None
    return (model, 1.0) if _xgboost_pipeline(model) is not None else None


def shap_interactions(model, X: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Top feature pairs by mean |SHAP interaction value| of the model's xgboost part
    (xgboost `pred_interactions`, times the part's weight in a stack); no rows when the model
    has no tree part (a linear model's features do not interact)."""
    part = _tree_part(model)
    if part is None:
        return pd.DataFrame(columns=["feature_a", "feature_b", "mean_abs_interaction"])
    booster, inputs = _booster_and_inputs(part[0], X)
    values = booster.predict(xgb.DMatrix(inputs), pred_interactions=True)[:, :-1, :-1]
    # the pair's effect is split over (i,j) and (j,i)
    strength = np.abs(values).mean(axis=0) * 2 * part[1]
    i, j = np.triu_indices(strength.shape[0], k=1)
    names = inputs.columns.to_numpy()
    pairs = pd.DataFrame(
        {"feature_a": names[i], "feature_b": names[j], "mean_abs_interaction": strength[i, j]}
    )
    return pairs.nlargest(top, "mean_abs_interaction").reset_index(drop=True)


def drivers_long(
    shap_values: pd.DataFrame, keys: pd.DataFrame, catalog: FeatureCatalog
) -> pd.DataFrame:
    """One row per (district, period, feature): the feature's value (when `keys` holds it),
    its SHAP value, the row's base value, domain and actionable flag."""
    features = [c for c in shap_values.columns if c != BASE]
    ids = keys[["district_id", "period"]].reset_index(drop=True)
    wide = pd.concat([ids, shap_values[features].reset_index(drop=True)], axis=1)
    long = wide.melt(["district_id", "period"], var_name="feature", value_name="shap_value")
    present = [f for f in features if f in keys.columns]
    # With one row per (district, period), the left merges below only line up melts of the
    # same rows in the same order: then the columns are put side by side instead, without
    # the merges' key tables (the same table, less memory on large panels).
    aligned = not ids.duplicated().any()
    if present and aligned and present == features:
        values = keys[present].reset_index(drop=True).melt(value_name="feature_value")
        long["feature_value"] = values["feature_value"]
    elif present:
        values = pd.concat([ids, keys[present].reset_index(drop=True)], axis=1).melt(
            ["district_id", "period"], var_name="feature", value_name="feature_value"
        )
        long = long.merge(values, on=["district_id", "period", "feature"], how="left")
    if BASE in shap_values.columns and aligned:
        long["base_value"] = np.tile(shap_values[BASE].to_numpy(), len(features))
    elif BASE in shap_values.columns:
        base = ids.assign(base_value=shap_values[BASE].to_numpy())
        long = long.merge(base, on=["district_id", "period"], how="left")
    long["domain"] = long["feature"].map(lambda f: catalog.features[f].domain)
    long["actionable"] = long["feature"].map(lambda f: catalog.features[f].actionable)
    return long


def global_importance(shap_values: pd.DataFrame, catalog: FeatureCatalog) -> pd.DataFrame:
    """Mean |SHAP| per feature (descending), with its domain and actionable flag."""
    features = [c for c in shap_values.columns if c != BASE]
    table = pd.DataFrame(
        {
            "feature": features,
            "mean_abs_shap": np.abs(shap_values[features]).mean().to_numpy(),
            "domain": [catalog.features[f].domain for f in features],
            "actionable": [catalog.features[f].actionable for f in features],
        }
    )
    return table.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(drop=True)


def domain_importance(importance: pd.DataFrame) -> pd.DataFrame:
    """Mean |SHAP| summed by catalog domain (descending)."""
    return (
        importance.groupby("domain", as_index=False)["mean_abs_shap"]
        .sum()
        .sort_values("mean_abs_shap", ascending=False)
        .reset_index(drop=True)
    )


def district_profiles(
    shap_values: pd.DataFrame, keys: pd.DataFrame, catalog: FeatureCatalog, top_n: int = 3
) -> pd.DataFrame:
    """Per row of `keys`: the top drivers raising risk, SHAP summed by domain, and the
    actionable share = positive SHAP of actionable features / all positive SHAP."""
    features = [c for c in shap_values.columns if c != BASE]
    values = shap_values[features].to_numpy()
    order = np.argsort(-values, axis=1)[:, :top_n]
    names = np.asarray(features)
    positive = np.clip(values, 0, None)
    actionable = np.array([catalog.features[f].actionable for f in features])
    total = positive.sum(axis=1)
    out = keys[["district_id", "period"]].reset_index(drop=True).copy()
    for rank in range(top_n):
        out[f"driver_{rank + 1}"] = names[order[:, rank]]
        out[f"driver_{rank + 1}_shap"] = values[np.arange(len(values)), order[:, rank]]
    out["actionable_share"] = np.divide(
        positive[:, actionable].sum(axis=1), total, out=np.zeros_like(total), where=total > 0
    )
    domains = pd.Series([catalog.features[f].domain for f in features])
    by_domain = pd.DataFrame(values, columns=features).T.groupby(domains.to_numpy()).sum().T
    by_domain.columns = [f"domain:{d}" for d in by_domain.columns]
    return pd.concat([out, by_domain.reset_index(drop=True)], axis=1)


def importance_stability(importances: list[pd.Series], threshold: float = 0.5) -> pd.DataFrame:
    """Compare global importance (mean |SHAP| per feature) across refits (folds, seeds).

    Returns per feature: mean, coefficient of variation, rank range and `unstable`
    (coefficient of variation > threshold, or the rank moves by more than a third of the
    features). The mean pairwise Spearman correlation is in `attrs["mean_spearman"]`.
    """
    table = pd.concat(importances, axis=1).fillna(0.0)
    ranks = table.rank(ascending=False)
    mean = table.mean(axis=1)
    cv = table.std(axis=1, ddof=0) / mean.where(mean > 0)
    rank_range = ranks.max(axis=1) - ranks.min(axis=1)
    out = pd.DataFrame(
        {"mean_abs_shap": mean, "coef_variation": cv.fillna(0.0), "rank_range": rank_range}
    )
    out["unstable"] = (out["coef_variation"] > threshold) | (rank_range > len(table) / 3)
    corr = table.corr(method="spearman").to_numpy()
    pairs = corr[np.triu_indices_from(corr, k=1)]
    out.attrs["mean_spearman"] = float(np.nanmean(pairs)) if pairs.size else 1.0
    return out.sort_values("mean_abs_shap", ascending=False)
