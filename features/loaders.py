"""File I/O for inputs: the only module that reads panels and geometry from disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.errors import DataContractError

PANEL_SUFFIXES = {".csv", ".parquet", ".pq"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
GEOMETRY_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp"}
KEY_COLUMNS = ("district_id", "period")
AREAL = {"Polygon", "MultiPolygon"}
MAX_NAMED = 5


def read_panel(path: str | Path) -> pd.DataFrame:
    """Read a panel from CSV or Parquet as it is, or from a folder of Parquet files (e.g. one
    per year: read whole, files in name order); validation is `features.schema`'s job."""
    path = Path(path)
    if path.is_dir():
        return _read_parquet_folder(path)
    _check_file(path, "panel")
    suffix = path.suffix.lower()
    if suffix not in PANEL_SUFFIXES:
        raise DataContractError(f"{path}: panel must be .csv or .parquet, not '{suffix}'")
    try:
        if suffix == ".csv":
            return _read_csv(path)
        return pd.read_parquet(path)
    except Exception as exc:  # pandas and pyarrow raise many unrelated types for bad files
        raise DataContractError(f"{path}: cannot be read as {suffix[1:]} ({exc})") from None


def _read_parquet_folder(path: Path) -> pd.DataFrame:
    files = sorted(path.glob("*.parquet"))
    if not files:
        raise DataContractError(f"{path}: is a folder without .parquet files, not a panel")
    try:
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    except Exception as exc:  # pandas and pyarrow raise many unrelated types for bad files
        raise DataContractError(
            f"{path}: its Parquet files cannot be read as one panel ({exc})"
        ) from None


def parquet_files(path: str | Path) -> list[Path]:
    """The Parquet files of a panel given as one .parquet file or a folder of them (name
    order): what the dask backend reads, one partition per file."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.parquet"))
        if not files:
            raise DataContractError(f"{path}: is a folder without .parquet files, not a panel")
        return files
    _check_file(path, "panel")
    if path.suffix.lower() not in PARQUET_SUFFIXES:
        raise DataContractError(
            f"{path}: the dask backend reads Parquet (a file or a folder of them), not "
            f"'{path.suffix}'; write the panel as Parquet (pandas: DataFrame.to_parquet)"
        )
    return [path]


def parquet_rows(path: Path) -> int:
    """Rows of one Parquet file, from its footer."""
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise DataContractError(f"{path}: cannot be read as Parquet ({exc})") from None


def count_panel_rows(path: str | Path) -> int | None:
    """Rows of a Parquet panel from the files' footers (nothing else is read); None for a
    CSV (its rows are counted by reading it)."""
    path = Path(path)
    if not path.is_dir() and path.suffix.lower() not in PARQUET_SUFFIXES:
        return None
    return sum(parquet_rows(f) for f in parquet_files(path))


def parquet_columns(path: Path) -> list[str]:
    """Column names of a Parquet file, from its footer."""
    try:
        return list(pq.read_schema(path).names)
    except (OSError, pa.ArrowException) as exc:
        raise DataContractError(f"{path}: cannot be read as Parquet ({exc})") from None


def files_digest(paths: list[Path]) -> str:
    """Content hash (16 hex digits) of files' names and bytes."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:16]


def read_parquet_file(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """One Parquet file of a panel, all or some `columns`; errors name the file."""
    try:
        return pd.read_parquet(path, columns=columns)
    except Exception as exc:  # pandas and pyarrow raise many unrelated types for bad files
        raise DataContractError(f"{path}: cannot be read as parquet ({exc})") from None


def _check_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise DataContractError(f"{path}: is a folder, not a {what} file")
    if not path.is_file():
        raise DataContractError(f"{path}: {what} file not found")


def _read_csv(path: Path) -> pd.DataFrame:
    """Values as pandas reads them, except the keys: read as written, so `NA`, `None` or
    `nan` are district ids (Namibia's code), not missing; a blank key stays "" (refused)."""
    panel = pd.read_csv(path, dtype={k: str for k in KEY_COLUMNS})
    keys = [k for k in KEY_COLUMNS if k in panel.columns]
    if keys:
        raw = pd.read_csv(path, usecols=keys, dtype=str, keep_default_na=False)
        if len(raw) != len(panel):
            raise ValueError("rows differ between two reads of the file")
        raw.index = panel.index
        panel = panel.assign(**{k: raw[k] for k in keys})
    return panel


def read_geometry(path: str | Path, id_column: str = "district_id") -> gpd.GeoDataFrame:
    """Read district polygons (GeoJSON, GeoPackage, Shapefile) keyed by `id_column`.

    Returns a GeoDataFrame with columns `district_id` and `geometry`.
    """
    path = Path(path)
    _check_file(path, "geometry")
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
    frame = frame.reset_index(drop=True)
    ids = frame["district_id"]
    blank = frame.index[ids.isna() | (ids.astype(str).str.strip() == "")]
    if len(blank):
        raise DataContractError(
            f"{path}: column '{id_column}' is missing for feature(s) {_named(blank)} "
            "(counted from 0)"
        )
    shapes = frame.geometry
    empty = shapes.isna() | shapes.is_empty
    if empty.any():
        raise DataContractError(
            f"{path}: district(s) {_named(ids[empty])} have no polygon (null or empty "
            "geometry); give each district its polygon or drop the feature"
        )
    kind = shapes.geom_type
    if not kind.isin(AREAL).all():
        odd = ~kind.isin(AREAL)
        raise DataContractError(
            f"{path}: district(s) {_named(ids[odd])} are not polygons "
            f"({', '.join(sorted(set(kind[odd])))}); districts need Polygon or MultiPolygon"
        )
    return frame.assign(district_id=ids.astype(str))


def _named(values: pd.Index | pd.Series) -> str:
    values = list(values)
    more = f" and {len(values) - MAX_NAMED} more" if len(values) > MAX_NAMED else ""
    return ", ".join(map(str, values[:MAX_NAMED])) + more
