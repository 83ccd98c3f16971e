"""The results contract: what a training run writes to its results folder and logs to MLflow,
and what reports, retrain and the command line read back.

`RunSummary` is summary.json, typed; `RESULT_TABLES` lists every result table with its file
name and the columns readers rely on. The run writes through `check_table`, so a table that
breaks the contract fails before anything is written; `reports.results` reads by the same list.
Pure data and checks: no models, no features, no MLflow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.errors import RootcastError

SUMMARY_FILE = "summary.json"
CATALOG_FILE = "catalog.json"
PROGRAMS_FILE = "programs.toml"
GEOMETRY_FILE = "geometry.geojson"
KEYS = ("district_id", "period")
LABELS = ("district_name", "admin1", "country")  # empty admin1/country where the panel has none
ORACLE = "oracle"  # the true probability's column and metrics row on synthetic data


# Risk bands of forecast.csv and plan.csv: (name, lower bound) in increasing order; a
# probability p is in the last band whose lower bound is <= p. So: low < 10 %,
# moderate 10 % to < 30 %, high 30 % to < 60 %, very high >= 60 %. Defined here once.
RISK_BANDS: tuple[tuple[str, float], ...] = (
    ("low", 0.0),
    ("moderate", 0.10),
    ("high", 0.30),
    ("very high", 0.60),
)
DECIMALS = 4  # probabilities and reductions in the CSVs; parquet tables keep full precision


def risk_band(probability: pd.Series) -> pd.Series:
    """The RISK_BANDS name of each probability (empty where it is missing)."""
    edges = [bound for _, bound in RISK_BANDS[1:]]
    index = pd.Series(probability, dtype=float)
    names = [RISK_BANDS[i][0] for i in np.searchsorted(edges, index.fillna(0), side="right")]
    return pd.Series(names, index=index.index, dtype=object).where(index.notna(), "")


class ResultContractError(RootcastError):
    """A result table or summary that does not have what the contract promises readers."""


@dataclass(frozen=True)
class ResultTable:
    """One result table: its key (the file stem), file name and the columns readers rely on.
    Tables of the explain stage exist only when it ran."""

    key: str
    file: str
    columns: tuple[str, ...]


RESULT_TABLES: tuple[ResultTable, ...] = (
    ResultTable("predictions", "predictions.parquet", (*KEYS, "period_index", "fold", "target")),
    ResultTable("metrics", "metrics.csv", ("model", "fold", "roc_auc", "aupr", "brier")),
    ResultTable(
        "forecast",
        "forecast.csv",
        (*KEYS, "probability", "rank", "forecast_period", "band", "change", *LABELS),
    ),
    ResultTable("panel", "panel.parquet", (*KEYS, "incidents")),
    ResultTable(
        "shap_global",
        "shap_global.csv",
        ("feature", "mean_abs_shap", "domain"),
    ),
    ResultTable(
        "shap_domains",
        "shap_domains.csv",
        ("domain", "mean_abs_shap"),
    ),
    ResultTable(
        "district_drivers",
        "district_drivers.parquet",
        (*KEYS, "feature", "shap_value", "feature_value", "domain", "actionable"),
    ),
    ResultTable(
        "shap_interactions",
        "shap_interactions.csv",
        ("feature_a", "feature_b", "mean_abs_interaction"),
    ),
    ResultTable(
        "shap_global_logistic",
        "shap_global_logistic.csv",
        ("feature", "mean_abs_shap"),
    ),
    ResultTable(
        "shap_stability",
        "shap_stability.csv",
        ("feature", "mean_abs_shap"),
    ),
    ResultTable(
        "district_profiles",
        "district_profiles.csv",
        (*KEYS, "risk", "risk_low", "risk_high", "driver_1"),
    ),
    ResultTable(
        "plan",
        "plan.csv",
        (
            *KEYS,
            "program",
            "cost",
            "risk",
            "reduction",
            "reduction_low",
            "reduction_high",
            "forecast_period",
            *LABELS,
        ),
    ),
    ResultTable(
        "aggregates",
        "aggregates.csv",
        (
            "level",
            "unit",
            "country",
            "period",
            "forecast_period",
            "n_districts",
            "p_any",
            "p_any_independent",
            "expected_districts",
            "expected_low",
            "expected_high",
        ),
    ),
)
TABLES_BY_KEY = {t.key: t for t in RESULT_TABLES}
# every file a training run may write to its results folder
RESULT_FILES = (
    SUMMARY_FILE,
    *(t.file for t in RESULT_TABLES),
    CATALOG_FILE,
    PROGRAMS_FILE,
    GEOMETRY_FILE,
)


def check_table(key: str, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` if it has the columns the contract promises for table `key`; raises
    ResultContractError naming the table and the missing columns otherwise."""
    if key not in TABLES_BY_KEY:
        raise ResultContractError(f"{key!r} is no result table ({', '.join(TABLES_BY_KEY)})")
    missing = [c for c in TABLES_BY_KEY[key].columns if c not in frame.columns]
    if missing:
        raise ResultContractError(
            f"{TABLES_BY_KEY[key].file}: missing column(s) {', '.join(missing)}"
        )
    return frame


