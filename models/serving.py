"""Panel rows -> forecast: what the registered model does, without MLflow.

`Forecaster` holds everything a run's forecast needs: the fitted model, the run's bootstrap
refits (the 90 % interval), the catalog of the panel's columns, the model's feature columns,
the horizon and the district adjacency of the spatial lags. `forecast` takes panel rows (the
data contract: district_id, period, incidents, the catalog's covariates; labels optional),
validates them, builds the features as the run did and scores the latest period of every
district: district_id, period, forecast_period, probability and its interval.

The registered MLflow model (`experiments/tracking/panel_model.py`) and `train.py predict`
both score through it. It is saved as plain files (skops estimators, JSON, npz; never pickle)
and loaded with the project's allow-list of types (models/trusted.py), not the artifact's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io
from scipy import sparse
from sklearn.base import BaseEstimator

from features.build import build_features, forecast_rows
from features.catalog import FeatureCatalog
from features.errors import DataContractError
from features.labels import period_after
from features.schema import KEYS, LABELS, OUTCOME, validate_panel
from models.calibration_band import CalibrationBand
from models.probability import risk_interval
from models.trusted import TRUSTED_MODEL_TYPES

OUTPUT_COLUMNS = (
    "district_id",
    "period",  # the data period the forecast is made from
    "forecast_period",  # the period it is for: period + horizon
    "probability",
    "probability_low",  # the range over the model, its bootstrap refits and their stack members
    "probability_high",
)
SOURCE = "model input"  # how errors name the rows a caller sent
ESTIMATOR_FILE = "estimator.skops"
SPEC_FILE = "forecaster.json"
ADJACENCY_FILE, CROSS_BORDER_FILE = "adjacency.npz", "cross_border.npz"
FORMAT = 1
ARTIFACT = "forecaster"  # the registered model's artifact (a folder) holding these files


def member_file(k: int) -> str:
    return f"member-{k:03d}.skops"


@dataclass(frozen=True)
class Neighbours:
    """The district adjacency of the spatial lags (rows and columns ordered like
    `district_ids`); `cross_border` holds the pairs across a national border when the run
    split them (then `adjacency` holds the within-country pairs)."""

    adjacency: sparse.csr_matrix
    district_ids: pd.Index
    cross_border: sparse.csr_matrix | None = None


@dataclass(frozen=True)
class Forecaster:
    """A run's fitted model and what scoring a panel with it needs. `members`: the bootstrap
    refits of the run's interval (empty or None: the run made no ensemble, the interval is
    NaN). `catalog`: the panel's declared model covariates."""

    model: BaseEstimator
    members: tuple[BaseEstimator, ...] | None
    catalog: FeatureCatalog
    features: tuple[str, ...]
    horizon: int
    neighbours: Neighbours | None = None
    calibration_band: CalibrationBand | None = None  # widens the interval (held-out)

    @property
    def input_columns(self) -> list[str]:
        """Panel columns the forecaster reads, in contract order (labels are optional)."""
        return [*KEYS, *LABELS, OUTCOME, *self.catalog.features]

    def forecast(self, panel: pd.DataFrame) -> pd.DataFrame:
        """Validate `panel` against the contract (columns it does not read are ignored) and
        `score` it. Raises DataContractError naming the column and rows."""
        reads = set(self.input_columns)
        known = [c for c in panel.columns if c in reads]
        return self.score(validate_panel(panel[known], self.catalog, SOURCE))

    def score(self, panel: pd.DataFrame, source: str = SOURCE) -> pd.DataFrame:
        """OUTPUT_COLUMNS for the latest period's row of every district of a validated
        `panel`, highest probability first (ties in district order); errors name `source`."""
        frame = self.model_frame(panel, source)
        latest = frame[forecast_rows(frame)].reset_index(drop=True)
        X = latest[list(self.features)]
        probability = self.model.predict_proba(X)[:, 1]
        low, high = self.interval(X, probability)
        period = latest["period"]
        after = pd.Series([period_after(str(p), self.horizon) for p in period])
        out = pd.DataFrame(
            {
                "district_id": latest["district_id"].astype(str),
                "period": period,
                "forecast_period": after.astype(period.dtype),
                "probability": probability,
                "probability_low": low,
                "probability_high": high,
            }
        )
        return out.sort_values("probability", ascending=False, kind="stable", ignore_index=True)

    def model_frame(self, panel: pd.DataFrame, source: str = SOURCE) -> pd.DataFrame:
        """The run's features of a validated `panel`; raises DataContractError naming the
        model features it cannot give."""
        n = self.neighbours
        frame, _ = build_features(
            panel,
            self.catalog,
            n.adjacency if n else None,
            n.district_ids if n else None,
            self.horizon,
            cross_border=n.cross_border if n else None,
        )
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            hint = " (spatial lags need the district polygons)" if "spatial" in str(missing) else ""
            raise DataContractError(
                f"{source}: the model needs features these rows do not give: "
                f"{', '.join(missing)}{hint}"
            )
        return frame

    def interval(self, X: pd.DataFrame, probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`risk_interval` of [model, *members] (as the run's forecast.csv has it): the range of
        the model's, its refits' and their stack members' probabilities, widened by the run's
        calibration band; NaN without members: one model gives no interval. `probability` is
        the model's own (already computed)."""
        models = [self.model, *(self.members or ())]
        return risk_interval(models, X, self.calibration_band, probability)

    def example(self, panel: pd.DataFrame, periods: int = 2) -> pd.DataFrame:
        """A small valid input: the last `periods` periods of a validated `panel` (every
        district present then), the columns the forecaster reads."""
        last = sorted(panel["period"].unique())[-periods:]
        rows = panel[panel["period"].isin(last)]
        return rows[[c for c in self.input_columns if c in rows.columns]].reset_index(drop=True)

    def save(self, folder: Path) -> Path:
        """Write the forecaster to `folder` (created): skops estimators, a JSON spec, npz
        adjacency. Returns `folder`."""
        folder.mkdir(parents=True)
        skops.io.dump(self.model, folder / ESTIMATOR_FILE)
        for k, member in enumerate(self.members or ()):
            skops.io.dump(member, folder / member_file(k))
        n = self.neighbours
        if n is not None:
            sparse.save_npz(folder / ADJACENCY_FILE, sparse.csr_matrix(n.adjacency))
            if n.cross_border is not None:
                sparse.save_npz(folder / CROSS_BORDER_FILE, sparse.csr_matrix(n.cross_border))
        spec = {
            "format": FORMAT,
            "horizon": self.horizon,
            "features": list(self.features),
            "members": None if self.members is None else len(self.members),
            "catalog": self.catalog.model_dump(mode="json"),
            "district_ids": None if n is None else [str(d) for d in n.district_ids],
            "cross_border": n is not None and n.cross_border is not None,
            "calibration_band": None
            if self.calibration_band is None
            else self.calibration_band.to_dict(),
        }
        (folder / SPEC_FILE).write_text(json.dumps(spec, indent=1), encoding="utf-8")
        return folder


def load_estimator(path: Path) -> BaseEstimator:
    """A skops file loaded trusting TRUSTED_MODEL_TYPES only (skops raises
    UntrustedTypesFoundException for anything else; a pickle is not a skops file)."""
    return skops.io.load(path, trusted=list(TRUSTED_MODEL_TYPES))


def load_forecaster(folder: Path) -> Forecaster:
    """The forecaster `Forecaster.save` wrote to `folder`."""
    spec = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
    if spec.get("format") != FORMAT:
        raise ValueError(f"{folder / SPEC_FILE}: format {spec.get('format')}, expected {FORMAT}")
    neighbours = None
    if spec["district_ids"] is not None:
        neighbours = Neighbours(
            sparse.load_npz(folder / ADJACENCY_FILE).tocsr(),
            pd.Index(spec["district_ids"]),
            sparse.load_npz(folder / CROSS_BORDER_FILE).tocsr() if spec["cross_border"] else None,
        )
    n, band = spec["members"], spec.get("calibration_band")  # older models have no band
    members = (
        None if n is None else tuple(load_estimator(folder / member_file(k)) for k in range(n))
    )
    return Forecaster(
        model=load_estimator(folder / ESTIMATOR_FILE),
        members=members,
        catalog=FeatureCatalog.model_validate(spec["catalog"]),
        features=tuple(spec["features"]),
        horizon=int(spec["horizon"]),
        neighbours=neighbours,
        calibration_band=None if band is None else CalibrationBand.from_dict(band),
    )
