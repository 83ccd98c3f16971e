"""Cross-border neighbours and split spatial lags: polygon sets of two "sources" that do not
share the border exactly, within- vs cross-border lags, and the opt-in config key."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from shapely.geometry import box

from experiments.config import DataSection, load_config
from experiments.data import load_inputs
from experiments.prepare import prepare
from features.build import XBORDER_SPECS, build_features, history_specs
from features.catalog import parse_catalog
from features.errors import DataContractError
from features.spatial import (
    border_adjacency,
    border_distance_km,
    queen_adjacency,
    split_by_country,
)

KM = 1 / 111.0  # about a kilometre in degrees near the equator (what the tests need)
XBORDER = set(XBORDER_SPECS)


def two_sources() -> gpd.GeoDataFrame:
    """West: W1 | W2 share an edge exactly (one source). East: E1 | E2 (another source) lie
    east of W2 with a 2 km gap along the border, E2 slightly overlapping E1's north."""
    return gpd.GeoDataFrame(
        {
            "district_id": ["W1", "W2", "E1", "E2"],
            "country": ["West", "West", "East", "East"],
        },
        geometry=[
            box(0.0, 0.0, 0.5, 0.5),
            box(0.5, 0.0, 1.0, 0.5),
            box(1.0 + 2 * KM, 0.0, 1.5, 0.25),
            box(1.0 + 2 * KM, 0.25, 1.5, 0.5),
        ],
        crs=4326,
    )


def country_of(geo: gpd.GeoDataFrame) -> pd.Series:
    return geo.set_index("district_id")["country"]


IDS = pd.Index(["E1", "E2", "W1", "W2"])


def pairs(matrix: sparse.csr_matrix, ids: pd.Index = IDS) -> set[tuple[str, str]]:
    rows, cols = matrix.nonzero()
    return {(ids[i], ids[j]) for i, j in zip(rows, cols, strict=True) if i < j}


def test_districts_facing_each_other_across_a_gap_are_neighbours_within_the_tolerance() -> None:
    geo = two_sources()
    assert pairs(queen_adjacency(geo, IDS)) == {("E1", "E2"), ("W1", "W2")}  # gap: no link
    across = border_adjacency(geo, IDS, country_of(geo), tolerance_km=5.0)
    assert pairs(across) == {("E1", "W2"), ("E2", "W2")}
    assert (across != across.T).nnz == 0
    assert pairs(border_adjacency(geo, IDS, country_of(geo), tolerance_km=1.0)) == set()


def test_cross_border_pairs_never_join_districts_of_one_country() -> None:
    geo = two_sources().assign(country="West")  # one country: no pair at any tolerance
    assert border_adjacency(geo, IDS, country_of(geo), tolerance_km=500.0).nnz == 0


def test_split_by_country_partitions_an_adjacency() -> None:
    geo = two_sources()
    full = queen_adjacency(geo, IDS, tolerance=3 * KM)  # degrees: closes the gap
    within, cross = split_by_country(full, IDS, country_of(geo))
    assert pairs(within) == {("E1", "E2"), ("W1", "W2")}
    assert pairs(cross) == {("E1", "W2"), ("E2", "W2")}
    assert ((within + cross) != (full > 0)).nnz == 0


def test_a_district_without_a_country_label_is_refused() -> None:
    geo = two_sources()
    with pytest.raises(DataContractError, match="no country label"):
        border_adjacency(geo, IDS, country_of(geo).drop("E2"), 5.0)


def test_border_distance_is_measured_in_km_from_the_centroid() -> None:
    geo = two_sources()
    distance = border_distance_km(geo, country_of(geo))
    # W2's centroid lies 0.25 degrees (27.8 km) west of its own edge, plus the 2 km gap
    assert distance["W2"] == pytest.approx(0.25 * 111.3 + 2, rel=0.02)
    assert distance["W1"] > distance["W2"]
    assert border_distance_km(geo, country_of(geo.assign(country="West"))).isna().all()


CATALOG = parse_catalog({"features": {"poverty": {"domain": "socio-economic"}}})


def panel(ids: pd.Index = IDS, periods: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "district_id": np.repeat(list(ids), periods),
            "period": np.tile(np.arange(2000, 2000 + periods), len(ids)),
        }
    )
    frame["country"] = frame["district_id"].str[0].map({"E": "East", "W": "West"})
    frame["incidents"] = rng.poisson(1.0, len(frame))
    frame["poverty"] = rng.uniform(0, 1, len(frame))
    return frame


