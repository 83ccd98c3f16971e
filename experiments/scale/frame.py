"""The dask backend's model frame: a Parquet panel validated file by file, its features built
exactly as the single-machine path builds them, the covariates kept on the workers.

Only the keys, labels, incidents and protected columns are read into this process (a panel's
conflict history needs every period of a district, and its spatial lags every district of a
period): `features.build.build_features` turns them into the history features and the target,
the same code and numbers as the single-machine path. Meanwhile each Parquet file is read and
validated on a worker (errors name the file, column and rows) and its covariates cast to
float32; then joined there with its rows of those features and kept in the workers' memory as
one partition of a dask DataFrame: the rows xgboost trains on never pass through this
process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client, wait

from experiments.config import ExperimentConfig
from experiments.data import (
    ExperimentInputs,
    configured_geometry,
    data_fingerprint,
    spatial_inputs,
)
from experiments.prepare import PreparedData, prepared
from features.build import PERIOD_INDEX, TARGET, build_features
from features.catalog import FeatureCatalog, load_catalog
from features.errors import DataContractError
from features.loaders import (
    parquet_columns,
    parquet_files,
    parquet_rows,
    read_parquet_file,
)
from features.schema import (
    KEYS,
    LABELS,
    OUTCOME,
    check_keys_across_parts,
    check_outcome_varies,
    period_ordinal,
    validate_panel,
)

PART = "_part"  # the file a row came from (this process only)
EXAMPLE_PERIODS = 2  # periods of full rows kept here: the registered model's input example


@dataclass(frozen=True)
class LazyData:
    """The prepared data of the dask backend: `prepared.frame` holds keys, labels, incidents,
    the history features and the target (this process); `model_frame` every model feature,
    keys, `period_index` and the target (on the workers, one partition per file)."""

    prepared: PreparedData
    model_frame: dd.DataFrame
    files: list[Path]


def panel_files(source: str) -> list[Path]:
    """The panel's Parquet files holding rows (writers of partitioned data leave empty ones);
    raises DataContractError when none does."""
    files = [path for path in parquet_files(source) if parquet_rows(path)]
    if not files:
        raise DataContractError(f"{source}: the panel has no rows (its Parquet files are empty)")
    return files


def _slim_columns(path: Path, catalog: FeatureCatalog) -> list[str]:
    wanted = [*KEYS, *LABELS, OUTCOME, *catalog.protected_features]
    present = parquet_columns(path)
    return [c for c in wanted if c in present]


def read_slim_panel(files: list[Path], catalog: FeatureCatalog, source: str) -> pd.DataFrame:
    """Keys, labels, incidents and protected columns of every file, each file validated, then
    the keys across files; PART names each row's file (its position in `files`)."""
    parts = []
    for number, path in enumerate(files):
        part = read_parquet_file(path, _slim_columns(path, catalog))
        # protected columns a file lacks are caught when a worker validates the whole file
        present = FeatureCatalog(
            features={
                n: s for n, s in catalog.features.items() if s.protected and n in part.columns
            }
        )
        checked = validate_panel(part, present, str(path), whole=False)
        parts.append(checked.assign(**{PART: number}))
    panel = check_keys_across_parts(pd.concat(parts, ignore_index=True), source)
    check_outcome_varies(panel, source)
    return panel


def checked_covariates(path: Path, catalog: FeatureCatalog, covariates: list[str]) -> pd.DataFrame:
    """One file read and validated against the full catalog (runs on a worker): its keys,
    `period_index` and the model's `covariates` as float32, sorted by district and period.
    Raises DataContractError naming the file, column and rows."""
    problem = None
    try:
        panel = validate_panel(read_parquet_file(path), catalog, str(path), whole=False)
    except DataContractError as exc:
        problem = str(exc)
    if problem is not None:  # raised afresh: pandera's errors held as its context do not pickle
        raise DataContractError(problem)
    out = {
        "district_id": panel["district_id"].to_numpy(),
        "period": panel["period"].to_numpy(),
        PERIOD_INDEX: period_ordinal(panel["period"]).to_numpy(),
    }
    for name in covariates:
        out[name] = panel[name].to_numpy(dtype=np.float32)
    return pd.DataFrame(out)


