"""The forecast interval is the range of a multi-model pool: the model, its bootstrap refits
and each stack's member models (models/probability.py); program benefits likewise, without
the members blind to a program."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from models.calibration_band import CalibrationBand
from models.probability import logit, pool_range, risk_interval, sigmoid, with_members
from models.serving import Forecaster
from models.targeting import ProgramCatalog, ProgramSpec, program_benefits


class Const:
    """A stand-in model: P = p + slope * x."""

    def __init__(self, p: float, slope: float = 0.0, members: dict | None = None):
        self.p, self.slope = p, slope
        if members is not None:
            self.members_ = members

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.p + self.slope * X["x"].to_numpy()
        return np.column_stack([1 - p, p])


X = pd.DataFrame({"x": [0.0, 1.0]})


def test_with_members_lists_each_model_then_its_stack_members():
    a, b, c = Const(0.1), Const(0.2), Const(0.3)
    stack = Const(0.15, members={"xgboost": a, "logistic": b})
    assert with_members([stack, c]) == [stack, a, b, c]


def test_pool_range_is_the_min_and_max_and_nan_without_refits():
    values = np.array([[0.2, 0.5], [0.1, 0.7], [0.3, 0.6]])
    low, high = pool_range(values, n_models=2)
    assert low.tolist() == [0.1, 0.5] and high.tolist() == [0.3, 0.7]
    low, high = pool_range(values, n_models=1)
    assert np.isnan(low).all() and np.isnan(high).all()


def test_risk_interval_pools_the_refits_and_their_stack_members():
    main = Const(0.20, members={"xgboost": Const(0.25), "historical_rate": Const(0.05)})
    refit = Const(0.22, members={"xgboost": Const(0.40), "historical_rate": Const(0.06)})
    low, high = risk_interval([main, refit], X)
    assert low == pytest.approx([0.05, 0.05]) and high == pytest.approx([0.40, 0.40])
    low, high = risk_interval([main], X)  # no refits: no interval, even for a stack
    assert np.isnan(low).all()


def test_benefit_interval_leaves_out_members_blind_to_the_program():
    program = ProgramCatalog(programs={"p": ProgramSpec(shift={"x": -1.0}, cost_per_district=1.0)})
    bounds = pd.DataFrame({"x": [0.0, 1.0]}, index=["min", "max"])
    shap = pd.DataFrame({"x": [0.1, 0.1]})
    keys = pd.DataFrame({"district_id": ["d1", "d2"], "period": [1, 1]})
    # the historical rate does not read x: reduction 0, which says nothing of the program
    main = Const(0.1, slope=0.3, members={"xgboost": Const(0.1, 0.2), "rate": Const(0.2)})
    refit = Const(0.1, slope=0.4, members={"xgboost": Const(0.1, 0.5), "rate": Const(0.2)})
    table = program_benefits([main, refit], X, keys, shap, program, bounds)
    d2 = table.set_index("district_id").loc["d2"]
    # the expected reduction: the mean of the models that read x (0.3, 0.2, 0.4, 0.5); the
    # rate's zeros would pull it down to 0.233
    assert d2["reduction"] == pytest.approx(0.35)
    assert d2["risk"] - d2["risk_after"] == pytest.approx(0.35)
    assert (d2["reduction_low"], d2["reduction_high"]) == pytest.approx((0.2, 0.5))  # not 0


def test_members_the_stack_gives_no_weight_are_left_out_of_the_pool():
    a, b, ignored = Const(0.1), Const(0.2), Const(0.9)
    stack = Const(0.15, members={"xgboost": a, "logistic": b, "historical_rate": ignored})
    stack.weights_ = np.array([0.7, 0.4, 0.0])
    assert with_members([stack]) == [stack, a, b]


def test_the_served_interval_is_the_training_interval_zero_weight_members_left_out():
    def stack(p, members):
        model = Const(p, members=members)
        model.weights_ = np.array([0.7, 0.0])  # the second member ignored
        return model

    main = stack(0.20, {"xgboost": Const(0.25), "historical_rate": Const(0.01)})
    refit = stack(0.22, {"xgboost": Const(0.30), "historical_rate": Const(0.02)})
    served = SimpleNamespace(model=main, members=(refit,), calibration_band=None)
    low, high = Forecaster.interval(served, X, main.predict_proba(X)[:, 1])
    expected = risk_interval([main, refit], X)
    np.testing.assert_allclose(low, expected[0])
    np.testing.assert_allclose(high, expected[1])
    assert low == pytest.approx([0.20, 0.20])  # not the ignored 0.01
    no_refits = SimpleNamespace(model=main, members=None, calibration_band=None)
    assert np.isnan(Forecaster.interval(no_refits, X, np.zeros(2))[0]).all()
    # with a calibration band: the same widening in training and serving
    band = CalibrationBand(edges=(0.0, 0.5, 1.0), low=(-0.5, 0.0), high=(1.0, 0.0), counts=(9, 9))
    widened = Forecaster.interval(
        SimpleNamespace(model=main, members=(refit,), calibration_band=band),
        X,
        main.predict_proba(X)[:, 1],
    )
    expected = risk_interval([main, refit], X, band)
    np.testing.assert_allclose(widened, expected)
    assert widened[0] == pytest.approx([sigmoid(logit(0.2) - 0.5)] * 2)
    assert widened[1] == pytest.approx([sigmoid(logit(0.2) + 1.0)] * 2)


def test_the_expected_reduction_never_exceeds_the_models_risk():
    """The pool's mean reduction comes from models with other risks: capped at the registered
    model's own risk, so risk_after stays >= 0, and the interval still holds it."""
    program = ProgramCatalog(programs={"p": ProgramSpec(shift={"x": -0.5}, cost_per_district=1.0)})
    bounds = pd.DataFrame({"x": [0.0, 1.0]}, index=["min", "max"])
    shap = pd.DataFrame({"x": [0.1, 0.1]})
    keys = pd.DataFrame({"district_id": ["d1", "d2"], "period": [1, 1]})
    main, refit = Const(0.01, slope=0.02), Const(0.10, slope=0.60)  # risk 0.02; refit 0.4
    table = program_benefits([main, refit], X, keys, shap, program, bounds)
    assert (table["risk_after"] >= 0).all()
    d2 = table.set_index("district_id").loc["d2"]  # mean (0.01 + 0.30) / 2 > risk 0.03
    assert d2["reduction"] == pytest.approx(0.03) and d2["risk_after"] == pytest.approx(0.0)
    assert (table["reduction_low"] <= table["reduction"]).all()
    assert (table["reduction"] <= table["reduction_high"]).all()
