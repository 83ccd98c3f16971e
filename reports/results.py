"""A results folder (what `train.py --output DIR` writes), loaded for reports.

Absent files load as None; only summary.json and forecast.csv are required.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.build import PERIOD_INDEX, add_history_features
from features.errors import RootcastError
from features.schema import period_ordinal
from models.targeting import DEFAULT_PROGRAMS

TABLES = {
    "predictions": "predictions.parquet",
    "metrics": "metrics.csv",
    "forecast": "forecast.csv",
    "profiles": "district_profiles.csv",
    "drivers": "district_drivers.parquet",
    "shap_global": "shap_global.csv",
    "shap_domains": "shap_domains.csv",
    "stability": "shap_stability.csv",
    "interactions": "shap_interactions.csv",
    "plan": "plan.csv",
    "panel": "panel.parquet",
}


class ReportError(RootcastError):
    """The results folder lacks what every report needs (summary.json, forecast.csv)."""


@dataclass
class Results:
    """A results folder, loaded: `district_id` and `period` are text in every table."""

    folder: Path
    summary: dict
    tables: dict[str, pd.DataFrame | None]
    catalog: dict[str, dict] = field(default_factory=dict)
    geometry: object | None = None
    values: pd.DataFrame | None = None  # feature values per (district_id, period)
    programs: tuple[str, dict] = ("", {})

    def __getattr__(self, name: str) -> pd.DataFrame | None:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)


def _read(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    for key in ("district_id", "period"):
        if key in frame.columns:
            frame[key] = frame[key].astype(str)
    return frame


def _feature_values(folder: Path) -> pd.DataFrame | None:
    """Panel covariates plus the conflict-history features derived from incidents (the same
    pure functions training used); spatial lags are not stored, so they stay NaN."""
    if not (folder / "panel.parquet").exists():
        return None
    panel = pd.read_parquet(folder / "panel.parquet")
    panel[PERIOD_INDEX] = period_ordinal(panel["period"])
    values = add_history_features(panel).drop(columns=PERIOD_INDEX)
    return values.astype({"district_id": str, "period": str})


def _programs(folder: Path) -> tuple[str, dict]:
    """The programs catalog beside the results (programs.toml) or else the shipped default."""
    path = folder / "programs.toml" if (folder / "programs.toml").exists() else DEFAULT_PROGRAMS
    return path.name, tomllib.loads(path.read_text(encoding="utf-8")).get("programs", {})


def load_results(folder: Path) -> Results:
    """Read every result file that exists. Raises ReportError without summary or forecast."""
    missing = [n for n in ("summary.json", "forecast.csv") if not (folder / n).exists()]
    if missing:
        raise ReportError(f"{folder}: no {', '.join(missing)}; is it a `train.py --output` dir?")
    res = Results(
        folder=folder,
        summary=json.loads((folder / "summary.json").read_text(encoding="utf-8")),
        tables={name: _read(folder / file) for name, file in TABLES.items()},
        values=_feature_values(folder),
        programs=_programs(folder),
    )
    if (folder / "catalog.json").exists():
        res.catalog = json.loads((folder / "catalog.json").read_text(encoding="utf-8"))["features"]
    if (folder / "geometry.geojson").exists():
        import geopandas as gpd  # only reports with polygons pay for it

        res.geometry = gpd.read_file(folder / "geometry.geojson").astype({"district_id": str})
    return res


def period_after(period: str, steps: int) -> str:
    if re.fullmatch(r"\d{4}-\d{2}", period):
        months = int(period[:4]) * 12 + int(period[5:]) - 1 + steps
        return f"{months // 12:04d}-{months % 12 + 1:02d}"
    return str(int(period) + steps) if period.isdigit() else f"{period} + {steps}"


def district_labels(res: Results) -> pd.DataFrame:
    """district_id -> name, admin1, country (from the panel's latest rows; ids otherwise)."""
    ids = res.forecast["district_id"].drop_duplicates()
    out = pd.DataFrame({"name": ids.to_numpy(), "admin1": "", "country": ""}, index=ids)
    if res.panel is not None:
        latest = res.panel.drop_duplicates("district_id", keep="last").set_index("district_id")
        for column, key in (
            ("district_name", "name"),
            ("admin1", "admin1"),
            ("country", "country"),
        ):
            if column in latest.columns:
                out[key] = latest[column].reindex(out.index).fillna(out[key]).astype(str)
    return out
