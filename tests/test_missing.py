"""Features the catalog allows to be missing (`missing = "allowed"`, e.g. a census of one
country of a transnational panel): catalog rules, the data contract, the logistic baseline's
imputation, linear SHAP, drift, and a small two-country panel trained end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import train
from features.catalog import DEFAULT_CATALOG, FeatureSpec, load_catalog, parse_catalog
from features.errors import CatalogError, DataContractError
from features.schema import validate_panel
from features.synthetic import generate_region
from features.writers import write_geojson
from models.drift import feature_drift, population_stability_index
from models.explain import BASE, linear_shap
from models.pipeline import logistic_pipeline, model_zoo
from models.settings import ModelSettings


def catalog(**allowed: dict) -> object:
    return parse_catalog(
        {
            "features": {
                "survey": {"domain": "service access", "missing": "allowed"},
                "area": {"domain": "geography"},
                **allowed,
            }
        },
        "catalog.toml",
    )


def panel(**changes: list) -> pd.DataFrame:
    base = {
        "district_id": ["D1", "D1", "D2", "D2"],
        "period": [2010, 2011, 2010, 2011],
        "country": ["A", "A", "B", "B"],
        "incidents": [0, 1, 1, 0],
        "survey": [0.4, 0.5, np.nan, np.nan],  # not measured in country B
        "area": [1.0, 1.0, 2.0, 2.0],
    }
    return pd.DataFrame(base | changes)


# --- catalog ------------------------------------------------------------------------------


def test_missing_defaults_to_refused_and_lists_allowed_model_features() -> None:
    assert FeatureSpec(domain="geography").missing == "refused"
    cat = catalog(minority={"domain": "demography", "protected": True})
    assert cat.missing_allowed == ["survey"]
    assert load_catalog(DEFAULT_CATALOG).missing_allowed == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"domain": "demography", "protected": True, "missing": "allowed"}, "protected"),
        ({"domain": "conflict history", "missing": "allowed"}, "conflict-history"),
        ({"domain": "demography", "missing": "sometimes"}, "'refused' or 'allowed'"),
    ],
    ids=["protected", "conflict_history", "unknown_value"],
)
def test_allowed_is_refused_where_it_makes_no_sense(spec: dict, message: str) -> None:
    with pytest.raises(CatalogError, match=rf"catalog.toml: features.bad.*{message}") as error:
        catalog(bad=spec)
    assert "Value error" not in str(error.value)


# --- data contract ------------------------------------------------------------------------


def test_nan_is_accepted_in_an_allowed_column_only() -> None:
    valid = validate_panel(panel(), catalog(), "panel.csv")
    assert valid["survey"].isna().sum() == 2 and valid["area"].notna().all()


def test_nan_in_a_refused_column_names_file_column_and_row() -> None:
    with pytest.raises(DataContractError) as error:
        validate_panel(panel(area=[1.0, 1.0, np.nan, 2.0]), catalog(), "panel.csv")
    text = str(error.value)
    assert "panel.csv: column 'area'" in text and "row 2 (D2, 2010)" in text
    assert 'missing = "allowed"' in text  # says how to declare a feature not measured everywhere


def test_inf_and_text_in_an_allowed_column_are_still_refused() -> None:
    with pytest.raises(DataContractError, match=r"panel.csv: column 'survey'.*infinite.*row 1 "):
        validate_panel(panel(survey=[0.4, np.inf, np.nan, np.nan]), catalog(), "panel.csv")
    with pytest.raises(DataContractError, match=r"column 'survey' must be numeric.*row 0 "):
        validate_panel(panel(survey=["n/a", 0.5, None, None]), catalog(), "panel.csv")


def test_a_panel_csv_with_empty_cells_loads_as_nan(tmp_path: Path) -> None:
    path = tmp_path / "panel.csv"
    panel().to_csv(path, index=False)
    assert ",," in path.read_text()  # the empty cells
    from features.loaders import read_panel

    assert validate_panel(read_panel(path), catalog(), str(path))["survey"].isna().sum() == 2


# --- models -------------------------------------------------------------------------------


@pytest.fixture
def survey() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "survey", "c"])
    y = (X["a"] + X["survey"] + rng.normal(size=300) > 0).astype(int).to_numpy()
    X.loc[X.index < 100, "survey"] = np.nan  # one country's districts
    return X, y


def test_logistic_imputes_the_median_with_an_indicator_only_when_a_column_may_be_missing(
    survey,
) -> None:
    X, y = survey
    plain = logistic_pipeline(["a", "survey", "c"], C=1.0)
    assert [name for name, _ in plain.steps] == ["select", "scale", "logit"]
    assert [name for name, _ in logistic_pipeline(["a", "c"], 1.0, ["survey"]).steps] == [
        "select",
        "scale",
        "logit",
    ]  # none of its columns may be missing
    model = logistic_pipeline(["a", "survey", "c"], C=1.0, missing=["survey"]).fit(X, y)
    assert [name for name, _ in model.steps] == ["select", "impute", "scale", "logit"]
    imputed = model[:2].transform(X)
    assert set(imputed.columns) == {"a", "survey", "missingindicator_survey", "c"}
    assert (imputed.loc[:99, "survey"] == X["survey"].median()).all()
    assert imputed["missingindicator_survey"].tolist() == [1.0] * 100 + [0.0] * 200
    p = model.predict_proba(X)[:, 1]
    assert np.isfinite(p).all() and len(np.unique(p.round(6))) > 100


def test_zoo_passes_missing_columns_to_the_logistic_and_nan_to_xgboost(survey) -> None:
    X, y = survey
    zoo = model_zoo(["a", "survey", "c"], ["a"], ModelSettings(), horizon=1, missing=["survey"])
    members = dict(zoo["stack"].members)
    assert "impute" in zoo["logistic"].named_steps
    assert "impute" in members["logistic"].named_steps  # the stack's logistic member too
    booster = members["xgboost"].set_params(xgb__n_estimators=5, xgb__n_jobs=1).fit(X, y)
    assert booster[0].transform(X)["survey"].isna().sum() == 100  # NaN reaches xgboost as is
    assert np.isfinite(booster.predict_proba(X)).all()


def test_linear_shap_has_exactly_the_features_and_still_adds_up(survey) -> None:
    X, y = survey
    model = logistic_pipeline(["a", "survey", "c"], C=1.0, missing=["survey"]).fit(X, y)
    values = linear_shap(model, X, X)
    assert list(values.columns) == ["a", "survey", "c", BASE]
    total = values.drop(columns=BASE).sum(axis=1) + values[BASE]
    np.testing.assert_allclose(total, model.decision_function(X), atol=1e-9)
    # the indicator's part sits in `survey`: missing rows get a different value than median rows
    assert values.loc[:99, "survey"].nunique() == 1
    assert values.loc[:99, "survey"].iloc[0] != 0


def test_drift_counts_a_change_in_how_often_a_feature_is_measured() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=2000)
    measured_less = np.where(np.arange(2000) < 1000, np.nan, values)
    assert population_stability_index(values, values) == 0.0
    assert population_stability_index(values, measured_less) > 0.25
    half = np.where(np.arange(2000) % 2 == 0, np.nan, values)
    assert population_stability_index(half, half) == 0.0
    ref = pd.DataFrame({"x": half})
    table = feature_drift(ref, pd.DataFrame({"x": np.full(50, np.nan)}), ["x"])
    assert table["large"].item() and np.isnan(table["ks_statistic"].item())


# --- end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_countries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic region as files, `literacy` not measured in Country A (10 of 40
    districts) and declared `missing = "allowed"`."""
    folder = tmp_path_factory.mktemp("missing")
    region = generate_region(n_districts=40, n_periods=8, seed=3)
    frame = region.panel.copy()
    frame.loc[frame["country"] == "Country A", "literacy"] = np.nan
    frame.to_csv(folder / "panel.csv", index=False)
    text = DEFAULT_CATALOG.read_text(encoding="utf-8")
    assert "[features.literacy]\n" in text
    text = text.replace("[features.literacy]\n", '[features.literacy]\nmissing = "allowed"\n')
    (folder / "catalog.toml").write_text(text, encoding="utf-8")
    write_geojson(folder / "geometry.geojson", region.geometry)
    return folder


