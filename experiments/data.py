"""Inputs of an experiment: a validated panel, its catalog, adjacency and (synthetic) truth."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
from scipy import sparse

from experiments.config import ConfigError, ExperimentConfig
from features import synthetic
from features.catalog import FeatureCatalog, load_catalog
from features.errors import DataContractError
from features.loaders import (
    count_panel_rows,
    files_digest,
    parquet_files,
    read_geometry,
    read_panel,
)
from features.schema import check_outcome_varies, validate_panel
from features.spatial import border_adjacency, queen_adjacency, split_by_country


@dataclass(frozen=True)
class ExperimentInputs:
    """Everything the pipeline needs, validated. `oracle` is None unless data is synthetic."""

    panel: pd.DataFrame
    catalog: FeatureCatalog
    source: str
    fingerprint: str
    synthetic: bool
    adjacency: sparse.csr_matrix | None
    district_ids: pd.Index
    geometry: object | None = None
    oracle: pd.DataFrame | None = None
    contributions: pd.DataFrame | None = None
    # with data.cross_border_lags: `adjacency` holds the within-country pairs, this the others
    cross_border: sparse.csr_matrix | None = None
    # the dask backend's `panel` holds keys, labels and incidents only; these rows (the last
    # periods) hold every column, for the registered model's example and the dataset schema
    full_rows: pd.DataFrame | None = None

    @property
    def columns_sample(self) -> pd.DataFrame:
        """Rows holding every panel column: `full_rows` when set, else the panel."""
        return self.panel if self.full_rows is None else self.full_rows


def panel_fingerprint(panel: pd.DataFrame) -> str:
    """Content hash (16 hex digits) of a validated panel: same values, same fingerprint."""
    hashed = pd.util.hash_pandas_object(panel, index=False).to_numpy()
    header = "|".join(map(str, panel.columns)).encode()
    return hashlib.sha256(header + hashed.tobytes()).hexdigest()[:16]


def load_inputs(config: ExperimentConfig) -> ExperimentInputs:
    """Load and validate the configured panel, or generate the synthetic region."""
    catalog = load_catalog(config.data.catalog or None)
    if config.is_synthetic:
        s = config.synthetic
        region = synthetic.generate_region(
            n_districts=s.n_districts,
            n_periods=s.n_periods,
            n_countries=s.n_countries,
            seed=s.seed,
            confounding=s.confounding,
        )
        source = f"synthetic:n_districts={s.n_districts},n_periods={s.n_periods},seed={s.seed}"
        if s.confounding:
            source += f",confounding={s.confounding}"
        panel = validate_panel(region.panel, catalog, source)
        geometry = region.geometry
        oracle, contributions = region.oracle, region.contributions
    else:
        source = config.data.panel
        check_fits_in_memory(source, config.scale.max_rows_in_memory)
        panel = validate_panel(read_panel(source), catalog, source)
        geometry = configured_geometry(config)
        oracle = contributions = None
    check_outcome_varies(panel, source)
    return ExperimentInputs(
        panel=panel,
        catalog=catalog,
        source=source,
        fingerprint=data_fingerprint(config, panel),
        synthetic=config.is_synthetic,
        **spatial_inputs(config, panel, geometry, source),
        oracle=oracle,
        contributions=contributions,
    )


def configured_geometry(config: ExperimentConfig):
    """The polygons of `data.geometry`, None when the config names none."""
    if not config.data.geometry:
        return None
    return read_geometry(config.data.geometry, config.data.geometry_id_column)


def data_fingerprint(config: ExperimentConfig, panel: pd.DataFrame) -> str:
    """The run's data fingerprint: the validated panel's content hash, or on the dask backend
    (whose panel is never whole in one process) the hash of its Parquet files, so `plan`,
    `predict` and `retrain` recognise the data a dask-trained model learnt from."""
    if config.scale.backend == "dask":
        return files_digest(parquet_files(config.data.panel))
    return panel_fingerprint(panel)


def check_fits_in_memory(source: str, max_rows: int) -> None:
    """Refuse a Parquet panel of more than `max_rows` rows (counted from the files' footers)
    before reading it: the single-machine path holds several copies of it in memory."""
    rows = count_panel_rows(source)
    if rows is not None and rows > max_rows:
        raise ConfigError(
            f"{source}: {rows:,} rows are more than the single-machine path takes "
            f"(scale.max_rows_in_memory = {max_rows:,}); train it on a Dask cluster with "
            '--set scale.backend="dask" (a LocalCluster here, or scale.scheduler), or raise '
            "the limit if memory allows (about 4 GB per million rows)"
        )


def spatial_inputs(config: ExperimentConfig, panel: pd.DataFrame, geometry, source: str) -> dict:
    """`district_ids`, `geometry`, `adjacency` and `cross_border` of ExperimentInputs for a
    validated `panel` (its keys suffice) and its polygons (None: no spatial lags)."""
    district_ids = pd.Index(sorted(panel["district_id"].unique()))
    adjacency = (
        queen_adjacency(geometry, district_ids, config.data.adjacency_tolerance)
        if geometry is not None
        else None
    )
    cross_border = None
    if adjacency is not None and config.data.cross_border_lags:
        adjacency, cross_border = _split_adjacency(
            panel, geometry, district_ids, adjacency, config.data.cross_border_tolerance_km, source
        )
    return {
        "district_ids": district_ids,
        "geometry": geometry,
        "adjacency": adjacency,
        "cross_border": cross_border,
    }


def district_countries(panel: pd.DataFrame, source: str) -> pd.Series:
    """The `country` label of each district (index district_id); one label per district."""
    if "country" not in panel.columns:
        raise DataContractError(
            f"{source}: data.cross_border_lags needs a 'country' column in the panel"
        )
    labels = panel[["district_id", "country"]].drop_duplicates()
    repeated = labels.loc[labels["district_id"].duplicated(), "district_id"]
    if len(repeated) or labels["country"].isna().any():
        bad = list(repeated[:5]) or list(labels.loc[labels["country"].isna(), "district_id"][:5])
        raise DataContractError(
            f"{source}: column 'country' must give each district one label; see {bad}"
        )
    return labels.set_index("district_id")["country"].astype(str)


def _split_adjacency(panel, geometry, district_ids, adjacency, tolerance_km, source):
    """(within-country, cross-border) adjacency: polygons touching (queen, as configured) plus
    districts of different countries within `tolerance_km`; None for the second part where no
    cross-border pair exists, so single-country panels keep their features exactly."""
    country = district_countries(panel, source)
    across = border_adjacency(geometry, district_ids, country, tolerance_km)
    within, touching = split_by_country(adjacency, district_ids, country)
    cross = ((across + touching) > 0).astype(float).tocsr()
    return (within, cross) if cross.nnz else (adjacency, None)


def oracle_column(inputs: ExperimentInputs, predictions: pd.DataFrame, horizon: int):
    """The true probability of each held-out row, when the data is synthetic and h = 1."""
    if inputs.oracle is None or horizon != 1:
        return None
    keyed = inputs.oracle.set_index(["district_id", "period"])["oracle_prob"]
    index = pd.MultiIndex.from_frame(predictions[["district_id", "period"]])
    return keyed.reindex(index).to_numpy()


def truth_terms(inputs: ExperimentInputs, frame: pd.DataFrame, horizon: int):
    """True driver terms aligned with the frame's rows (synthetic data, horizon 1 only)."""
    if inputs.contributions is None or horizon != 1:
        return None
    return (
        frame[["district_id", "period"]]
        .merge(inputs.contributions, on=["district_id", "period"], how="left")
        .drop(columns=["district_id", "period", "intercept"], errors="ignore")
    )