@dataclass(frozen=True)
class DataInfo:
    source: str
    fingerprint: str
    synthetic: bool
    n_districts: int
    n_rows: int
    periods: list[str]


@dataclass(frozen=True)
class TargetInfo:
    horizon: int
    definition: str


@dataclass(frozen=True)
class FoldInfo:
    fold: int
    test_period_index: int
    n_train: int
    n_test: int


@dataclass
class RunSummary:
    """summary.json: what was trained on what, its pooled held-out metrics per model
    (`metrics[model][metric]`, None where undefined), the explain/plan figures when that
    stage ran, truth checks on synthetic data, and the MLflow identifiers once logged."""

    experiment: str
    config_name: str
    data: DataInfo
    target: TargetInfo
    folds: list[FoldInfo]
    features: list[str]
    metrics: dict[str, dict[str, float | None]]
    forecast_period: str
    evaluation: dict[str, Any]
    created: str
    main_model: str
    baselines: list[str]
    explain: dict[str, Any] | None = None
    truth_recovery: dict[str, Any] | None = None
    truth_plan: dict[str, float] | None = None
    targeting: dict[str, Any] | None = None
    # the registration rule's outcome (models/selection.py) and the bootstrap comparison
    selection: dict[str, Any] | None = None
    run_id: str | None = None
    model_uri: str | None = None
    registered_model: str | None = None
    model_version: str | None = None
    became_champion: bool = False
    seconds: float | None = None
    backend: str | None = None  # scale.backend: pandas, dask or lean (None: written before)
    extra: dict[str, Any] = field(default_factory=dict)  # keys of newer writers, kept as read

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping (sections a run did not produce are left out)."""
        out = asdict(self)
        extra = out.pop("extra")
        optional = ("explain", "truth_recovery", "truth_plan", "targeting", "selection", "backend")
        return {k: v for k, v in out.items() if not (k in optional and v is None)} | extra

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = SUMMARY_FILE) -> RunSummary:
        """Parse a summary mapping; raises ResultContractError naming a missing key."""
        known = set(cls.__dataclass_fields__) - {"extra"}
        required = {"experiment", "config_name", "data", "target", "folds", "features"}
        required |= {"metrics", "forecast_period"}
        missing = sorted(required - set(data))
        if missing:
            raise ResultContractError(f"{source}: missing key(s) {', '.join(missing)}")
        try:
            values = {k: v for k, v in data.items() if k in known}
            values["data"] = DataInfo(**data["data"])
            values["target"] = TargetInfo(**data["target"])
            values["folds"] = [FoldInfo(**f) for f in data["folds"]]
        except TypeError as exc:
            raise ResultContractError(f"{source}: {exc}") from None
        values.setdefault("evaluation", {})
        values.setdefault("created", "")
        values.setdefault("main_model", "xgboost")  # summaries written before the contract
        values.setdefault("baselines", [m for m in data["metrics"] if m not in {"xgboost", ORACLE}])
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**values, extra=extra)

    @property
    def horizon(self) -> int:
        return self.target.horizon
