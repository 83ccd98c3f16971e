"""Adjacency between districts from their polygons: queen contiguity, cross-border neighbours
within a tolerance in km, the split into within-country and cross-border pairs, and the
distance to the border."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from features.errors import DataContractError


def queen_adjacency(
    geometry: gpd.GeoDataFrame, district_ids: pd.Index, tolerance: float = 0.0
) -> sparse.csr_matrix:
    """Binary adjacency (n × n, rows and columns ordered like `district_ids`).

    Two districts are neighbours when their polygons touch at an edge or a corner; `tolerance`
    (in the geometry's units) closes small gaps of simplified boundaries. Districts without a
    polygon raise DataContractError; polygons of unknown districts are ignored.
    """
    geo = geometry.drop_duplicates("district_id").set_index("district_id")
    missing = district_ids.difference(geo.index)
    if len(missing):
        raise DataContractError(
            f"geometry: no polygon for district(s) {list(missing[:5])}"
            f"{' and more' if len(missing) > 5 else ''}"
        )
    shapes = geo.geometry.reindex(district_ids)
    if tolerance > 0:
        with warnings.catch_warnings():
            # the tolerance is in the geometry's own units (degrees for lon/lat), by contract
            warnings.filterwarnings("ignore", "Geometry is in a geographic CRS", UserWarning)
            shapes = shapes.buffer(tolerance)
    left, right = shapes.sindex.query(shapes.values, predicate="intersects")
    keep = left != right
    n = len(district_ids)
    data = np.ones(int(keep.sum()), dtype=np.float64)
    matrix = sparse.csr_matrix((data, (left[keep], right[keep])), shape=(n, n))
    matrix.data[:] = 1.0
    return matrix


def projected(geometry: gpd.GeoDataFrame, crs: object | None = None) -> gpd.GeoDataFrame:
    """`geometry` in a metric CRS: `crs` if given, else the UTM zone of its centre."""
    if geometry.crs is None:
        raise DataContractError("geometry has no CRS: distances in km need one (lon/lat: 4326)")
    return geometry.to_crs(crs if crs is not None else geometry.estimate_utm_crs())


def _countries(country: pd.Series, district_ids: pd.Index) -> np.ndarray:
    """Country label of each district, in `district_ids` order; a missing one raises."""
    labels = country.reindex(district_ids)
    if labels.isna().any():
        missing = list(district_ids[labels.isna().to_numpy()][:5])
        raise DataContractError(f"no country label for district(s) {missing}")
    return labels.astype(str).to_numpy()


def border_adjacency(
    geometry: gpd.GeoDataFrame,
    district_ids: pd.Index,
    country: pd.Series,
    tolerance_km: float,
    crs: object | None = None,
) -> sparse.csr_matrix:
    """Binary adjacency of districts in DIFFERENT countries whose polygons lie within
    `tolerance_km` of each other, measured in a projected CRS (`crs`, else the data's UTM zone).

    Polygon sets of different sources rarely share the border line exactly: they overlap or
    leave gaps, so a tolerance links districts that face each other across it. `country` maps
    district_id -> label; rows and columns are ordered like `district_ids`.
    """
    labels = _countries(country, district_ids)
    geo = geometry.drop_duplicates("district_id").set_index("district_id")
    missing = district_ids.difference(geo.index)
    if len(missing):
        raise DataContractError(f"geometry: no polygon for district(s) {list(missing[:5])}")
    shapes = projected(geo.loc[district_ids].reset_index(), crs).geometry
    left, right = shapes.sindex.query(
        shapes.values, predicate="dwithin", distance=float(tolerance_km) * 1000.0
    )
    keep = labels[left] != labels[right]
    n = len(district_ids)
    data = np.ones(int(keep.sum()), dtype=np.float64)
    matrix = sparse.csr_matrix((data, (left[keep], right[keep])), shape=(n, n))
    matrix.data[:] = 1.0
    return matrix


def split_by_country(
    adjacency: sparse.csr_matrix, district_ids: pd.Index, country: pd.Series
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """(within-country, cross-border) parts of a binary adjacency: a pair is within when both
    districts carry the same country label, cross-border otherwise."""
    labels = _countries(country, district_ids)
    coo = sparse.coo_matrix(adjacency > 0)
    same = labels[coo.row] == labels[coo.col]
    n = len(district_ids)

    def part(mask: np.ndarray) -> sparse.csr_matrix:
        ones = np.ones(int(mask.sum()), dtype=np.float64)
        return sparse.csr_matrix((ones, (coo.row[mask], coo.col[mask])), shape=(n, n))

    return part(same), part(~same)


def border_distance_km(
    geometry: gpd.GeoDataFrame, country: pd.Series, crs: object | None = None
) -> pd.Series:
    """Distance (km) from each district's centroid to the nearest polygon of another country
    (index district_id); NaN where the geometry holds one country only."""
    geo = geometry.drop_duplicates("district_id").reset_index(drop=True)
    labels = _countries(country, pd.Index(geo["district_id"]))
    shapes = projected(geo, crs).geometry
    out = pd.Series(np.nan, index=pd.Index(geo["district_id"], name="district_id"))
    for label in np.unique(labels):
        others = shapes[labels != label]
        if len(others):
            mine = labels == label
            out.iloc[np.flatnonzero(mine)] = (
                shapes[mine].centroid.distance(others.union_all()).to_numpy() / 1000.0
            )
    return out.rename("border_distance_km")
