"""Distribution shift between the data a model learnt from and new periods."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

PSI_WARNING = 0.25  # the usual rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 large


def population_stability_index(reference: np.ndarray, current: np.ndarray, bins: int = 10):
    """PSI over the reference's quantile bins (values outside go to the end bins)."""
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0 if np.allclose(current, reference[0]) else float("inf")
    inner = edges[1:-1]
    ref_share = np.bincount(
        np.searchsorted(inner, reference, side="right"), minlength=len(edges) - 1
    ) / len(reference)
    cur_share = np.bincount(
        np.searchsorted(inner, current, side="right"), minlength=len(edges) - 1
    ) / len(current)
    ref_share, cur_share = np.clip(ref_share, 1e-4, None), np.clip(cur_share, 1e-4, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def feature_drift(
    reference: pd.DataFrame, current: pd.DataFrame, features: list[str]
) -> pd.DataFrame:
    """Per feature: PSI, Kolmogorov-Smirnov statistic and p-value, and `large` (PSI > 0.25)."""
    rows = []
    for feature in features:
        ks = ks_2samp(reference[feature], current[feature])
        psi = population_stability_index(reference[feature], current[feature])
        rows.append(
            {
                "feature": feature,
                "psi": psi,
                "ks_statistic": float(ks.statistic),
                "ks_pvalue": float(ks.pvalue),
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
