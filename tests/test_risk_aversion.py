"""targeting.risk_aversion: the allocation maximises the expected reduction (0), the interval's
lower bound (1) or a mix; without an interval the expected reduction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.build import PERIOD_INDEX
from models.insight import plan_programs
from models.settings import TargetingSettings
from models.targeting import ProgramCatalog, ProgramSpec, planning_value


def test_planning_value_mixes_the_estimate_and_its_lower_bound():
    rows = pd.DataFrame({"reduction": [0.3, 0.2, 0.1], "reduction_low": [-0.1, 0.15, np.nan]})
    assert planning_value(rows, 0.0).tolist() == pytest.approx([0.3, 0.2, 0.1])
    assert planning_value(rows, 1.0).tolist() == pytest.approx([-0.1, 0.15, 0.1])
    assert planning_value(rows, 0.5).tolist() == pytest.approx([0.1, 0.175, 0.1])
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="risk_aversion"):
            planning_value(rows, bad)


def test_risk_aversion_is_validated_in_the_settings():
    assert TargetingSettings().risk_aversion == 0.0
    with pytest.raises(ValidationError, match="risk_aversion"):
        TargetingSettings(risk_aversion=2.0)


class Lookup:
    """A stand-in model: P(incident) read from a table keyed by (district code g, feature f)."""

    def __init__(self, table: dict[tuple[int, float], float]):
        self.table = table

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.array([self.table[(int(g), float(f))] for g, f in zip(X["g"], X["f"], strict=True)])
        return np.column_stack([1 - p, p])


def _member(d1_after: float, d2_after: float) -> Lookup:
    return Lookup({(1, 2.0): 0.5, (1, 1.0): d1_after, (2, 2.0): 0.5, (2, 1.0): d2_after})


@pytest.mark.parametrize(("aversion", "chosen"), [(0.0, "d1"), (1.0, "d2")])
def test_risk_averse_plan_prefers_the_benefit_the_ensemble_agrees_on(aversion, chosen):
    # d1: the model and a refit see 0.4, another refit -0.1 (mean 0.23); d2: 0.2, 0.15, 0.2
    # (mean 0.18): the expected reduction favours d1, its lower bound d2
    ensemble = [_member(0.1, 0.3), _member(0.6, 0.35), _member(0.1, 0.3)]
    frame = pd.DataFrame(
        {
            "district_id": ["d1", "d2", "d1", "d2"],
            "period": ["2020", "2020", "2021", "2021"],
            PERIOD_INDEX: [0, 0, 1, 1],
            "f": [1.0, 1.0, 2.0, 2.0],  # the program lowers f by 1 (1.0 was observed)
            "g": [1, 2, 1, 2],
        }
    )
    programs = ProgramCatalog(programs={"p": ProgramSpec(shift={"f": -1.0}, cost_per_district=1.0)})
    shap = pd.DataFrame({"f": [0.2, 0.2], "g": [0.0, 0.0]})  # f pushes both risks up
    settings = TargetingSettings(budget=1.0, risk_aversion=aversion)
    plan = plan_programs(ensemble, frame, ["f", "g"], shap, programs, settings)
    assert plan["district_id"].tolist() == [chosen]
    assert plan["reduction"].is_monotonic_decreasing
    assert "planning_value" not in plan.columns  # plan.csv's columns do not change
    expected = {"d1": (0.7 / 3, -0.1), "d2": (0.55 / 3, 0.15)}[chosen]
    assert plan[["reduction", "reduction_low"]].iloc[0].tolist() == pytest.approx(expected)
