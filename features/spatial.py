"""Adjacency between districts from their polygons (queen contiguity)."""

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
