"""The main model (models/stack.py), its attributions, the registration rule
(models/selection.py) and the paired district bootstrap (models/evaluate.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import average_precision_score

from models.evaluate import paired_bootstrap, score_predictions, weighted_average_precision
from models.explain import BASE, ExplanationError, contributions
from models.pipeline import (
    HistoricalRateClassifier,
    PeriodCalibratedClassifier,
    PersistenceClassifier,
    XGBoostSettings,
    fit_model,
    logistic_pipeline,
    refit_like,
    xgboost_pipeline,
)
from models.probability import sigmoid
from models.selection import select_model
from models.stack import StackedClassifier, fit_weights

FEATURES = ["x1", "x2", "noise", "hist_rate", "hist_any"]
SMALL_XGB = XGBoostSettings(n_estimators=30, max_depth=2, n_jobs=1)


def _panel(seed: int = 0, n_districts: int = 150, n_periods: int = 8):
    """Rows of (district, period) with a known logistic outcome in x1, x2 and a district
    effect that the historical rate carries."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0, 1, n_districts)
    rows = n_districts * n_periods
    X = pd.DataFrame(
        {
            "x1": rng.normal(size=rows),
            "x2": rng.normal(size=rows),
            "noise": rng.normal(size=rows),
            "hist_rate": sigmoid(-1.5 + np.repeat(effect, n_periods) + rng.normal(0, 0.3, rows)),
        }
    )
    X["hist_any"] = (rng.random(rows) < X["hist_rate"]).astype(float)
    eta = -1.5 + 1.2 * X["x1"] - 0.8 * X["x2"] + np.repeat(effect, n_periods)
    y = (rng.random(rows) < sigmoid(eta.to_numpy())).astype(int)
    periods = np.tile(np.arange(n_periods), n_districts)
    districts = np.repeat(np.arange(n_districts), n_periods)
    return X, y, periods, districts


def _stack(n_stack_periods: int = 3) -> StackedClassifier:
    return StackedClassifier(
        [
            ("xgboost", xgboost_pipeline(FEATURES, SMALL_XGB, 0)),
            ("logistic", logistic_pipeline(FEATURES, 1.0)),
            ("historical_rate", HistoricalRateClassifier()),
        ],
        n_stack_periods,
    )


def test_fit_weights_recovers_known_weights_and_keeps_them_non_negative() -> None:
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(20_000, 3))
    y = (rng.random(20_000) < sigmoid(-0.5 + Z @ np.array([1.5, 0.5, 0.0]))).astype(float)
    intercept, weights = fit_weights(Z, y, C=100.0)
    assert intercept == pytest.approx(-0.5, abs=0.1)
    np.testing.assert_allclose(weights, [1.5, 0.5, 0.0], atol=0.1)
    flipped = Z * np.array([1, 1, -1])  # a member whose log-odds point the wrong way
    y = (rng.random(20_000) < sigmoid(-0.5 + flipped @ np.array([1.5, 0.5, 1.0]))).astype(float)
    assert fit_weights(Z, y, C=100.0)[1][2] == 0.0  # gets no weight rather than a negative one


def test_stack_weights_come_from_out_of_fold_periods_and_refits_keep_them() -> None:
    X, y, periods, _ = _panel()
    stack = _stack().fit(X, y, periods=periods)
    # three out-of-fold periods of 150 districts each; members refitted on all rows after
    assert stack.n_stack_rows_ == 3 * 150
    assert (stack.weights_ >= 0).all() and stack.weights_.sum() > 0
    assert set(stack.weights()) == {"xgboost", "logistic", "historical_rate"}
    p = stack.predict_proba(X)[:, 1]
    np.testing.assert_allclose(p, np.clip(sigmoid(stack.decision_function(X)), 1e-4, 1 - 1e-4))
    refit = refit_like(stack, X.iloc[:600], y[:600], periods[:600], seed=3)
    np.testing.assert_array_equal(refit.weights_, stack.weights_)
    assert refit.intercept_ == stack.intercept_
    assert not np.allclose(refit.predict_proba(X)[:, 1], p)  # members refitted on other rows
    with pytest.raises(ValueError, match="periods"):
        _stack().fit(X, y)


def test_stack_without_an_out_of_fold_period_is_its_first_member() -> None:
    X, y, periods, _ = _panel(n_periods=8)
    y_early_quiet = np.where(periods < 7, 0, y)  # only the last period has incidents
    stack = _stack(n_stack_periods=1).fit(X, y_early_quiet, periods=periods)
    assert stack.n_stack_rows_ == 0
    np.testing.assert_array_equal(stack.weights_, [1.0, 0.0, 0.0])


