"""Validated inputs -> model frame, feature lists and rolling-origin folds (shared by training
and hyper-parameter search)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from experiments.config import ConfigError, ExperimentConfig
from experiments.data import ExperimentInputs
from features.build import PERIOD_INDEX, TARGET, build_features
from features.catalog import FeatureCatalog
from features.errors import DataContractError
from features.splits import Fold, rolling_origin_splits
from models.serving import Forecaster, Neighbours


@dataclass(frozen=True)
class PreparedData:
    """The model frame, its extended catalog, model and history feature columns, folds, and
    the forecast horizon they were built for (read from here, not from the config again)."""

    inputs: ExperimentInputs
    frame: pd.DataFrame
    catalog: FeatureCatalog
    features: list[str]
    history: list[str]
    folds: list[Fold]
    horizon: int

    @property
    def fingerprint(self) -> str:
        return self.inputs.fingerprint


def prepare(config: ExperimentConfig, inputs: ExperimentInputs) -> PreparedData:
    """Build features and folds; raises ConfigError when the data has too few periods for the
    configured folds."""
    horizon = config.target.horizon
    frame, catalog = build_features(
        inputs.panel,
        inputs.catalog,
        inputs.adjacency,
        inputs.district_ids,
        horizon,
        cross_border=inputs.cross_border,
    )
    return prepared(config, inputs, frame, catalog)


def prepared(
    config: ExperimentConfig, inputs: ExperimentInputs, frame: pd.DataFrame, catalog
) -> PreparedData:
    """PreparedData of a built model `frame` (and its extended catalog): feature lists and
    folds; raises ConfigError when the data has too few periods for the configured folds.
    The dask backend's frame holds keys and history only (covariates stay on the workers)."""
    horizon = config.target.horizon
    features = catalog.model_features
    history = [n for n in features if catalog.features[n].domain == "conflict history"]
    s = config.split
    try:
        folds = list(
            rolling_origin_splits(
                frame[PERIOD_INDEX], frame[TARGET].notna(), s.n_folds, horizon, s.min_train_periods
            )
        )
    except ValueError as exc:
        raise ConfigError(f"split: {exc}; lower split.n_folds or split.min_train_periods") from None
    _check_both_classes(frame, folds, inputs.source, horizon, s.n_folds)
    return PreparedData(inputs, frame, catalog, features, history, folds, horizon)


def _check_both_classes(
    frame: pd.DataFrame, folds: list[Fold], source: str, horizon: int, n_folds: int
) -> None:
    """Refuse training windows whose target has one class: no model can be fitted on them.

    The final model trains on every labelled row, each fold on the labelled rows before its
    test period; raises DataContractError naming the source and the window.
    """
    target = frame[TARGET]
    rule = f"incidents {horizon} period(s) later"
    labelled = target.dropna()
    for value, what in ((0.0, "no labelled row has"), (1.0, "every labelled row has")):
        if (labelled == value).all():
            raise DataContractError(
                f"{source}: {what} {rule} (target '{TARGET}' is always {value:g} in the "
                f"{len(labelled)} labelled rows); a model needs both outcomes"
            )
    for fold in folds:
        window = target.iloc[fold.train_index]
        if window.nunique() < 2:
            last = frame["period"].iloc[fold.train_index].max()
            outcome = "none" if (window == 0).all() else "all"
            raise DataContractError(
                f"{source}: in the training rows of fold {fold.number} (periods up to {last}) "
                f"{outcome} have {rule}; a model needs both outcomes — lower split.n_folds "
                f"(now {n_folds}) so the first fold trains on more periods"
            )


def forecaster(data: PreparedData, model, members: list | None, band=None) -> Forecaster:
    """What the registered model scores panel rows with: the fitted `model`, its bootstrap
    refits (`members`; None: the run made none), the panel's model covariates (protected
    columns are never model inputs, so a caller need not send them), the model's features,
    the horizon, the district adjacency of the spatial lags and the interval's calibration
    `band` (None: not widened)."""
    inputs = data.inputs
    covariates = {n: spec for n, spec in inputs.catalog.features.items() if not spec.protected}
    neighbours = None
    if inputs.adjacency is not None:
        neighbours = Neighbours(inputs.adjacency, inputs.district_ids, inputs.cross_border)
    return Forecaster(
        model=model,
        members=None if members is None else tuple(members),
        catalog=FeatureCatalog(features=covariates),
        features=tuple(data.features),
        horizon=data.horizon,
        neighbours=neighbours,
        calibration_band=band,
    )