# fmt: off
SMALL = [
    "--set", "split.n_folds=2", "--set", "split.min_train_periods=4",
    "--set", "model.xgboost.n_estimators=20", "--set", "model.xgboost.n_jobs=1",
    "--set", "explain.n_bootstrap=1", "--set", "evaluation.top_k=5",
]
# fmt: on


def test_a_panel_missing_a_feature_in_one_country_trains_explains_and_reports(
    two_countries: Path, tmp_path: Path
) -> None:
    out, report = tmp_path / "out", tmp_path / "report.html"
    code = train.main(
        [
            "--data", str(two_countries / "panel.csv"),
            "--catalog", str(two_countries / "catalog.toml"),
            "--geometry", str(two_countries / "geometry.geojson"),
            "--output", str(out), "--report", str(report), "-q", *SMALL,
        ]
    )  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    metrics = pd.read_csv(out / "metrics.csv")
    models = {"historical_rate", "persistence", "conflict_history", "logistic", "xgboost", "stack"}
    assert models <= set(metrics["model"])
    assert np.isfinite(metrics.loc[metrics["model"].isin(models), "brier"]).all()
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert np.isfinite(predictions[sorted(models)].to_numpy()).all()
    # the registered model (the stack, or the baseline it fell back to) was explained
    assert summary["main_model"] == summary["selection"]["chosen"]

    features = load_catalog(two_countries / "catalog.toml").model_features
    for table in ("shap_global.csv", "shap_global_logistic.csv"):
        shap_features = set(pd.read_csv(out / table)["feature"])
        assert set(features) <= shap_features  # every catalog feature, no indicator column
        assert not {f for f in shap_features if f.startswith("missingindicator")}
    drivers = pd.read_parquet(out / "district_drivers.parquet")
    literacy = drivers[drivers["feature"] == "literacy"]
    countries = pd.read_csv(two_countries / "panel.csv").groupby("district_id")["country"].first()
    not_measured = literacy["district_id"].map(countries) == "Country A"
    assert literacy.loc[not_measured, "feature_value"].isna().all()
    assert literacy.loc[~not_measured, "feature_value"].notna().all()
    assert np.isfinite(drivers["shap_value"]).all()

    html = report.read_text(encoding="utf-8")
    profiled = pd.read_csv(out / "district_profiles.csv").sort_values("risk", ascending=False)
    in_a = [d for d in profiled["district_id"].head(5) if countries[d] == "Country A"]
    assert in_a, "the seeded region profiles a Country A district"
    assert "Adult literacy</span> = not measured" in html  # the catalog label in words
    assert "= nan" not in html.lower()
