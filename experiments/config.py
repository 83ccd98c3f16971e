"""Experiment configuration: pydantic models loaded from TOML, validated before any side effect."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from experiments.registry import PromotionMetric, registered_name
from features.catalog import read_toml
from features.errors import RootcastError
from models.settings import (
    ExplainSettings,
    ModelSettings,
    Section,
    TargetingSettings,
)

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "default.toml"
REGISTRY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,249}")  # safe in models:/ URIs


class ConfigError(RootcastError):
    """An experiment config file or override is invalid."""


class DataSection(Section):
    panel: str = ""  # empty: the embedded synthetic region
    catalog: str = ""  # empty: the catalog shipped for the synthetic region
    geometry: str = ""  # empty: none (synthetic data brings its own polygons)
    geometry_id_column: str = "district_id"
    adjacency_tolerance: float = Field(0.0, ge=0)
    # Split spatial lags into within-country and cross-border neighbours (needs the panel's
    # `country` column); districts of different countries within the tolerance (km, in the
    # data's UTM zone) are neighbours. Adds features only where a cross-border pair exists.
    cross_border_lags: bool = False
    cross_border_tolerance_km: float = Field(5.0, ge=0, le=100)


class SyntheticSection(Section):
    n_districts: int = Field(600, ge=20)
    n_periods: int = Field(18, ge=8)
    n_countries: int = Field(4, ge=1, le=12)
    seed: int = Field(7, ge=0, lt=2**32)  # numpy's seed range
    # Strength in [0, 1] of a hidden factor shared by actionable covariates (poverty, youth
    # unemployment, schooling, governance) and non-actionable drivers (youth bulge, terrain):
    # the plan's counterfactuals meet confounding. 0: the region without it, draw for draw.
    confounding: float = Field(0.0, ge=0, le=1)


class TargetSection(Section):
    horizon: int = Field(1, ge=1, le=5)


class SplitSection(Section):
    n_folds: int = Field(4, ge=1)
    min_train_periods: int = Field(5, ge=2)


class EvaluationSection(Section):
    top_k: int = Field(30, ge=1)


class TrackingSection(Section):
    experiment: str = Field("rootcast", min_length=1, max_length=250)
    registered_model: str = ""  # empty: "rootcast-h<horizon>"
    register_model: bool = True
    # retrain promotes only a challenger at least as good as the champion on each of these
    guard_metrics: list[PromotionMetric] = [
        "roc_auc",
        "aupr",
        "brier",
    ]

    @field_validator("registered_model")
    @classmethod
    def _registry_name(cls, value: str) -> str:
        if value and not REGISTRY_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is no registry name: use letters, digits, '.', '_' and '-' "
                "(no '/', '@', '%' or spaces), starting with a letter or digit"
            )
        return value


class ScaleSection(Section):
    """Where training runs and what it trains: in this process with the full model zoo
    (`pandas`), or the lean set (xgboost beside the historical-rate and persistence
    baselines; no stack, calibration, refits or plan) on a Dask cluster (`dask`: panels too
    large for memory) or in this process (`lean`: panels of about a million rows, in memory);
    see experiments/scale/."""

    backend: Literal["pandas", "dask", "lean"] = "pandas"
    # dask: a scheduler address ("tcp://host:8786"); empty starts a LocalCluster here
    scheduler: str = ""
    n_workers: int = Field(1, ge=1, le=1024)  # LocalCluster worker processes
    threads_per_worker: int = Field(0, ge=0, le=1024)  # 0: this machine's cores / n_workers
    memory_limit: str = "auto"  # per LocalCluster worker: "auto", "6GiB", ...
    # dask, lean: TreeSHAP for the forecast period plus this many held-out rows (a sample)
    shap_holdout_rows: int = Field(0, ge=0)
    # pandas, lean: a Parquet panel with more rows is refused with a pointer to dask
    max_rows_in_memory: int = Field(3_000_000, ge=1)

    @field_validator("scheduler")
    @classmethod
    def _address(cls, value: str) -> str:
        if value and "://" not in value:
            raise ValueError(
                f"{value!r} is no scheduler address: write it as tcp://host:port (empty: a "
                "LocalCluster on this machine)"
            )
        return value


class ExperimentConfig(Section):
    """One experiment: data, target, split, model, evaluation and tracking settings."""

    name: str = "default"
    data: DataSection = DataSection()
    synthetic: SyntheticSection = SyntheticSection()
    target: TargetSection = TargetSection()
    split: SplitSection = SplitSection()
    model: ModelSettings = ModelSettings()
    evaluation: EvaluationSection = EvaluationSection()
    explain: ExplainSettings = ExplainSettings()
    targeting: TargetingSettings = TargetingSettings()
    tracking: TrackingSection = TrackingSection()
    scale: ScaleSection = ScaleSection()

    @model_validator(mode="after")
    def _dask_reads_files(self) -> ExperimentConfig:
        if self.scale.backend == "dask" and not self.data.panel:
            raise ValueError(
                'scale.backend = "dask" reads a Parquet panel (a file or a folder of them): '
                "set data.panel (benchmarks/scale_panel.py writes one; pandas writes a CSV "
                "panel as Parquet: pd.read_csv(path).to_parquet(new_path))"
            )
        return self

    @property
    def is_synthetic(self) -> bool:
        return not self.data.panel

    @property
    def registered_model_name(self) -> str:
        return registered_name(self.target.horizon, self.tracking.registered_model)


def _parse_value(text: str) -> Any:
    """A TOML literal (number, bool, quoted string, array), else the raw text as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `section.key=value` overrides to a parsed config mapping (returns a new mapping)."""
    result = _deep_copy(data)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. model.seed=3")
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: '{part}' is a value, not a section")
            node = child
        node[parts[-1]] = _parse_value(value.strip())
    return result


def _deep_copy(data: dict) -> dict:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def load_config(path: str | Path | None = None, overrides: list[str] | None = None):
    """Read, override and validate a config; raises ConfigError naming the file and key."""
    path = Path(path) if path else DEFAULT_CONFIG
    data = read_toml(path, "config", ConfigError)
    data = apply_overrides(data, overrides or [])
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        overridden = [o.partition("=")[0].strip() for o in overrides or []]
        named = [o for o in overridden if o == where or o.startswith(f"{where}.")]
        if not where:  # a rule across sections: the message names the keys
            source = f"{path}" + (f" with --set {', '.join(overridden)}" if overridden else "")
        elif named:
            source = f"--set {named[0]}"
        else:
            source = f"{path}: {where}"
        raise ConfigError(f"{source}: {first['msg']}") from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def to_toml(config: ExperimentConfig) -> str:
    """The resolved config as TOML (every key, defaults included); loads back to `config`."""
    lines: list[str] = []

    def table(data: dict, prefix: str) -> None:
        scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
        if prefix and scalars:
            lines.append(f"\n[{prefix}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
        for key, value in data.items():
            if isinstance(value, dict):
                table(value, f"{prefix}.{key}" if prefix else key)

    table(config.model_dump(), "")
    return "\n".join(lines).lstrip("\n") + "\n"
