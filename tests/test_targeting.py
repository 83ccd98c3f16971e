"""Program catalog, counterfactual benefits and budgeted allocation (models/targeting.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.catalog import FeatureCatalog, parse_catalog
from features.errors import CatalogError
from models.targeting import (
    DEFAULT_PROGRAMS,
    ProgramCatalog,
    ProgramSpec,
    apply_program,
    load_programs,
    program_benefits,
    split_bundles,
)

DEFAULT_PROGRAM_FEATURES = {
    "school_enrolment": "service access",
    "literacy": "socio-economic",
    "youth_unemployment": "socio-economic",
    "poverty": "socio-economic",
    "governance_quality": "governance",
    "corruption": "governance",
    "state_presence": "governance",
    "health_access": "service access",
    "electricity_access": "service access",
    "displacement": "demography",
}


def feature_catalog(drop: tuple[str, ...] = ()) -> FeatureCatalog:
    """Every feature the default programs move, actionable; plus a fixed and a protected one."""
    features = {
        name: {"domain": domain, "actionable": True}
        for name, domain in DEFAULT_PROGRAM_FEATURES.items()
        if name not in drop
    }
    features["elevation"] = {"domain": "geography", "actionable": False}
    features["minority_share"] = {"domain": "demography", "actionable": True, "protected": True}
    return parse_catalog({"features": features})


# --- load_programs --------------------------------------------------------------------------


def test_default_program_catalog_loads_against_a_catalog_with_its_features_actionable():
    programs = load_programs(None, feature_catalog())
    assert set(programs.programs) == {
        "education",
        "livelihoods",
        "local_governance",
        "basic_services",
        "social_cohesion",
    }
    moved = {f for spec in programs.programs.values() for f in spec.features}
    assert moved == set(DEFAULT_PROGRAM_FEATURES)
    assert all(spec.cost_per_district > 0 for spec in programs.programs.values())


def test_default_program_catalog_path_and_none_load_the_same_catalog():
    assert load_programs(DEFAULT_PROGRAMS, feature_catalog()) == load_programs(
        None, feature_catalog()
    )


def test_default_program_catalog_fails_when_a_moved_feature_is_not_in_the_catalog():
    with pytest.raises(CatalogError, match=r"programs\.social_cohesion: unknown feature"):
        load_programs(None, feature_catalog(drop=("displacement",)))


GOOD_SHIFT = "shift = { poverty = -0.1 }\n"

BAD_CATALOGS = {
    "unknown_feature": ("shift = { rainfall = 1.0 }\ncost_per_district = 1.0\n", "rainfall"),
    "negative_cost": (GOOD_SHIFT + "cost_per_district = -1.0\n", "cost_per_district"),
    "zero_cost": (GOOD_SHIFT + "cost_per_district = 0\n", "cost_per_district"),
    "non_actionable_feature": (
        "shift = { elevation = 1.0 }\ncost_per_district = 1.0\n",
        "not actionable",
    ),
    "protected_feature": (
        "scale = { minority_share = 0.5 }\ncost_per_district = 1.0\n",
        "protected",
    ),
    "no_effect": ("cost_per_district = 1.0\n", "shift or scale"),
    "extra_key": (GOOD_SHIFT + "cost_per_district = 1.0\neffect_size = 0.3\n", "effect_size"),
    "negative_scale": ("scale = { poverty = -0.5 }\ncost_per_district = 1.0\n", "scale"),
    "min_risk_above_one": (GOOD_SHIFT + "cost_per_district = 1.0\nmin_risk = 1.5\n", "min_risk"),
}


@pytest.mark.parametrize("body, reason", BAD_CATALOGS.values(), ids=BAD_CATALOGS.keys())
def test_bad_program_catalog_raises_catalog_error_naming_file_and_program(
    tmp_path: Path, body: str, reason: str
):
    path = tmp_path / "programs.toml"
    path.write_text(
        "[programs.good]\n" + GOOD_SHIFT + "cost_per_district = 2.0\n\n[programs.faulty]\n" + body,
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as error:
        load_programs(path, feature_catalog())
    message = str(error.value)
    assert str(path) in message
    assert "programs.faulty" in message
    assert reason in message


def test_missing_program_catalog_raises_catalog_error_naming_the_file(tmp_path: Path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(CatalogError, match="not found") as error:
        load_programs(path, feature_catalog())
    assert str(path) in str(error.value)


def test_invalid_toml_program_catalog_raises_catalog_error_naming_the_file(tmp_path: Path):
    path = tmp_path / "broken.toml"
    path.write_text("[programs.education\ncost_per_district = 1.0\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid TOML") as error:
        load_programs(path, feature_catalog())
    assert str(path) in str(error.value)


def test_program_catalog_without_programs_is_rejected(tmp_path: Path):
    path = tmp_path / "empty.toml"
    path.write_text("[programs]\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="no programs") as error:
        load_programs(path, feature_catalog())
    assert str(path) in str(error.value)


# --- apply_program --------------------------------------------------------------------------

PANEL = pd.DataFrame(
    {
        "poverty": [0.10, 0.40, 0.70, 0.90],
        "literacy": [0.20, 0.50, 0.60, 0.95],
        "elevation": [100.0, 200.0, 300.0, 400.0],
    },
    index=[7, 8, 9, 10],
)
BOUNDS = PANEL.agg(["min", "max"])


def test_apply_program_shifts_and_scales_then_clips_to_the_observed_range():
    spec = ProgramSpec(shift={"poverty": -0.2}, scale={"literacy": 1.5}, cost_per_district=1.0)
    changed = apply_program(PANEL, spec, BOUNDS)
    np.testing.assert_allclose(changed["poverty"], [0.10, 0.20, 0.50, 0.70])
    np.testing.assert_allclose(changed["literacy"], [0.30, 0.75, 0.90, 0.95])
    pd.testing.assert_series_equal(changed["elevation"], PANEL["elevation"])
    assert changed.index.equals(PANEL.index)


def test_apply_program_does_not_modify_its_input():
    before = PANEL.copy()
    spec = ProgramSpec(shift={"poverty": -0.2}, scale={"literacy": 1.5}, cost_per_district=1.0)
    apply_program(PANEL, spec, BOUNDS)
    pd.testing.assert_frame_equal(PANEL, before)


# --- program_benefits -----------------------------------------------------------------------


class LinearRisk:
    """A stub classifier: P = sigmoid(bias + sum(weight * feature)), monotone in each feature."""

    def __init__(self, weights: dict[str, float], bias: float = -1.0):
        self.weights, self.bias = weights, bias

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        z = self.bias + sum(w * X[f].to_numpy() for f, w in self.weights.items())
        p = 1 / (1 + np.exp(-z))
        return np.column_stack([1 - p, p])


RISK_MODEL = LinearRisk({"poverty": 4.0, "literacy": -2.0})
KEYS = pd.DataFrame(
    {"district_id": ["d1", "d2", "d3", "d4"], "period": [3, 3, 3, 3]}, index=PANEL.index
)
SHAP = pd.DataFrame(
    {
        "poverty": [-0.5, 0.4, 0.2, 0.9],
        "literacy": [0.3, -0.6, 0.1, 0.2],
        "elevation": [0.0, 0.0, 0.0, 0.0],
        "base_value": [-1.0] * 4,
    },
    index=PANEL.index,
)
CASH = ProgramSpec(shift={"poverty": -0.2}, cost_per_district=1.5)
CASH_AND_SCHOOL = ProgramSpec(shift={"poverty": -0.1, "literacy": 0.1}, cost_per_district=2.0)


def benefits(models, programs: dict[str, ProgramSpec]) -> pd.DataFrame:
    return program_benefits(models, PANEL, KEYS, SHAP, ProgramCatalog(programs=programs), BOUNDS)


def test_program_benefit_reduction_is_risk_before_minus_risk_after():
    table = benefits([RISK_MODEL], {"cash": CASH})
    at = [KEYS["district_id"].tolist().index(d) for d in table["district_id"]]
    risk = RISK_MODEL.predict_proba(PANEL)[:, 1][at]
    after = RISK_MODEL.predict_proba(apply_program(PANEL, CASH, BOUNDS))[:, 1][at]
    np.testing.assert_allclose(table["risk"], risk)
    np.testing.assert_allclose(table["risk_after"], after)
    np.testing.assert_allclose(table["reduction"], table["risk"] - table["risk_after"])
    assert (table["reduction"] > 0).all()  # lowering poverty lowers a monotone risk
    assert (table["cost"] == 1.5).all()


def test_program_is_a_candidate_only_where_its_features_shap_sum_is_positive():
    table = benefits([RISK_MODEL], {"cash": CASH, "both": CASH_AND_SCHOOL})
    pairs = set(zip(table["district_id"], table["program"], strict=True))
    # cash: poverty SHAP > 0 in d2, d3, d4; both: poverty + literacy > 0 in d3, d4 only
    assert pairs == {("d2", "cash"), ("d3", "cash"), ("d4", "cash"), ("d3", "both"), ("d4", "both")}


def test_program_benefit_drivers_name_the_features_pushing_risk_up():
    table = benefits([RISK_MODEL], {"both": CASH_AND_SCHOOL}).set_index("district_id")
    assert table.at["d3", "drivers"] == "literacy (+0.10), poverty (+0.20)"
    assert table.at["d4", "drivers"] == "literacy (+0.20), poverty (+0.90)"


def test_program_benefit_interval_spans_the_ensemble_and_low_is_at_most_high():
    ensemble = [RISK_MODEL, LinearRisk({"poverty": 1.0}), LinearRisk({"poverty": 8.0}, bias=-3)]
    table = benefits(ensemble, {"cash": CASH})
    assert (table["reduction_low"] <= table["reduction_high"]).all()
    assert (table["reduction_high"] - table["reduction_low"] > 0).all()
    each = np.vstack([benefits([m], {"cash": CASH})["reduction"] for m in ensemble])
    assert (table["reduction_low"] >= each.min(axis=0) - 1e-12).all()
    assert (table["reduction_high"] <= each.max(axis=0) + 1e-12).all()


def test_program_benefit_of_a_single_model_has_no_interval():
    table = benefits([RISK_MODEL], {"cash": CASH})
    assert table[["reduction_low", "reduction_high"]].isna().all().all()  # not zero-width
    assert table["reduction"].notna().all()


def test_program_min_risk_excludes_districts_below_it():
    risk = pd.Series(RISK_MODEL.predict_proba(PANEL)[:, 1], index=KEYS["district_id"])
    threshold = float(risk[["d2", "d3", "d4"]].median())
    gated = CASH.model_copy(update={"min_risk": threshold})
    table = benefits([RISK_MODEL], {"cash": gated})
    expected = {d for d in ["d2", "d3", "d4"] if risk[d] >= threshold}
    assert set(table["district_id"]) == expected
    assert 0 < len(expected) < 3
    assert (table["risk"] >= threshold).all()


def test_benefit_interval_always_holds_the_main_models_estimate() -> None:
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"a": rng.random(40), "b": rng.random(40)})
    keys = pd.DataFrame({"district_id": [f"d{i}" for i in range(40)], "period": 2020})
    # the main model (first) has the strongest effect: an extreme of the ensemble
    models = [LinearRisk({"a": w, "b": 0.5}) for w in (3.0, 0.2, 1.0, 0.7, 1.9, 0.1)]
    shap = pd.DataFrame({"a": np.ones(40), "b": np.ones(40)})
    programs = ProgramCatalog(programs={"p": ProgramSpec(shift={"a": -0.3}, cost_per_district=1)})
    bounds = X.agg(["min", "max"])
    out = program_benefits(models, X, keys, shap, programs, bounds)
    assert (out["reduction_low"] <= out["reduction"]).all()
    assert (out["reduction"] <= out["reduction_high"]).all()


# --- bundles: several programs per district, valued jointly ---------------------------------

SCHOOL = ProgramSpec(shift={"literacy": 0.3}, cost_per_district=1.0)


def bundle_table(models, max_programs: int = 2) -> pd.DataFrame:
    catalog = ProgramCatalog(programs={"cash": CASH, "school": SCHOOL})
    return program_benefits(models, PANEL, KEYS, SHAP, catalog, BOUNDS, max_programs=max_programs)


def test_bundle_rows_hold_the_joint_counterfactual_where_every_program_is_a_candidate():
    table = bundle_table([RISK_MODEL])
    bundle = table[table["program"] == "cash+school"]
    # candidates: cash where poverty's SHAP > 0 (d2, d3, d4), school where literacy's (d1, d3, d4)
    assert bundle["district_id"].tolist() == ["d3", "d4"]
    at = [KEYS["district_id"].tolist().index(d) for d in bundle["district_id"]]
    both = apply_program(apply_program(PANEL, CASH, BOUNDS), SCHOOL, BOUNDS)
    joint = RISK_MODEL.predict_proba(PANEL)[:, 1] - RISK_MODEL.predict_proba(both)[:, 1]
    np.testing.assert_allclose(bundle["reduction"], joint[at])
    assert (bundle["cost"] == 2.5).all()
    assert bundle["programs"].tolist() == [("cash", "school")] * 2
    assert np.allclose([sum(s) for s in bundle["shares"]], 1.0)
    single = table[table["program"] != "cash+school"]
    assert single["programs"].map(len).eq(1).all()
    assert len(bundle_table([RISK_MODEL], max_programs=1)) == len(single)  # no bundles


def test_bundle_split_gives_each_program_its_cost_and_a_share_summing_to_the_joint_figures():
    table = bundle_table([RISK_MODEL, LinearRisk({"poverty": 3.0, "literacy": -1.0})])
    chosen = table[table["program"] == "cash+school"].head(1)
    rows = split_bundles(chosen, ProgramCatalog(programs={"cash": CASH, "school": SCHOOL}))
    assert rows["program"].tolist() == ["cash", "school"]
    assert rows["bundle"].tolist() == ["cash+school"] * 2
    assert rows["cost"].tolist() == [1.5, 1.0]
    for column in ("reduction", "reduction_low", "reduction_high"):
        assert rows[column].sum() == pytest.approx(chosen[column].iloc[0])
    assert (rows["risk_after"] == chosen["risk_after"].iloc[0]).all()
    assert "programs" not in rows and "shares" not in rows
    assert rows["assumed_effect"].tolist() == ["poverty -0.2", "literacy +0.3"]
    assert rows["note"].str.contains("not a causal estimate").all()


def test_a_saturating_model_values_a_bundle_below_the_sum_of_its_programs():
    # low risk (the convex part of the logistic): the second program lowers an already lowered
    # risk, so together they do less than the sum of each alone; adding would overstate
    low = LinearRisk({"poverty": 4.0, "literacy": -2.0}, bias=-4.0)
    table = bundle_table([low])
    rows = table[table["district_id"] == "d3"].set_index("program")["reduction"]  # both move
    assert 0 < rows["cash+school"] < rows["cash"] + rows["school"]


def test_program_names_may_not_contain_the_bundle_separator(tmp_path: Path):
    path = tmp_path / "programs.toml"
    path.write_text('[programs."cash+more"]\n' + GOOD_SHIFT + "cost_per_district = 1.0\n")
    with pytest.raises(CatalogError, match=r"programs\.cash\+more: '\+' joins programs"):
        load_programs(path, feature_catalog())


def test_a_pair_without_a_common_candidate_district_gives_no_bundle_rows():
    # school only where literacy pushes risk up (d1, d3, d4); picky cash only at risk >= 0.999
    picky = ProgramSpec(shift={"poverty": -0.2}, cost_per_district=1.5, min_risk=0.999)
    catalog = ProgramCatalog(programs={"cash": picky, "school": SCHOOL})
    table = program_benefits([RISK_MODEL], PANEL, KEYS, SHAP, catalog, BOUNDS, max_programs=2)
    assert set(table["program"]) == {"school"}  # no crash scoring an empty set of districts
