"""File I/O for inputs: the only module that reads panels and geometry from disk."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from features.errors import DataContractError

PANEL_SUFFIXES = {".csv", ".parquet", ".pq"}
GEOMETRY_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp"}


def read_panel(path: str | Path) -> pd.DataFrame:
    """Read a panel from CSV or Parquet as it is; validation is `features.schema`'s job."""
    path = Path(path)
    if not path.is_file():
        raise DataContractError(f"{path}: panel file not found")
    suffix = path.suffix.lower()
    if suffix not in PANEL_SUFFIXES:
        raise DataContractError(f"{path}: panel must be .csv or .parquet, not '{suffix}'")
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype={"district_id": str, "period": str})
        return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataContractError(f"{path}: cannot be read as {suffix[1:]} ({exc})") from None


def read_geometry(path: str | Path, id_column: str = "district_id") -> gpd.GeoDataFrame:
    """Read district polygons (GeoJSON, GeoPackage, Shapefile) keyed by `id_column`.

    Returns a GeoDataFrame with columns `district_id` and `geometry`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataContractError(f"{path}: geometry file not found")
    if path.suffix.lower() not in GEOMETRY_SUFFIXES:
        raise DataContractError(f"{path}: geometry must be GeoJSON, GeoPackage or Shapefile")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
        raise DataContractError(f"{path}: cannot be read as geometry ({exc})") from None
    if id_column not in frame.columns:
        raise DataContractError(
            f"{path}: column '{id_column}' not found; columns are {list(frame.columns)}"
        )
    frame = frame.rename(columns={id_column: "district_id"})[["district_id", "geometry"]]
    return frame.assign(district_id=frame["district_id"].astype(str))