@pytest.mark.parametrize("kind", ["stack", "logistic", "historical_rate", "persistence", "tree"])
def test_attributions_are_exact_and_name_every_feature(kind: str) -> None:
    X, y, periods, _ = _panel(seed=2)
    model = {
        "stack": _stack(),
        "logistic": logistic_pipeline(FEATURES, 1.0),
        "historical_rate": HistoricalRateClassifier(),
        "persistence": PersistenceClassifier(),
        "tree": PeriodCalibratedClassifier(xgboost_pipeline(FEATURES, SMALL_XGB, 0)),
    }[kind]
    model = fit_model(model, X, y, periods)
    values = contributions(model, X.head(200), FEATURES)
    assert list(values.columns) == [*FEATURES, BASE]
    total = values.sum(axis=1).to_numpy()
    if kind == "tree":  # TreeSHAP explains the booster's margin, before calibration
        from models.stack import member_log_odds

        expected = member_log_odds(model.estimator_, X.head(200))
    elif kind == "stack":
        expected = model.decision_function(X.head(200))
    else:
        expected = np.log(model.predict_proba(X.head(200))[:, 1])
        expected -= np.log(model.predict_proba(X.head(200))[:, 0])
    np.testing.assert_allclose(total, expected, atol=1e-4)
    if kind in {"historical_rate", "persistence"}:  # one feature read, the others exactly 0
        read = model.column
        assert (values.drop(columns=[read, BASE]) == 0).all().all()
        assert values[read].abs().sum() > 0


def test_stack_attributions_weight_their_members() -> None:
    X, y, periods, _ = _panel(seed=4)
    stack = _stack().fit(X, y, periods=periods)
    rows = X.head(50)
    parts = {name: contributions(member, rows, FEATURES) for name, member in stack.members_.items()}
    combined = sum(w * parts[name] for name, w in stack.weights().items())
    combined[BASE] += stack.intercept_
    pd.testing.assert_frame_equal(contributions(stack, rows, FEATURES), combined)


def test_stack_with_a_feature_missing_in_some_rows_is_explained_exactly() -> None:
    X, y, periods, _ = _panel(seed=6)
    X.loc[X.index % 3 == 0, "x2"] = np.nan  # e.g. a census one country does not have
    stack = StackedClassifier(
        [
            ("xgboost", xgboost_pipeline(FEATURES, SMALL_XGB, 0)),
            ("logistic", logistic_pipeline(FEATURES, 1.0, missing=["x2"])),
        ]
    ).fit(X, y, periods=periods)
    values = contributions(stack, X.head(300), FEATURES)
    assert list(values.columns) == [*FEATURES, BASE]  # the indicator counts for x2
    np.testing.assert_allclose(values.sum(axis=1), stack.decision_function(X.head(300)), atol=1e-4)
    assert values.loc[X.head(300)["x2"].isna(), "x2"].abs().sum() > 0


def test_unknown_model_cannot_be_explained() -> None:
    from sklearn.dummy import DummyClassifier

    X, y, _, _ = _panel(n_districts=20)
    with pytest.raises(ExplanationError, match="DummyClassifier"):
        contributions(DummyClassifier().fit(X, y), X, FEATURES)


# --- the registration rule ---


def _scores(pooled: dict[str, tuple[float, float]], folds: dict | None = None) -> pd.DataFrame:
    rows = [{"model": m, "fold": "pooled", "aupr": a, "brier": b} for m, (a, b) in pooled.items()]
    for fold, table in (folds or {}).items():
        rows += [{"model": m, "fold": fold, "aupr": a, "brier": b} for m, (a, b) in table.items()]
    return pd.DataFrame(rows)


BASES = ["historical_rate", "logistic"]


def test_stack_is_registered_only_when_it_beats_every_baseline_on_both() -> None:
    wins = _scores(
        {"stack": (0.70, 0.080), "historical_rate": (0.60, 0.090), "logistic": (0.68, 0.082)},
        {
            "1": {"stack": (0.7, 0.08), "historical_rate": (0.6, 0.09), "logistic": (0.6, 0.09)},
            "2": {"stack": (0.5, 0.08), "historical_rate": (0.6, 0.09), "logistic": (0.6, 0.07)},
        },
    )
    chosen = select_model(wins, "stack", BASES)
    assert (chosen.chosen, chosen.fell_back, chosen.lost_to) == ("stack", False, [])
    assert chosen.best_baseline == chosen.best_aupr_baseline == "logistic"
    assert chosen.aupr_margin == pytest.approx(0.02)
    assert chosen.brier_change == pytest.approx(0.080 / 0.082 - 1)
    assert (chosen.fold_wins, chosen.n_folds) == (1, 2)
    assert chosen.sentence() == f"registered: stack, which {chosen.reason()}"
    assert chosen.reason().startswith("beats every baseline (AUPR +0.020 vs logistic")