def test_split_lags_average_own_country_and_cross_border_neighbours_apart() -> None:
    geo = two_sources()
    within, _ = split_by_country(queen_adjacency(geo, IDS), IDS, country_of(geo))
    cross = border_adjacency(geo, IDS, country_of(geo), 5.0)
    frame, catalog = build_features(panel(), CATALOG, within, IDS, 1, cross_border=cross)
    assert XBORDER <= set(catalog.features) and XBORDER <= set(frame.columns)
    logs = frame.pivot(index="period", columns="district_id", values="hist_incidents")
    at = frame.set_index(["period", "district_id"])
    # W2: within-country neighbour W1, cross-border neighbours E1 and E2
    assert np.allclose(at.xs("W2", level=1)["hist_spatial"], logs["W1"])
    assert np.allclose(at.xs("W2", level=1)["hist_spatial_xborder"], (logs["E1"] + logs["E2"]) / 2)
    # W1 has no cross-border neighbour: its cross-border lags are 0
    assert (at.xs("W1", level=1)[list(XBORDER)] == 0).all().all()


def test_without_cross_border_pairs_the_features_stay_exactly_as_before() -> None:
    geo = two_sources()
    adjacency = queen_adjacency(geo, IDS, tolerance=3 * KM)
    before, catalog = build_features(panel(), CATALOG, adjacency, IDS, 1)
    empty = sparse.csr_matrix((len(IDS), len(IDS)))
    after, same = build_features(panel(), CATALOG, adjacency, IDS, 1, cross_border=empty)
    pd.testing.assert_frame_equal(before, after)
    assert same == catalog and not XBORDER & set(same.features)
    assert set(history_specs(True)) == set(history_specs(True, cross_border=True)) - XBORDER


def write_inputs(tmp_path: Path, geo: gpd.GeoDataFrame, frame: pd.DataFrame) -> list[str]:
    frame.to_csv(tmp_path / "panel.csv", index=False)
    geo[["district_id", "geometry"]].to_file(tmp_path / "districts.geojson", driver="GeoJSON")
    (tmp_path / "catalog.toml").write_text(
        '[features.poverty]\ndomain = "socio-economic"\n', encoding="utf-8"
    )
    return [
        f"data.panel={tmp_path / 'panel.csv'}",
        f"data.catalog={tmp_path / 'catalog.toml'}",
        f"data.geometry={tmp_path / 'districts.geojson'}",
        "split.n_folds=2",
        "split.min_train_periods=3",
    ]


def test_the_split_is_opt_in_and_reaches_the_model_features(tmp_path: Path) -> None:
    assert DataSection().cross_border_lags is False
    sets = write_inputs(tmp_path, two_sources(), panel())
    plain = prepare(config := load_config(None, sets), load_inputs(config))
    assert plain.inputs.cross_border is None and not XBORDER & set(plain.features)
    split_config = load_config(None, [*sets, "data.cross_border_lags=true"])
    split = prepare(split_config, load_inputs(split_config))
    assert pairs(split.inputs.cross_border) == {("E1", "W2"), ("E2", "W2")}
    assert pairs(split.inputs.adjacency) == {("E1", "E2"), ("W1", "W2")}
    assert XBORDER <= set(split.features)
    assert split.features[: len(plain.features)] == plain.features


def test_a_single_country_panel_keeps_its_features_with_the_split_on(tmp_path: Path) -> None:
    geo = two_sources()
    one = panel().assign(country="West")
    sets = write_inputs(tmp_path, geo, one)
    plain = prepare(config := load_config(None, sets), load_inputs(config))
    on = load_config(None, [*sets, "data.cross_border_lags=true"])
    split = prepare(on, load_inputs(on))
    assert split.inputs.cross_border is None and split.features == plain.features
    pd.testing.assert_frame_equal(split.frame, plain.frame)


def test_the_split_needs_a_country_column(tmp_path: Path) -> None:
    sets = write_inputs(tmp_path, two_sources(), panel().drop(columns="country"))
    config = load_config(None, [*sets, "data.cross_border_lags=true"])
    with pytest.raises(DataContractError, match="needs a 'country' column"):
        load_inputs(config)
