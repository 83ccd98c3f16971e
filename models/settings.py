"""Settings of the modelling stages, defined once: the experiment config composes these
sections and the models read them typed (no whole-config dicts passed around).

Strict pydantic models: `true` is no integer and "3" no number, so a typo in a config or a
`--set` never trains silently with a different value.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A config section: unknown keys and loosely typed values are errors."""

    # no inf/nan in any number: a budget or a penalty of inf trains without an error otherwise
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class XGBoostSettings(Section):
    """Hyper-parameters of every xgboost pipeline (main model, history baseline, refits)."""

    n_estimators: int = Field(400, ge=1, le=100_000)
    max_depth: int = Field(3, ge=1, le=16)
    learning_rate: float = Field(0.03, gt=0, le=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    min_child_weight: float = Field(10.0, ge=0)
    reg_lambda: float = Field(1.0, ge=0)
    n_jobs: int = Field(2, ge=1)


class ModelSettings(Section):
    """The model zoo: seed, calibration of the xgboost models, the logistic baseline's C and
    the stack's out-of-fold periods."""

    seed: int = Field(0, ge=0, lt=2**32)  # xgboost's and numpy's seed range
    calibration: Literal["isotonic", "sigmoid", "none"] = "sigmoid"
    n_calibration_periods: int = Field(2, ge=1)
    logistic_C: float = Field(0.1, gt=0)
    # the stack's weights are fitted on out-of-fold forecasts of this many last training periods
    stack_periods: int = Field(4, ge=1)
    xgboost: XGBoostSettings = XGBoostSettings()


class ExplainSettings(Section):
    """The explain stage: TreeSHAP, refit stability and forecast intervals."""

    enabled: bool = True
    n_bootstrap: int = Field(5, ge=0)  # district-bootstrap refits: intervals and stability
    interaction_rows: int = Field(300, ge=10)  # rows for SHAP interaction values


class TargetingSettings(Section):
    """The budgeted plan and its naive comparison."""

    programs: str = ""  # empty: models/catalogs/programs.toml
    budget: float = Field(40.0, ge=0)
    max_per_district: int = Field(1, ge=1)
    method: Literal["exact", "greedy"] = "exact"
    naive_program: str = "livelihoods"  # the comparison plan's one program for top-risk places
    # what the allocation maximises: 0 = the expected reduction; 1 = its interval's lower bound
    # (the ensemble's 5 % quantile; with fewer than 20 models, its minimum); between, the mix
    # (see targeting.planning_value)
    risk_aversion: float = Field(0.0, ge=0, le=1)