@pytest.mark.parametrize(
    "stack",
    [(0.67, 0.080), (0.70, 0.083), (0.68, 0.082), (float("nan"), 0.07)],
    ids=["loses-aupr", "loses-brier", "ties", "undefined-aupr"],
)
def test_otherwise_the_lowest_brier_baseline_is_registered(stack) -> None:
    scores = _scores({"stack": stack, "historical_rate": (0.69, 0.090), "logistic": (0.68, 0.082)})
    chosen = select_model(scores, "stack", BASES)
    assert chosen.fell_back and chosen.chosen == "logistic" == chosen.best_baseline
    assert chosen.best_aupr_baseline == "historical_rate"
    assert "(fallback)" in chosen.sentence() and chosen.lost_to
    assert chosen.reason().startswith("stack did not beat ")
    assert chosen.sentence() == f"registered: logistic (fallback) — {chosen.reason()}"


# --- the paired district bootstrap ---


def _predictions(seed: int = 0, n_districts: int = 200, n_periods: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.beta(1, 5, n_districts * n_periods)
    return pd.DataFrame(
        {
            "district_id": np.repeat([f"d{i}" for i in range(n_districts)], n_periods),
            "period_index": np.tile(np.arange(n_periods), n_districts),
            "fold": np.tile(np.arange(n_periods), n_districts),
            "target": (rng.random(truth.size) < truth).astype(float),
            "good": truth,
            "bad": np.clip(truth + rng.normal(0, 0.2, truth.size), 0.01, 0.99),
            "historical_rate": np.full(truth.size, truth.mean()),
        }
    )


def test_bootstrap_of_a_model_against_itself_is_zero() -> None:
    found = paired_bootstrap(_predictions(), "good", "good", n_boot=100)
    assert found["aupr_low"] == found["aupr_high"] == found["aupr_diff"] == 0.0
    assert found["brier_low"] == found["brier_high"] == 0.0


def test_bootstrap_interval_brackets_the_point_difference_and_is_seeded() -> None:
    predictions = _predictions()
    found = paired_bootstrap(predictions, "good", "bad", n_boot=300, seed=5)
    scores = score_predictions(predictions, ["good", "bad"], k=10).set_index(["fold", "model"])
    assert found["aupr_diff"] == pytest.approx(
        scores.loc[("pooled", "good"), "aupr"] - scores.loc[("pooled", "bad"), "aupr"]
    )
    assert found["brier_diff"] == pytest.approx(
        scores.loc[("pooled", "good"), "brier"] - scores.loc[("pooled", "bad"), "brier"]
    )
    assert 0 < found["aupr_low"] < found["aupr_diff"] < found["aupr_high"]
    assert found["brier_low"] < found["brier_diff"] < found["brier_high"] < 0
    assert found == paired_bootstrap(predictions, "good", "bad", n_boot=300, seed=5)


def test_bootstrap_resamples_districts_not_rows() -> None:
    """A district whose 16 held-out rows are copies of one row carries one row's evidence:
    resampling whole districts gives an interval about 4 (= sqrt 16) times as wide as
    treating the rows as independent."""
    one_row_each = _predictions(n_districts=100, n_periods=1)
    copies = one_row_each.loc[one_row_each.index.repeat(16)].reset_index(drop=True)
    independent = copies.assign(district_id=[f"r{i}" for i in range(len(copies))])
    by_district, by_row = (
        paired_bootstrap(frame, "good", "bad", n_boot=400, seed=1)
        for frame in (copies, independent)
    )
    assert by_district["brier_diff"] == pytest.approx(by_row["brier_diff"])
    width_district = by_district["brier_high"] - by_district["brier_low"]
    width_row = by_row["brier_high"] - by_row["brier_low"]
    assert 3 < width_district / width_row < 5


def test_clone_of_a_stack_is_unfitted() -> None:
    X, y, periods, _ = _panel(n_districts=40)
    stack = _stack().fit(X, y, periods=periods)
    assert not hasattr(clone(stack), "members_")


# --- the rule in a training run ---


def _pooled(summary: dict, metric: str) -> dict[str, float]:
    return {m: summary["metrics"][m][metric] for m in summary["baselines"]}


def test_champion_run_registers_a_model_no_worse_than_any_baseline(trained_summary) -> None:
    summary = trained_summary
    selection = summary["selection"]
    chosen, metrics = summary["main_model"], summary["metrics"]
    assert chosen == selection["chosen"]
    if selection["fell_back"]:
        assert chosen == selection["best_baseline"]
        assert metrics[chosen]["brier"] == min(_pooled(summary, "brier").values())
    else:
        assert chosen == "stack"
        assert metrics[chosen]["aupr"] > max(_pooled(summary, "aupr").values())
        assert metrics[chosen]["brier"] < min(_pooled(summary, "brier").values())
    boot = selection["bootstrap"]
    assert boot["aupr_low"] <= boot["aupr_diff"] <= boot["aupr_high"]
    assert boot["brier_low"] <= boot["brier_diff"] <= boot["brier_high"]


@pytest.fixture
def trained_summary(champion_run: dict) -> dict:
    return champion_run["summary"]


def test_a_main_model_that_loses_is_not_registered_the_best_baseline_is(
    fresh_store: str, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The rule end to end: a main model that cannot beat the baselines (here a stack of the
    persistence baseline alone) leaves the run registering, explaining and planning with the
    best baseline, and the run says so."""
    import json

    import mlflow
    from conftest import TINY_REGION

    import train
    from experiments import run, tracking
    from models.pipeline import MAIN_MODEL

    real_zoo = run.model_zoo

    def losing_zoo(*args, **kwargs):
        zoo = real_zoo(*args, **kwargs)
        zoo[MAIN_MODEL] = StackedClassifier([("persistence", PersistenceClassifier())])
        del zoo["xgboost"]  # a member of the real stack, not of this one
        return zoo

    monkeypatch.setattr(run, "model_zoo", losing_zoo)
    out = tmp_path / "out"
    assert (
        train.main([*TINY_REGION, "--output", str(out), "--report", str(tmp_path / "r.html")]) == 0
    )
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    selection = summary["selection"]
    assert selection["fell_back"] and selection["lost_to"]
    assert summary["main_model"] == selection["chosen"] == selection["best_baseline"] != "stack"
    assert f"registered: {selection['chosen']} (fallback)" in printed
    assert summary["metrics"][summary["main_model"]]["brier"] == min(
        _pooled(summary, "brier").values()
    )
    # the registered model is that baseline: it reproduces the run's forecast
    model, _ = tracking.load_model(f"rootcast-h1/{summary['model_version']}")
    kinds = {
        "logistic": "Pipeline",
        "historical_rate": "HistoricalRateClassifier",
        "persistence": "PersistenceClassifier",
        "conflict_history": "PeriodCalibratedClassifier",
    }
    assert type(model).__name__ == kinds[selection["chosen"]]
    # and MLflow says so on the run and on the version, not only in summary.json
    client = mlflow.MlflowClient()
    version = client.get_model_version("rootcast-h1", summary["model_version"])
    run_tags = client.get_run(summary["run_id"]).data.tags
    for tags in (version.tags, run_tags):
        assert tags["rootcast.registered_model"] == selection["chosen"]
        assert tags["rootcast.fallback"] == "true"
    assert "did not beat" in printed and "% [" in printed  # Brier interval in percent too
    forecast = pd.read_csv(out / "forecast.csv")
    assert forecast["probability"].between(0, 1).all()
    assert (out / "plan.csv").exists() and (out / "district_profiles.csv").exists()
    assert "did not beat every baseline" in (tmp_path / "r.html").read_text()


def test_a_stack_member_is_read_from_the_fitted_stack_never_fitted_alone() -> None:
    from features.splits import Fold
    from models.pipeline import StackMember
    from models.validate import cross_validated_predictions

    X, y, periods, districts = _panel(seed=8, n_districts=60)
    frame = X.assign(target=y, period_index=periods, district_id=districts, period=periods)
    fold = Fold(1, 7, np.flatnonzero(periods < 7), np.flatnonzero(periods == 7))
    models = {"stack": _stack(), "xgboost": StackMember("stack", "xgboost")}
    predictions = cross_validated_predictions(frame, models, FEATURES, [fold])
    stack = _stack().fit(X.iloc[fold.train_index], y[fold.train_index], periods[fold.train_index])
    expected = stack.member_proba("xgboost", X.iloc[fold.test_index])
    np.testing.assert_allclose(predictions["xgboost"], expected)
    # the member alone, Platt-calibrated on the stack's out-of-fold forecasts: a monotone map
    # of xgboost's margin
    margin = (
        stack.members_["xgboost"]
        .steps[-1][1]
        .predict(X.iloc[fold.test_index][FEATURES], output_margin=True)
    )
    order = np.argsort(margin)
    assert (np.diff(expected[order]) >= -1e-12).all()
    with pytest.raises(TypeError, match="read from the fitted stack"):
        StackMember("stack", "xgboost").fit(X, y)


def test_weighted_average_precision_equals_sklearn_per_weight_row() -> None:
    """The vectorised AUPR of the bootstrap is sklearn's, sample by sample, with tied scores
    and zero weights (districts not drawn)."""
    rng = np.random.default_rng(4)
    y = (rng.random(300) < 0.3).astype(int)
    score = np.round(rng.random(300), 1)  # many ties
    weights = rng.integers(0, 3, size=(20, 300)).astype(float)
    found = weighted_average_precision(y, score, weights)
    expected = [average_precision_score(y, score, sample_weight=w) for w in weights]
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-12)
