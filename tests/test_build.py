"""Feature building (features/build.py): history, spatial lags, target and no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from features.build import TARGET, add_target, build_features, history_specs
from features.catalog import FeatureSpec, parse_catalog
from features.errors import CatalogError

LN2, LN3, LN4 = np.log(2.0), np.log(3.0), np.log(4.0)
LINE = sparse.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))  # A-B-C


@pytest.fixture
def catalog():
    return parse_catalog(
        {
            "features": {
                "poverty": {"domain": "socio-economic", "actionable": True},
                "distance": {"domain": "geography"},
            }
        }
    )


def one_district(counts: list[int], start: int = 2000) -> pd.DataFrame:
    n = len(counts)
    return pd.DataFrame(
        {
            "district_id": ["A"] * n,
            "period": list(range(start, start + n)),
            "incidents": counts,
            "poverty": np.linspace(0.1, 0.9, n),
            "distance": 1.0,
        }
    )


def panel_of(counts: dict[str, list[int]], start: int = 2000) -> pd.DataFrame:
    return pd.concat(
        [one_district(c, start).assign(district_id=d) for d, c in counts.items()],
        ignore_index=True,
    )


def random_panel(seed: int = 0, n_districts: int = 8, n_periods: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"D{i:02d}" for i in range(n_districts)]
    frame = pd.DataFrame(
        {
            "district_id": np.repeat(ids, n_periods),
            "period": np.tile(np.arange(2000, 2000 + n_periods), n_districts),
        }
    )
    frame["incidents"] = rng.poisson(0.8, len(frame))
    frame["poverty"] = rng.uniform(0, 1, len(frame))
    frame["distance"] = rng.gamma(2.0, 10.0, len(frame))
    return frame


def random_adjacency(n: int, seed: int = 1) -> sparse.csr_matrix:
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.uniform(size=(n, n)) < 0.4, k=1)
    return sparse.csr_matrix((upper | upper.T).astype(float))


def column(frame: pd.DataFrame, name: str, district: str = "A") -> np.ndarray:
    rows = frame[frame["district_id"] == district].sort_values("period")
    return rows[name].to_numpy()


# --- target -----------------------------------------------------------------------------------


@pytest.mark.parametrize("horizon", [1, 2])
def test_target_is_any_incident_horizon_periods_ahead(catalog, horizon):
    counts = [0, 3, 0, 1, 0, 0, 2]
    frame, _ = build_features(one_district(counts), catalog, horizon=horizon)
    expected = [float(c >= 1) for c in counts[horizon:]]
    np.testing.assert_array_equal(column(frame, TARGET)[:-horizon], expected)


@pytest.mark.parametrize("horizon", [1, 2])
def test_target_is_nan_for_the_last_horizon_periods(catalog, horizon):
    frame, _ = build_features(one_district([1, 0, 2, 1, 1]), catalog, horizon=horizon)
    target = column(frame, TARGET)
    assert np.isnan(target[-horizon:]).all() and not np.isnan(target[:-horizon]).any()


def test_add_target_refuses_horizon_below_one():
    with pytest.raises(ValueError, match="horizon"):
        add_target(one_district([1, 0]), horizon=0)


@pytest.mark.parametrize("horizon", [1, 2])
def test_target_of_period_t_depends_only_on_period_t_plus_horizon(catalog, horizon):
    panel = random_panel(seed=3)
    base, _ = build_features(panel, catalog, horizon=horizon)
    for s in range(2003, 2012):
        flipped = panel.copy()
        at_s = flipped["period"] == s
        flipped.loc[at_s, "incidents"] = np.where(flipped.loc[at_s, "incidents"] > 0, 0, 2)
        rebuilt, _ = build_features(flipped, catalog, horizon=horizon)
        changed = base[TARGET].fillna(-1) != rebuilt[TARGET].fillna(-1)
        assert set(base.loc[changed, "period"]) == {s - horizon}, f"flipped period {s}"


# --- conflict history -------------------------------------------------------------------------


def test_hist_decay_is_log_counts_plus_half_the_previous_value(catalog):
    frame, _ = build_features(one_district([1, 0, 3, 0]), catalog)
    # log1p counts: ln2, 0, ln4, 0; d_t = x_t + 0.5 d_{t-1}
    expected = [LN2, 0.5 * LN2, LN4 + 0.25 * LN2, 0.5 * LN4 + 0.125 * LN2]
    np.testing.assert_allclose(column(frame, "hist_decay"), expected)


def test_hist_decay_runs_across_a_year_boundary_of_month_periods(catalog):
    panel = one_district([1, 0, 0]).assign(period=["2020-11", "2020-12", "2021-01"])
    frame, _ = build_features(panel, catalog)
    np.testing.assert_allclose(column(frame, "hist_decay"), [LN2, 0.5 * LN2, 0.25 * LN2])


def test_hist_incidents_is_log1p_of_the_periods_count(catalog):
    frame, _ = build_features(one_district([0, 2, 3]), catalog)
    np.testing.assert_allclose(column(frame, "hist_incidents"), [0.0, LN3, LN4])


def test_hist_any_marks_periods_with_an_incident(catalog):
    frame, _ = build_features(one_district([0, 2, 0, 1]), catalog)
    np.testing.assert_array_equal(column(frame, "hist_any"), [0.0, 1.0, 0.0, 1.0])


def test_hist_years_since_counts_periods_since_the_last_incident(catalog):
    frame, _ = build_features(one_district([0, 2, 0, 0, 1, 0]), catalog)
    # no incident yet: capped at 10
    np.testing.assert_array_equal(column(frame, "hist_years_since"), [10, 0, 1, 2, 0, 1])


def test_hist_years_since_is_capped_at_ten(catalog):
    frame, _ = build_features(one_district([1] + [0] * 12), catalog)
    assert column(frame, "hist_years_since")[-1] == 10


def test_hist_rate_shrinks_district_share_toward_regional_share(catalog):
    frame, _ = build_features(panel_of({"A": [1, 0], "B": [0, 0]}), catalog)
    # t0: regional 1/2 -> A (1 + 2·½)/(1 + 2) = 2/3, B (0 + 1)/3 = 1/3
    # t1: regional 1/4 -> A (1 + 2·¼)/(2 + 2) = 3/8, B (0 + ½)/4 = 1/8
    np.testing.assert_allclose(column(frame, "hist_rate", "A"), [2 / 3, 3 / 8])
    np.testing.assert_allclose(column(frame, "hist_rate", "B"), [1 / 3, 1 / 8])


def test_hist_rate_stays_strictly_between_zero_and_one(catalog):
    panel = random_panel(seed=5)
    panel.loc[panel["district_id"] == "D00", "incidents"] = 4  # always active
    panel.loc[panel["district_id"] == "D01", "incidents"] = 0  # never active
    frame, _ = build_features(panel, catalog)
    assert frame["hist_rate"].between(0, 1, inclusive="neither").all()


# --- spatial lags -----------------------------------------------------------------------------


def test_spatial_lag_is_mean_of_neighbours_log_counts(catalog):
    panel = panel_of({"A": [1, 0], "B": [3, 2], "C": [0, 1]})
    frame, _ = build_features(panel, catalog, LINE, pd.Index(["A", "B", "C"]))
    np.testing.assert_allclose(column(frame, "hist_spatial", "A"), [LN4, LN3])
    np.testing.assert_allclose(column(frame, "hist_spatial", "B"), [LN2 / 2, LN2 / 2])
    np.testing.assert_allclose(column(frame, "hist_spatial", "C"), [LN4, LN3])


def test_spatial_lag_follows_the_order_of_district_ids(catalog):
    panel = panel_of({"A": [1, 0], "B": [3, 2], "C": [0, 1]})
    order = pd.Index(["B", "A", "C"])  # the same A-B-C line, rows in this order
    adjacency = sparse.csr_matrix(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=float))
    frame, _ = build_features(panel, catalog, adjacency, order)
    np.testing.assert_allclose(column(frame, "hist_spatial", "B"), [LN2 / 2, LN2 / 2])
    np.testing.assert_allclose(column(frame, "hist_spatial", "A"), [LN4, LN3])


def test_spatial_decay_is_mean_of_neighbours_decayed_history(catalog):
    panel = panel_of({"A": [1, 0], "B": [3, 2], "C": [0, 1]})
    frame, _ = build_features(panel, catalog, LINE, pd.Index(["A", "B", "C"]))
    # A: d = [ln2, ln2/2]; C: d = [0, ln2] -> B's lag = [ln2/2, 3 ln2/4]
    np.testing.assert_allclose(column(frame, "hist_spatial_decay", "B"), [LN2 / 2, 0.75 * LN2])


def test_spatial_lag_defaults_to_sorted_district_order(catalog):
    panel = panel_of({"A": [1, 0], "B": [3, 2], "C": [0, 1]})
    frame, _ = build_features(panel, catalog, LINE)
    np.testing.assert_allclose(column(frame, "hist_spatial", "A"), [LN4, LN3])


# --- no leakage -------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [2002, 2005, 2008, 2010])
def test_features_of_period_t_ignore_everything_after_t(catalog, t):
    panel = random_panel(seed=11)
    ids = pd.Index(sorted(panel["district_id"].unique()))
    adjacency = random_adjacency(len(ids))
    base, _ = build_features(panel, catalog, adjacency, ids)

    rng = np.random.default_rng(t)
    future = panel["period"] > t
    perturbed = panel.copy()
    perturbed.loc[future, "incidents"] = rng.poisson(3.0, future.sum())
    perturbed.loc[future, "poverty"] = rng.uniform(0, 1, future.sum())
    perturbed.loc[future, "distance"] = rng.gamma(2.0, 10.0, future.sum())
    rebuilt, _ = build_features(perturbed, catalog, adjacency, ids)

    past = base["period"] <= t
    assert (base.loc[~past, "incidents"] != rebuilt.loc[~past, "incidents"]).any()  # precondition
    features = [c for c in base.columns if c != TARGET]
    pd.testing.assert_frame_equal(base.loc[past, features], rebuilt.loc[past, features])


# --- returned catalog -------------------------------------------------------------------------


def test_returned_catalog_declares_history_features_as_non_actionable_conflict_history(catalog):
    panel = panel_of({"A": [1, 0], "B": [3, 2], "C": [0, 1]})
    frame, extended = build_features(panel, catalog, LINE, pd.Index(["A", "B", "C"]))
    derived = {n: s for n, s in extended.features.items() if n not in catalog.features}
    assert set(derived) == set(history_specs(with_spatial=True))
    assert all(s.domain == "conflict history" and not s.actionable for s in derived.values())


def test_every_catalog_feature_is_a_frame_column(catalog):
    panel = panel_of({"A": [1, 0], "B": [3, 2], "C": [0, 1]})
    frame, extended = build_features(panel, catalog, LINE, pd.Index(["A", "B", "C"]))
    assert set(extended.model_features) <= set(frame.columns)


def test_without_adjacency_no_spatial_features_are_added(catalog):
    frame, extended = build_features(one_district([1, 0, 2]), catalog)
    assert "hist_spatial" not in frame.columns and "hist_spatial" not in extended.features


def test_catalog_declaring_a_derived_name_is_refused(catalog):
    clashing = catalog.with_features({"hist_decay": FeatureSpec(domain="conflict history")})
    panel = one_district([1, 0, 2]).assign(hist_decay=0.0)
    with pytest.raises(CatalogError, match="hist_decay"):
        build_features(panel, clashing)


def test_build_does_not_modify_the_input_panel(catalog):
    panel = random_panel(seed=2)
    before = panel.copy()
    build_features(panel, catalog)
    pd.testing.assert_frame_equal(panel, before)


def test_spatial_lags_refuse_a_district_without_an_adjacency_row() -> None:
    from scipy import sparse

    from features.errors import DataContractError

    rows = [
        {"district_id": d, "period": 2000 + t, "incidents": t % 2, "x": 0.0}
        for d in ("A", "B", "C")
        for t in range(3)
    ]
    panel = pd.DataFrame(rows)
    catalog = parse_catalog({"features": {"x": {"domain": "geography"}}})
    adjacency = sparse.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(DataContractError, match="C"):
        build_features(panel, catalog, adjacency, pd.Index(["A", "B"]))
