"""Pure feature functions: validated panel (+ adjacency) -> model frame.

Every feature of the row for period t uses only incidents and covariates of periods <= t; the
target is the outcome of period t + horizon. Work is vectorised over districts: the panel is
pivoted to a districts × periods matrix, history is a linear filter along periods and spatial
lags are sparse matrix products.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.signal import lfilter

from features.catalog import FeatureCatalog, FeatureSpec
from features.errors import CatalogError, DataContractError
from features.schema import OUTCOME, period_ordinal

TARGET = "target"
PERIOD_INDEX = "period_index"
DECAY = 0.5  # weight of the previous period in the decayed history (half-life of one period)
YEARS_SINCE_CAP = 10.0
RATE_PRIOR_WEIGHT = 2.0  # pseudo-periods pulling a district's rate toward the regional rate


def _history(description: str, unit: str = "") -> FeatureSpec:
    return FeatureSpec(
        domain="conflict history",
        actionable=False,
        unit=unit,
        source="derived from incidents",
        description=description,
    )


HISTORY_SPECS: dict[str, FeatureSpec] = {
    "hist_incidents": _history("log(1 + incidents) in the period itself", "log count"),
    "hist_any": _history("1 if the district had at least one incident in the period", "0/1"),
    "hist_decay": _history(
        f"Decayed incident history: log(1 + incidents_t) + {DECAY} × previous value", "log count"
    ),
    "hist_years_since": _history(
        f"Periods since the last incident (0 = this period; capped at {YEARS_SINCE_CAP:g})",
        "periods",
    ),
    "hist_rate": _history(
        "District's share of periods so far with an incident, shrunk toward the regional share",
        "share",
    ),
}
SPATIAL_SPECS: dict[str, FeatureSpec] = {
    "hist_spatial": _history(
        "Mean log(1 + incidents) of neighbouring districts in the period (spillover)", "log count"
    ),
    "hist_spatial_decay": _history(
        "Mean decayed incident history of neighbouring districts", "log count"
    ),
}


# With cross-border lags, `hist_spatial*` average the neighbours in the district's own country
# and `hist_spatial_xborder*` those across a national border (0 where a district has none).
WITHIN_SPECS: dict[str, FeatureSpec] = {
    "hist_spatial": _history(
        "Mean log(1 + incidents) of neighbouring districts in the same country in the period",
        "log count",
    ),
    "hist_spatial_decay": _history(
        "Mean decayed incident history of neighbouring districts in the same country", "log count"
    ),
}
XBORDER_SPECS: dict[str, FeatureSpec] = {
    "hist_spatial_xborder": _history(
        "Mean log(1 + incidents) of neighbouring districts across a national border in the "
        "period (cross-border spillover; 0 without such neighbours)",
        "log count",
    ),
    "hist_spatial_xborder_decay": _history(
        "Mean decayed incident history of neighbouring districts across a national border "
        "(0 without such neighbours)",
        "log count",
    ),
}


# how reports name the derived features (catalog `label`)
HISTORY_LABELS = {
    "hist_incidents": "Incidents this period",
    "hist_any": "Any incident this period",
    "hist_decay": "Recent incident history",
    "hist_years_since": "Periods since the last incident",
    "hist_rate": "Historical incident rate",
    "hist_spatial": "Neighbours' incidents this period",
    "hist_spatial_decay": "Neighbours' recent incident history",
    "hist_spatial_xborder": "Cross-border neighbours' incidents this period",
    "hist_spatial_xborder_decay": "Cross-border neighbours' recent incident history",
}
for _specs in (HISTORY_SPECS, SPATIAL_SPECS, WITHIN_SPECS, XBORDER_SPECS):
    for _name, _spec in _specs.items():
        _specs[_name] = _spec.model_copy(update={"label": HISTORY_LABELS[_name]})


def history_specs(with_spatial: bool, cross_border: bool = False) -> dict[str, FeatureSpec]:
    """Catalog entries of the derived conflict-history features that `build_features` adds;
    `cross_border` splits the spatial lags into within-country and cross-border ones."""
    if with_spatial and cross_border:
        return {**HISTORY_SPECS, **WITHIN_SPECS, **XBORDER_SPECS}
    return {**HISTORY_SPECS, **(SPATIAL_SPECS if with_spatial else {})}


def _wide(panel: pd.DataFrame, values: pd.Series) -> pd.DataFrame:
    """districts × period-index matrix of `values` (NaN outside a district's span)."""
    frame = pd.DataFrame(
        {"district_id": panel["district_id"], PERIOD_INDEX: panel[PERIOD_INDEX], "v": values}
    )
    wide = frame.pivot(index="district_id", columns=PERIOD_INDEX, values="v")
    full = range(int(wide.columns.min()), int(wide.columns.max()) + 1)
    return wide.reindex(columns=full)


def _long(panel: pd.DataFrame, wide: pd.DataFrame) -> np.ndarray:
    """Read a wide matrix back at the panel's (district_id, period_index) rows."""
    rows = wide.index.get_indexer(panel["district_id"])
    cols = wide.columns.get_indexer(panel[PERIOD_INDEX])
    if (rows < 0).any():  # -1 would silently read another district's row
        missing = sorted(set(panel["district_id"][rows < 0]))[:5]
        raise DataContractError(f"no polygon or adjacency row for district(s) {missing}")
    return wide.to_numpy()[rows, cols]


def add_target(panel: pd.DataFrame, horizon: int = 1) -> pd.DataFrame:
    """Add `target` = 1.0 if incidents in period t + horizon >= 1, NaN where not yet observed."""
    if horizon < 1:
        raise ValueError("horizon must be >= 1")
    future = panel.groupby("district_id", sort=False)[OUTCOME].shift(-horizon)
    return panel.assign(**{TARGET: (future >= 1).astype(float).where(future.notna())})


def _years_since(any_wide: np.ndarray) -> np.ndarray:
    """Periods since the last incident at or before each period (capped)."""
    out = np.full(any_wide.shape, YEARS_SINCE_CAP)
    last = np.full(any_wide.shape[0], -np.inf)
    for j in range(any_wide.shape[1]):  # loop over periods, vectorised over districts
        last = np.where(any_wide[:, j] > 0, j, last)
        out[:, j] = np.minimum(j - last, YEARS_SINCE_CAP)
    return out


def _expanding_rate(any_wide: np.ndarray) -> np.ndarray:
    """District's share of periods <= t with an incident, shrunk toward the regional share."""
    observed = ~np.isnan(any_wide)
    hits = np.cumsum(np.nan_to_num(any_wide), axis=1)
    count = np.cumsum(observed, axis=1)
    regional = hits.sum(axis=0) / np.maximum(count.sum(axis=0), 1)
    return (hits + RATE_PRIOR_WEIGHT * regional) / (count + RATE_PRIOR_WEIGHT)


def add_history_features(panel: pd.DataFrame) -> pd.DataFrame:
    """Add the conflict-history features of HISTORY_SPECS (needs `period_index`)."""
    log_counts = np.log1p(panel[OUTCOME].astype(float))
    wide = _wide(panel, log_counts)
    values = wide.to_numpy()
    filled = np.nan_to_num(values)
    decay = lfilter([1.0], [1.0, -DECAY], filled, axis=1)
    any_wide = np.where(np.isnan(values), np.nan, (values > 0).astype(float))
    derived = {
        "hist_incidents": values,
        "hist_any": any_wide,
        "hist_decay": decay,
        "hist_years_since": _years_since(np.nan_to_num(any_wide)),
        "hist_rate": _expanding_rate(any_wide),
    }
    return panel.assign(
        **{
            name: _long(panel, pd.DataFrame(m, index=wide.index, columns=wide.columns))
            for name, m in derived.items()
        }
    )


def _neighbour_mean(adjacency: sparse.csr_matrix, values: np.ndarray) -> np.ndarray:
    """Mean over neighbours, ignoring neighbours without a value in that period."""
    present = (~np.isnan(values)).astype(float)
    total = adjacency @ np.nan_to_num(values)
    count = adjacency @ present
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def add_spatial_lags(
    panel: pd.DataFrame,
    adjacency: sparse.csr_matrix,
    district_ids: pd.Index,
    names: tuple[str, str] = ("hist_spatial", "hist_spatial_decay"),
) -> pd.DataFrame:
    """Add SPATIAL_SPECS features (or `names` for them); `adjacency` rows/columns are ordered
    like `district_ids`.

    Needs the history features of `add_history_features`.
    """
    binary = (adjacency > 0).astype(float)
    out = {}
    for name, source in zip(names, ("hist_incidents", "hist_decay"), strict=True):
        wide = _wide(panel, panel[source]).reindex(index=district_ids)
        lagged = _neighbour_mean(binary, wide.to_numpy())
        out[name] = _long(panel, pd.DataFrame(lagged, index=wide.index, columns=wide.columns))
    return panel.assign(**out)


def forecast_rows(frame: pd.DataFrame) -> pd.Series:
    """Mask of the forecast period's rows (the latest period of the frame)."""
    return frame[PERIOD_INDEX] == frame[PERIOD_INDEX].max()


def build_features(
    panel: pd.DataFrame,
    catalog: FeatureCatalog,
    adjacency: sparse.csr_matrix | None = None,
    district_ids: pd.Index | None = None,
    horizon: int = 1,
    cross_border: sparse.csr_matrix | None = None,
) -> tuple[pd.DataFrame, FeatureCatalog]:
    """Validated panel -> (model frame, catalog extended with the derived features).

    The frame keeps keys, labels, covariates and `incidents`, and adds `period_index`, the
    conflict-history features, spatial lags when `adjacency` is given, and `target`. With a
    `cross_border` adjacency holding at least one pair (same order as `adjacency`), `adjacency`
    is read as the within-country neighbours and XBORDER_SPECS lags are added from it.
    """
    reserved = sorted({TARGET, PERIOD_INDEX} & set(catalog.features))
    if reserved:  # building the frame would overwrite these columns
        raise CatalogError(
            f"catalog declares {reserved}, names of model-frame columns; rename them"
        )
    split = adjacency is not None and cross_border is not None and cross_border.nnz > 0
    extended = catalog.with_features(history_specs(adjacency is not None, split))
    frame = panel.assign(**{PERIOD_INDEX: period_ordinal(panel["period"])})
    frame = frame.sort_values(["district_id", PERIOD_INDEX], kind="stable")
    frame = add_history_features(frame)
    if adjacency is not None:
        ids = (
            district_ids
            if district_ids is not None
            else pd.Index(sorted(frame.district_id.unique()))
        )
        frame = add_spatial_lags(frame, adjacency, ids)
        if split:
            frame = add_spatial_lags(frame, cross_border, ids, tuple(XBORDER_SPECS))
    frame = add_target(frame, horizon)
    frame = frame.sort_values([PERIOD_INDEX, "district_id"], kind="stable")
    return frame.reset_index(drop=True), extended
