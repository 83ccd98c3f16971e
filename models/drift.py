"""Distribution shift between the data a model learnt from and new periods."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

PSI_WARNING = 0.25  # the usual rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 large


def population_stability_index(reference: np.ndarray, current: np.ndarray, bins: int = 10):
    """PSI over the reference's quantile bins (values outside go to the end bins).

    Missing values (NaN: features the catalog allows to be missing) are left out of the
    quantiles and, where either side has any, counted in one more bin, so a change in how
    often a feature is measured is drift too. Without NaN this is the plain PSI."""
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    ref_nan, cur_nan = np.isnan(reference), np.isnan(current)
    measured, now = reference[~ref_nan], current[~cur_nan]
    with_missing = bool(ref_nan.any() or cur_nan.any())
    edges = np.unique(np.quantile(measured, np.linspace(0, 1, bins + 1))) if len(measured) else []
    if len(edges) < 2:  # one value (or none) measured in the reference: one bin
        same = np.allclose(now, measured[0]) if len(measured) else not len(now)
        if not same:
            return float("inf")
        if not with_missing:
            return 0.0
        inner, n_bins = np.array([np.inf]), 1
    else:
        inner, n_bins = edges[1:-1], len(edges) - 1
    ref_share = _bin_shares(reference, ref_nan, inner, n_bins, with_missing)
    cur_share = _bin_shares(current, cur_nan, inner, n_bins, with_missing)
    ref_share, cur_share = np.clip(ref_share, 1e-4, None), np.clip(cur_share, 1e-4, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _bin_shares(
    values: np.ndarray, missing: np.ndarray, inner: np.ndarray, n_bins: int, with_missing: bool
) -> np.ndarray:
    """Share of all `values` in each bin (measured values by `inner` edges), plus the missing
    share as a last bin when `with_missing`."""
    counts = np.bincount(np.searchsorted(inner, values[~missing], side="right"), minlength=n_bins)
    if with_missing:
        counts = np.append(counts, missing.sum())
    return counts / len(values)


def feature_drift(
    reference: pd.DataFrame, current: pd.DataFrame, features: list[str]
) -> pd.DataFrame:
    """Per feature: PSI, Kolmogorov-Smirnov statistic and p-value, and `large` (PSI > 0.25).
    KS compares measured values only (NaN where a side has none); PSI also counts how often
    a feature is missing (see `population_stability_index`)."""
    rows = []
    for feature in features:
        before, after = reference[feature].dropna(), current[feature].dropna()
        ks = ks_2samp(before, after) if len(before) and len(after) else None
        psi = population_stability_index(reference[feature], current[feature])
        rows.append(
            {
                "feature": feature,
                "psi": psi,
                "ks_statistic": float(ks.statistic) if ks else float("nan"),
                "ks_pvalue": float(ks.pvalue) if ks else float("nan"),
                "large": psi > PSI_WARNING,
            }
        )
    return pd.DataFrame(rows).sort_values("psi", ascending=False, kind="stable")


def outcome_shift(reference: pd.Series, current: pd.Series) -> dict[str, float]:
    """Share of district-periods with an incident, before and in the new periods."""
    before, after = float((reference >= 1).mean()), float((current >= 1).mean())
    return {
        "incident_rate_reference": before,
        "incident_rate_new": after,
        "incident_rate_change": after - before,
    }
