"""TreeSHAP explanations, driver tables and importance stability (models/explain.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.pipeline import Pipeline

from features.catalog import parse_catalog
from models.explain import (
    BASE,
    ExplanationError,
    district_profiles,
    domain_importance,
    drivers_long,
    global_importance,
    importance_stability,
    shap_interactions,
    tree_shap,
)
from models.pipeline import (
    HistoricalRateClassifier,
    PeriodCalibratedClassifier,
    XGBoostSettings,
    logistic_pipeline,
    xgboost_pipeline,
)

SMALL = XGBoostSettings(
    n_estimators=30,
    max_depth=3,
    learning_rate=0.3,
    subsample=1.0,
    colsample_bytree=1.0,
    min_child_weight=1.0,
    n_jobs=1,
)
CATALOG = parse_catalog(
    {
        "features": {
            "a": {"domain": "socio-economic", "actionable": True},
            "b": {"domain": "governance", "actionable": False},
            "c": {"domain": "governance", "actionable": True},
        }
    }
)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def frame(n: int, seed: int) -> pd.DataFrame:
    """Standard-normal features a, b, c plus an unused column, in a scrambled order."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["unused", "c", "b", "a"])
    X.index = pd.Index([f"row{i}" for i in range(n)], name="rid")
    return X


def labels(logit: pd.Series, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=len(logit)) < sigmoid(logit.to_numpy())).astype(int)


@pytest.fixture(scope="module")
def driven() -> tuple[pd.DataFrame, np.ndarray]:
    """y strongly driven by a, weakly by b, not at all by c (nor by `unused`)."""
    X = frame(1500, seed=0)
    return X, labels(3 * X["a"] + 0.7 * X["b"], seed=1)


@pytest.fixture(scope="module")
def fitted(driven) -> Pipeline:
    X, y = driven
    return xgboost_pipeline(["a", "b", "c"], SMALL, seed=0).fit(X, y)


def booster_margin(pipeline, X: pd.DataFrame) -> np.ndarray:
    """The raw log-odds of the pipeline's booster on X's selected columns."""
    inputs = pipeline[:-1].transform(X)
    return pipeline[-1].get_booster().predict(xgb.DMatrix(inputs), output_margin=True)


# --- tree_shap ------------------------------------------------------------------------------


def test_tree_shap_values_plus_base_add_up_to_the_booster_margin(fitted, driven):
    X = driven[0].iloc[:200]
    shap = tree_shap(fitted, X)
    np.testing.assert_allclose(shap.sum(axis=1), booster_margin(fitted, X), atol=1e-3)


def test_tree_shap_margin_matches_the_pipeline_probability(fitted, driven):
    X = driven[0].iloc[:200]
    shap = tree_shap(fitted, X)
    np.testing.assert_allclose(
        sigmoid(shap.sum(axis=1).to_numpy()), fitted.predict_proba(X)[:, 1], atol=1e-4
    )