def model_partition(
    path: Path, checked: pd.DataFrame, derived: pd.DataFrame, features: list[str]
) -> pd.DataFrame:
    """One file's rows of the model frame (runs on a worker): its `checked_covariates` joined
    with its `derived` rows (history features and target, sorted by district_id and
    period_index), model features as float32."""
    if not (
        len(derived) == len(checked)
        and np.array_equal(derived["district_id"].to_numpy(), checked["district_id"].to_numpy())
        and np.array_equal(derived[PERIOD_INDEX].to_numpy(), checked[PERIOD_INDEX].to_numpy())
    ):
        raise DataContractError(f"{path}: its rows changed while the panel was being read")
    out = {c: checked[c].to_numpy() for c in ("district_id", "period", PERIOD_INDEX)}
    for name in features:
        source = checked if name in checked.columns else derived
        out[name] = source[name].to_numpy(dtype=np.float32)
    out[TARGET] = derived[TARGET].to_numpy(dtype=np.float32)
    return pd.DataFrame(out)


def _raise_first_error(futures: list) -> None:
    """Wait for `futures`; raise the first failed one's error in file order (a
    DataContractError naming the file, column and rows)."""
    wait(futures)
    for future in futures:
        if future.status == "error":
            raise future.exception()


def check_files(client: Client, files: list[Path], catalog: FeatureCatalog) -> list:
    """Start reading and validating every file on the workers (`checked_covariates`): they
    work while this process builds the history features. Returns the futures."""
    covariates = catalog.model_features
    return client.map(checked_covariates, files, [catalog] * len(files), [covariates] * len(files))


def _model_frame(
    client: Client, files: list[Path], checked: list, frame: pd.DataFrame, data: PreparedData
) -> dd.DataFrame:
    """Join every file's checked covariates with its history features on the workers."""
    _raise_first_error(checked)
    derived_columns = ["district_id", PERIOD_INDEX, *data.history, TARGET]
    ordered = frame.sort_values([PART, "district_id", PERIOD_INDEX], kind="stable")
    parts = [part[derived_columns] for _, part in ordered.groupby(PART, sort=True)]
    scattered = client.scatter(parts)
    futures = client.map(model_partition, files, checked, scattered, [data.features] * len(files))
    _raise_first_error(futures)
    del scattered
    meta = client.submit(lambda part: part.head(0), futures[0]).result()
    return dd.from_delayed(futures, meta=meta, verify_meta=False)


def _full_rows(
    model_frame: dd.DataFrame, frame: pd.DataFrame, panel: pd.DataFrame, catalog: FeatureCatalog
):
    """The last EXAMPLE_PERIODS periods as panel rows (keys, labels, incidents, covariates in
    float64, as a caller sends them): the registered model's example and dataset schema.
    `frame` is the model frame here (its periods), `panel` the slim panel (its labels)."""
    last = np.sort(frame[PERIOD_INDEX].unique())[-EXAMPLE_PERIODS:]
    covariates = catalog.model_features
    rows = model_frame[model_frame[PERIOD_INDEX].isin(list(last))]
    rows = rows[["district_id", "period", *covariates]].compute()
    rows = rows.astype({c: "float64" for c in covariates})
    labels = panel.drop(columns=[PART])
    return labels.merge(rows, on=KEYS, how="inner").reset_index(drop=True)


def prepare_lazy(
    config: ExperimentConfig, files: list[Path], client: Client, progress: Callable[[str], None]
) -> LazyData:
    """Read, validate and build the dask backend's data (see the module docstring) from the
    panel's `files` (`panel_files`)."""
    source = config.data.panel
    catalog = load_catalog(config.data.catalog or None)
    checked = check_files(client, files, catalog)  # the workers start validating the files
    progress(f"reading keys and incidents of {len(files)} Parquet file(s) in {source}")
    panel = read_slim_panel(files, catalog, source)
    geometry = configured_geometry(config)
    inputs = ExperimentInputs(
        panel=panel,
        catalog=catalog,
        source=source,
        fingerprint=data_fingerprint(config, panel),
        synthetic=False,
        **spatial_inputs(config, panel, geometry, source),
    )
    progress(f"building history features for {len(panel):,} district-periods")
    frame, extended = build_features(
        panel,
        catalog,
        inputs.adjacency,
        inputs.district_ids,
        config.target.horizon,
        cross_border=inputs.cross_border,
    )
    data = prepared(config, inputs, frame, extended)
    progress(f"dask: validating {len(files)} file(s) and joining their features on the workers")
    model_frame = _model_frame(client, files, checked, frame, data)
    del checked  # the workers drop the checked covariates once joined
    full = _full_rows(model_frame, frame, panel, catalog)
    inputs = replace(inputs, panel=panel.drop(columns=PART), full_rows=full)
    return LazyData(
        replace(data, inputs=inputs, frame=frame.drop(columns=PART)), model_frame, files
    )
