"""The synthetic region: determinism, data contract, geometry and the known ground truth."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import roc_auc_score

from features import synthetic, synthetic_covariates
from features.synthetic import COVARIATES, DRIVERS, HISTORY, PROTECTED, generate_region

CATALOG = Path(synthetic.__file__).parent / "catalogs" / "synthetic.toml"
SMALL = {"n_districts": 100, "n_periods": 10, "n_countries": 3}
STRUCTURAL_DEMOGRAPHY = {"population_density", "youth_bulge", "minority_share"}
LABELS = ["district_id", "period", "country", "admin1", "district_name", "incidents"]


@pytest.fixture(scope="module")
def region() -> synthetic.SyntheticRegion:
    return generate_region(**SMALL, seed=3)


def test_same_seed_gives_identical_output(region):
    again = generate_region(**SMALL, seed=3)
    pd.testing.assert_frame_equal(region.panel, again.panel)
    pd.testing.assert_frame_equal(region.oracle, again.oracle)
    pd.testing.assert_frame_equal(region.contributions, again.contributions)
    assert region.geometry.geom_equals_exact(again.geometry, tolerance=0).all()
    assert (region.adjacency != again.adjacency).nnz == 0


def test_different_seed_gives_different_output(region):
    other = generate_region(**SMALL, seed=4)
    assert not region.panel["incidents"].equals(other.panel["incidents"])
    assert not np.allclose(region.panel["poverty"], other.panel["poverty"])


def test_panel_columns_and_types(region):
    panel = region.panel
    assert list(panel.columns) == LABELS + list(COVARIATES)
    assert panel["period"].dtype == np.int64
    assert panel["incidents"].dtype == np.int64
    assert (panel["incidents"] >= 0).all()
    for column in COVARIATES:
        assert panel[column].dtype == np.float64
        assert np.isfinite(panel[column]).all(), column
    assert not any(c.startswith("hist") for c in panel.columns)  # history is derived later


def test_keys_unique_and_complete(region):
    panel = region.panel
    assert not panel.duplicated(["district_id", "period"]).any()
    assert panel["district_id"].nunique() == SMALL["n_districts"]
    assert sorted(panel["period"].unique()) == list(range(2005, 2005 + SMALL["n_periods"]))
    assert len(panel) == SMALL["n_districts"] * SMALL["n_periods"]
    assert panel["country"].nunique() == SMALL["n_countries"]
    assert (panel.groupby("district_id")[["country", "admin1"]].nunique() == 1).all().all()
    keys = ["district_id", "period"]
    for frame in (region.oracle, region.contributions):
        pd.testing.assert_frame_equal(frame[keys], panel[keys])


def test_shares_in_unit_interval(region):
    shares = [
        "poverty",
        "youth_unemployment",
        "school_enrolment",
        "literacy",
        "health_access",
        "electricity_access",
        "governance_quality",
        "corruption",
        "state_presence",
        "youth_bulge",
        "terrain_ruggedness",
        "minority_share",
    ]
    values = region.panel[shares]
    assert ((values >= 0) & (values <= 1)).all().all()
    assert (region.panel[["displacement", "distance_to_border_km"]] >= 0).all().all()


def test_incident_rate_in_sane_band(region):
    rate = (region.panel["incidents"] >= 1).mean()
    assert 0.03 <= rate <= 0.30


def test_covariates_persist_over_time(region):
    wide = region.panel.pivot(index="district_id", columns="period", values="poverty")
    assert wide.iloc[:, 3].corr(wide.iloc[:, 4]) > 0.5  # slow change from year to year
    assert not np.allclose(wide.iloc[:, 3], wide.iloc[:, 4])  # but it changes


def test_contributions_sum_to_eta_and_give_oracle(region):
    terms = region.contributions.drop(columns=["district_id", "period"])
    assert list(terms.columns) == ["intercept", *DRIVERS, *HISTORY]
    eta = terms.sum(axis=1).to_numpy()
    np.testing.assert_allclose(eta, region.oracle["eta"], rtol=0, atol=1e-10)
    expected = 1.0 - np.exp(-np.exp(eta))  # Poisson: P(count >= 1)
    np.testing.assert_allclose(region.oracle["oracle_prob"], expected, rtol=1e-12, atol=1e-12)
    assert region.oracle["oracle_prob"].between(0, 1).all()
    assert region.oracle["oracle_prob"].notna().all()  # defined for the last period too


def test_decoys_have_no_effect_and_drivers_do(region):
    terms = region.contributions
    assert (terms[["literacy", "electricity_access", "health_access"]] == 0).all().all()
    for name in ["poverty", "youth_unemployment", "state_presence", "displacement"]:
        assert terms[name].std() > 0.05, name
    assert set(region.effects) == set(DRIVERS) | set(HISTORY)


def test_history_terms_use_the_feature_builders_definitions(region):
    panel = region.panel
    logs = np.log1p(panel.pivot(index="district_id", columns="period", values="incidents"))
    ids = region.geometry["district_id"]
    logs = logs.reindex(ids).to_numpy()
    decay = np.zeros_like(logs)
    for t in range(logs.shape[1]):
        decay[:, t] = logs[:, t] + (0.5 * decay[:, t - 1] if t else 0.0)
    degree = np.asarray(region.adjacency.sum(axis=1)).ravel()
    spatial = (region.adjacency @ logs) / degree[:, None]
    covariates = {name: np.zeros(decay.size) for name in DRIVERS}
    terms = synthetic.structural_terms(covariates, decay.ravel(), spatial.ravel())
    got = region.contributions.set_index(["district_id", "period"])
    np.testing.assert_allclose(got["hist_decay"].to_numpy(), terms["hist_decay"], atol=1e-12)
    np.testing.assert_allclose(got["hist_spatial"].to_numpy(), terms["hist_spatial"], atol=1e-12)


def test_oracle_predicts_the_next_period(region):
    frame = region.panel[["district_id", "period", "incidents"]].assign(
        prob=region.oracle["oracle_prob"]
    )
    frame["next"] = frame.groupby("district_id")["incidents"].shift(-1)
    labelled = frame.dropna(subset=["next"])
    auc = roc_auc_score(labelled["next"] >= 1, labelled["prob"])
    assert auc > 0.75


def test_geometry_one_valid_polygon_per_district(region):
    geometry = region.geometry
    assert list(geometry.columns) == ["district_id", "geometry"]
    assert geometry["district_id"].is_unique
    assert list(geometry["district_id"]) == sorted(region.panel["district_id"].unique())
    assert (geometry.geom_type == "Polygon").all() and geometry.is_valid.all()
    bounds = geometry.total_bounds
    assert -180 <= bounds[0] < bounds[2] <= 180 and -90 <= bounds[1] < bounds[3] <= 90
    shapes = geometry.geometry.values
    union = shapely.area(shapely.union_all(shapes))
    assert union == pytest.approx(shapely.area(shapes).sum(), rel=1e-9)  # a tiling: no overlaps


def test_adjacency_is_queen_contiguity(region):
    shapes = region.geometry.geometry.values
    left, right = region.geometry.sindex.query(shapes, predicate="intersects")
    keep = left != right
    touching = set(zip(left[keep], right[keep], strict=True))
    i, j = region.adjacency.nonzero()
    assert set(zip(i, j, strict=True)) == touching
    assert (region.adjacency != region.adjacency.T).nnz == 0
    edges = shapely.intersection(shapes[i], shapes[j])
    shared_edge = shapely.length(edges) > 0
    assert shared_edge.mean() > 0.4  # most neighbours share an edge, the rest a corner


def test_countries_and_provinces_contiguous_and_spillover_crosses_borders(region):
    labels = region.panel.drop_duplicates("district_id").set_index("district_id")
    labels = labels.reindex(region.geometry["district_id"])
    adjacency = region.adjacency
    for column in ("country", "admin1"):
        for name in labels[column].unique():
            inside = (labels[column] == name).to_numpy()
            count, _ = connected_components(adjacency[inside][:, inside], directed=False)
            assert count == 1, (column, name)
    i, j = adjacency.nonzero()
    country = labels["country"].to_numpy()
    assert (country[i] != country[j]).any()


def test_protected_column_correlated_but_without_effect(region):
    panel = region.panel
    assert set(PROTECTED) == {"minority_share"}
    correlations = panel[list(DRIVERS)].corrwith(panel["minority_share"]).abs()
    assert correlations.max() > 0.3
    assert "minority_share" not in region.contributions.columns
    assert "minority_share" not in region.drivers


def test_catalog_describes_every_covariate():
    catalog = tomllib.loads(CATALOG.read_text(encoding="utf-8"))["features"]
    assert list(catalog) == list(COVARIATES)
    domains = {
        "socio-economic",
        "governance",
        "demography",
        "geography",
        "service access",
        "conflict history",
    }
    programs = {"education", "livelihoods", "local governance", "basic services", "social cohesion"}
    for name, spec in catalog.items():
        assert spec["domain"] in domains, name
        assert set(spec.get("programs", [])) <= programs, name
        assert spec["description"] and spec["unit"] and spec["source"], name
        # a short plain name for reports; the unit goes beside it, not inside it
        assert spec["label"] and spec["unit"] not in spec["label"].lower(), name
        assert "_" not in spec["label"] and len(spec["label"]) <= 40, name
        if spec["domain"] == "geography" or name in STRUCTURAL_DEMOGRAPHY:
            assert spec["actionable"] is False, name
        if spec.get("actionable"):
            assert spec["programs"], name
    assert [n for n, s in catalog.items() if s.get("protected")] == list(PROTECTED)


def test_default_region_is_fast_and_sized():
    start = time.perf_counter()
    region = generate_region()
    assert time.perf_counter() - start < 3.0
    assert region.panel.shape[0] == 600 * 18
    assert region.panel["period"].min() == 2005 and region.panel["period"].max() == 2022


@pytest.mark.parametrize(
    "kwargs",
    [{"n_countries": 0}, {"n_periods": 0}, {"n_districts": 5}, {"confounding": 1.5}],
)
def test_rejects_impossible_arguments(kwargs):
    with pytest.raises(ValueError):
        generate_region(**kwargs)


def test_confounding_zero_is_the_region_without_it_and_leaves_the_truth_alone(region):
    same = generate_region(**SMALL, seed=3, confounding=0.0)
    pd.testing.assert_frame_equal(same.panel, region.panel)
    confounded = generate_region(**SMALL, seed=3, confounding=1.0)
    pd.testing.assert_frame_equal(
        confounded.geometry.drop(columns="geometry"), region.geometry.drop(columns="geometry")
    )
    moved = [c for c in COVARIATES if not np.allclose(confounded.panel[c], region.panel[c])]
    assert set(moved) == set(synthetic_covariates.CONFOUNDING_LOADINGS) | {"displacement"}
    # the structural model is unchanged: the truth is recomputed from the new covariates
    eta = confounded.contributions.drop(columns=["district_id", "period"]).sum(axis=1)
    np.testing.assert_allclose(eta, confounded.oracle["eta"])


def test_confounding_ties_actionable_covariates_to_non_actionable_drivers():
    def tie(strength: float) -> float:
        panel = generate_region(seed=7, confounding=strength).panel
        corr = panel[["poverty", "youth_unemployment", "school_enrolment", "youth_bulge"]].corr()
        return float(
            corr.loc[["poverty", "youth_unemployment", "school_enrolment"], "youth_bulge"]
            .abs()
            .mean()
        )

    assert tie(1.0) > tie(0.6) > tie(0.0) + 0.05