def test_tree_shap_of_calibrated_model_adds_up_to_the_inner_booster_margin(driven):
    X, y = driven
    periods = np.repeat(np.arange(5), len(X) // 5)
    model = PeriodCalibratedClassifier(xgboost_pipeline(["b", "a"], SMALL, seed=3)).fit(
        X, y, periods=periods
    )
    shap = tree_shap(model, X.iloc[:100])
    assert list(shap.columns) == ["b", "a", BASE]
    np.testing.assert_allclose(
        shap.sum(axis=1), booster_margin(model.estimator_, X.iloc[:100]), atol=1e-3
    )


def test_tree_shap_columns_are_original_features_in_selection_order_plus_base(driven):
    X, y = driven
    model = xgboost_pipeline(["c", "a", "b"], SMALL, seed=0).fit(X, y)
    # X has an extra column and its own column order; only the selection order counts
    assert list(tree_shap(model, X.iloc[:10]).columns) == ["c", "a", "b", BASE]


def test_tree_shap_keeps_the_index_of_x(fitted, driven):
    X = driven[0].iloc[[5, 3, 7]]
    assert tree_shap(fitted, X).index.equals(X.index)


def test_tree_shap_gives_zero_to_a_feature_the_model_never_splits_on(driven):
    X, y = driven
    constant = X.assign(c=1.0)
    model = xgboost_pipeline(["a", "b", "c"], SMALL, seed=0).fit(constant, y)
    assert (tree_shap(model, constant.iloc[:50])["c"] == 0).all()


@pytest.mark.parametrize(
    "model",
    [logistic_pipeline(["a", "b", "c"], C=0.1), HistoricalRateClassifier(column="a")],
    ids=["logistic_pipeline", "historical_rate"],
)
def test_tree_shap_rejects_a_model_that_is_not_an_xgboost_pipeline(model, driven):
    X, y = driven
    model.fit(X, y)
    with pytest.raises(ExplanationError, match="xgboost pipeline"):
        tree_shap(model, X.iloc[:10])


def test_tree_shap_raises_when_additivity_check_fails(fitted, driven):
    with pytest.raises(ExplanationError, match="additivity"):
        tree_shap(fitted, driven[0].iloc[:10], tolerance=-1)


# --- importance -----------------------------------------------------------------------------


def test_global_importance_ranks_the_strong_driver_first_and_the_irrelevant_one_last(
    fitted, driven
):
    importance = global_importance(tree_shap(fitted, driven[0]), CATALOG)
    assert list(importance["feature"]) == ["a", "b", "c"]
    assert importance["mean_abs_shap"].is_monotonic_decreasing
    assert list(importance["domain"]) == ["socio-economic", "governance", "governance"]
    assert list(importance["actionable"]) == [True, False, True]


def test_global_importance_is_mean_absolute_shap_per_feature():
    shap = pd.DataFrame({"a": [1.0, -3.0], "b": [0.5, 0.5], "c": [-0.1, 0.0], BASE: [9.0, 9.0]})
    importance = global_importance(shap, CATALOG).set_index("feature")["mean_abs_shap"]
    assert importance.to_dict() == pytest.approx({"a": 2.0, "b": 0.5, "c": 0.05})


def test_domain_importance_sums_feature_importance_by_domain():
    shap = pd.DataFrame({"a": [1.0, -3.0], "b": [0.5, 0.5], "c": [-0.1, 0.3], BASE: [9.0, 9.0]})
    domains = domain_importance(global_importance(shap, CATALOG))
    assert list(domains["domain"]) == ["socio-economic", "governance"]
    np.testing.assert_allclose(domains["mean_abs_shap"], [2.0, 0.5 + 0.2])


# --- per-district tables --------------------------------------------------------------------

HAND_SHAP = pd.DataFrame(
    {"a": [0.5, -0.1, -0.3], "b": [0.3, 0.2, -0.2], "c": [-0.2, 0.6, -0.1], BASE: [-2.0] * 3},
    index=[10, 11, 12],
)
KEYS = pd.DataFrame({"district_id": ["d1", "d2", "d3"], "period": [4, 4, 5]}, index=[10, 11, 12])


def test_district_profiles_driver_1_is_the_largest_shap_value():
    profiles = district_profiles(HAND_SHAP, KEYS, CATALOG, top_n=2)
    assert list(profiles["driver_1"]) == ["a", "c", "c"]
    assert list(profiles["driver_2"]) == ["b", "b", "b"]
    np.testing.assert_allclose(profiles["driver_1_shap"], [0.5, 0.6, -0.1])
    assert list(profiles["district_id"]) == ["d1", "d2", "d3"]


def test_district_profiles_actionable_share_is_positive_actionable_over_all_positive_shap():
    profiles = district_profiles(HAND_SHAP, KEYS, CATALOG, top_n=1)
    # a and c are actionable, b is not; a row with no positive SHAP has share 0
    np.testing.assert_allclose(profiles["actionable_share"], [0.5 / 0.8, 0.6 / 0.8, 0.0])


def test_district_profiles_domain_columns_sum_shap_per_domain():
    profiles = district_profiles(HAND_SHAP, KEYS, CATALOG, top_n=1)
    np.testing.assert_allclose(profiles["domain:socio-economic"], HAND_SHAP["a"])
    np.testing.assert_allclose(profiles["domain:governance"], HAND_SHAP["b"] + HAND_SHAP["c"])


def test_drivers_long_has_one_row_per_row_and_feature_with_catalog_attributes():
    long = drivers_long(HAND_SHAP, KEYS, CATALOG)
    assert len(long) == 3 * 3
    assert not long.duplicated(["district_id", "period", "feature"]).any()
    assert BASE not in set(long["feature"])
    for key in KEYS.itertuples():
        for feature in ["a", "b", "c"]:
            match = long[(long["district_id"] == key.district_id) & (long["feature"] == feature)]
            assert len(match) == 1
            assert match["period"].item() == key.period
            assert match["shap_value"].item() == HAND_SHAP.at[key.Index, feature]
            assert match["domain"].item() == CATALOG.features[feature].domain
            assert match["actionable"].item() == CATALOG.features[feature].actionable


def _drivers_by_merge(shap_values: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """drivers_long's definition: feature values and base values joined on the keys."""
    features = [c for c in shap_values.columns if c != BASE]
    ids = keys[["district_id", "period"]].reset_index(drop=True)
    long = pd.concat([ids, shap_values[features].reset_index(drop=True)], axis=1).melt(
        ["district_id", "period"], var_name="feature", value_name="shap_value"
    )
    present = [f for f in features if f in keys.columns]
    if present:
        values = pd.concat([ids, keys[present].reset_index(drop=True)], axis=1).melt(
            ["district_id", "period"], var_name="feature", value_name="feature_value"
        )
        long = long.merge(values, on=["district_id", "period", "feature"], how="left")
    base = ids.assign(base_value=shap_values[BASE].to_numpy())
    long = long.merge(base, on=["district_id", "period"], how="left")
    long["domain"] = long["feature"].map(lambda f: CATALOG.features[f].domain)
    long["actionable"] = long["feature"].map(lambda f: CATALOG.features[f].actionable)
    return long


@pytest.mark.parametrize(
    "keys",
    [
        KEYS.assign(a=[1.0, 2.0, 3.0], b=[0.1, 0.2, 0.3], c=[7.0, 8.0, 9.0]),  # side by side
        KEYS.assign(b=[0.1, 0.2, 0.3]),  # one feature's values only: joined
        KEYS.assign(district_id=["d1", "d1", "d3"], period=4, a=1.0, b=2.0, c=3.0),  # repeats
    ],
)
def test_drivers_long_equals_the_table_joined_on_the_keys(keys: pd.DataFrame):
    """Where every (district, period) is one row, feature and base values are put beside
    the SHAP values instead of merged on the keys (less memory): the same table."""
    pd.testing.assert_frame_equal(
        drivers_long(HAND_SHAP, keys, CATALOG), _drivers_by_merge(HAND_SHAP, keys)
    )


# --- interactions ---------------------------------------------------------------------------


def test_shap_interactions_top_pair_is_the_interacting_pair():
    X = frame(2000, seed=5)
    y = labels(3 * X["a"] * X["b"], seed=6)
    model = xgboost_pipeline(["a", "b", "c"], SMALL, seed=0).fit(X, y)
    pairs = shap_interactions(model, X.iloc[:500], top=3)
    assert len(pairs) == 3
    assert {pairs.at[0, "feature_a"], pairs.at[0, "feature_b"]} == {"a", "b"}
    assert pairs["mean_abs_interaction"].is_monotonic_decreasing
    assert pairs.at[0, "mean_abs_interaction"] > 3 * pairs.at[1, "mean_abs_interaction"]


# --- stability ------------------------------------------------------------------------------


def test_importance_stability_of_identical_importances_is_perfect():
    importance = pd.Series({"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.5})
    table = importance_stability([importance.rename(f"fold{k}") for k in range(3)])
    assert table.attrs["mean_spearman"] == pytest.approx(1.0)
    assert not table["unstable"].any()
    assert (table["coef_variation"] == 0).all()
    assert (table["rank_range"] == 0).all()
    assert list(table.index) == ["a", "b", "c", "d"]


def test_importance_stability_flags_only_the_feature_whose_importance_jumps():
    stable = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 2.0, "e": 1.0}
    runs = [
        pd.Series({**stable, "jumpy": value}, name=f"seed{k}")
        for k, value in enumerate([6.0, 0.1, 6.0, 0.1])
    ]
    table = importance_stability(runs)
    assert table["unstable"].to_dict() == {f: f == "jumpy" for f in table.index}
    assert table.attrs["mean_spearman"] < 1.0
