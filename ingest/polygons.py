"""Readers of district polygons (OCHA COD-AB, geoBoundaries): lon/lat, keyed by district_id."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

from features.errors import DataContractError


def read_adm2_polygons(
    path: str | Path,
    id_column: str = "ADM2_PCODE",
    name_column: str = "ADM2_EN",
    admin1_column: str | None = "ADM1_EN",
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """District polygons (lon/lat) -> (district_id, district_name, admin1, geometry), and the
    names of features without an id (left out; e.g. OCHA's disputed 'Jammu & Kashmir').

    Invalid polygons are repaired with `make_valid`; duplicate ids raise. Without an
    `admin1_column` (geoBoundaries ADM2 files carry none) `admin1` is empty.
    """
    path = Path(path)
    if not path.is_file():
        raise DataContractError(f"{path}: geometry file not found")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
        raise DataContractError(f"{path}: cannot be read as geometry ({exc})") from None
    wanted = [c for c in (id_column, name_column, admin1_column) if c is not None]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataContractError(f"{path}: column(s) {missing} not found")
    frame = frame.set_crs(4326) if frame.crs is None else frame.to_crs(4326)
    no_id = frame[id_column].isna() | (frame[id_column].astype(str).str.strip() == "")
    excluded = frame.loc[no_id, name_column].astype(str).tolist()
    frame = frame.loc[~no_id]
    ids = frame[id_column].astype(str).str.strip()
    if ids.duplicated().any():
        raise DataContractError(
            f"{path}: column '{id_column}' repeats ids {sorted(set(ids[ids.duplicated()]))[:5]}"
        )
    out = gpd.GeoDataFrame(
        {
            "district_id": ids.to_numpy(),
            "district_name": frame[name_column].astype(str).str.strip().to_numpy(),
            "admin1": (
                frame[admin1_column].astype(str).str.strip().to_numpy() if admin1_column else ""
            ),
        },
        geometry=shapely.make_valid(frame.geometry.to_numpy()),
        crs=4326,
    )
    return out.sort_values("district_id").reset_index(drop=True), excluded
