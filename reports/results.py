"""A results folder (what `train.py --output DIR` writes), loaded for reports.

Absent files load as None; only summary.json and forecast.csv are required.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features import labels as features_labels
from features.errors import RootcastError
from reports.contract import (
    CATALOG_FILE,
    GEOMETRY_FILE,
    PROGRAMS_FILE,
    RESULT_TABLES,
    SUMMARY_FILE,
    TABLES_BY_KEY,
    ResultContractError,
    RunSummary,
)

REQUIRED = (SUMMARY_FILE, TABLES_BY_KEY["forecast"].file)


class ReportError(RootcastError):
    """The results folder lacks what every report needs (summary.json, forecast.csv)."""


@dataclass
class Results:
    """A results folder, loaded: `district_id` and `period` are text in every table."""

    folder: Path
    summary: RunSummary
    tables: dict[str, pd.DataFrame | None]
    catalog: dict[str, dict] = field(default_factory=dict)
    geometry: object | None = None
    programs: tuple[str, dict] = ("", {})  # (file name, programs) the plan was made under

    def __getattr__(self, name: str) -> pd.DataFrame | None:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)


def _read(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:  # keys as written: `NA` is a district id; only empty cells are missing
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    for key in ("district_id", "period"):
        if key in frame.columns:
            frame[key] = frame[key].astype(str)
    return frame


def _programs(folder: Path) -> tuple[str, dict]:
    """The program catalog the run's plan was made under (programs.toml beside the results);
    ("", {}) when the run made no plan."""
    path = folder / PROGRAMS_FILE
    if not path.exists():
        return "", {}
    return path.name, tomllib.loads(path.read_text(encoding="utf-8")).get("programs", {})


def load_results(folder: Path) -> Results:
    """Read every result file that exists. Raises ReportError without summary or forecast,
    or when summary.json breaks the results contract."""
    missing = [n for n in REQUIRED if not (folder / n).exists()]
    if missing:
        raise ReportError(f"{folder}: no {', '.join(missing)}; is it a `train.py --output` dir?")
    summary_path = folder / SUMMARY_FILE
    try:
        summary = RunSummary.from_dict(
            json.loads(summary_path.read_text(encoding="utf-8")), str(summary_path)
        )
    except (json.JSONDecodeError, ResultContractError) as exc:
        raise ReportError(f"{summary_path}: not a run summary ({exc})") from None
    res = Results(
        folder=folder,
        summary=summary,
        tables={t.key: _read(folder / t.file) for t in RESULT_TABLES},
        programs=_programs(folder),
    )
    if (folder / CATALOG_FILE).exists():
        res.catalog = json.loads((folder / CATALOG_FILE).read_text(encoding="utf-8"))["features"]
    if (folder / GEOMETRY_FILE).exists():
        import geopandas as gpd  # only reports with polygons pay for it

        res.geometry = gpd.read_file(folder / GEOMETRY_FILE).astype({"district_id": str})
    return res


def district_labels(res: Results) -> pd.DataFrame:
    """district_id -> name, admin1, country (from the panel's latest rows; ids otherwise)."""
    labels = features_labels.district_labels(res.panel, res.forecast["district_id"])
    return labels.rename(columns={"district_name": "name"})
