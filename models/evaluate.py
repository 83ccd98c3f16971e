"""Forecast metrics: discrimination, probability accuracy, calibration and top-k targeting."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from features.build import TARGET

REFERENCE_MODEL = "historical_rate"  # Brier skill is measured against this baseline
METRICS = [
    "roc_auc",
    "aupr",
    "brier",
    "brier_skill",
    "log_loss",
    "ece",
    "precision_at_k",
    "recall_at_k",
]


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Mean |observed rate − mean forecast| over equal-width probability bins, weighted by size."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        inside = bins == b
        total += inside.sum() * abs(y[inside].mean() - p[inside].mean())
    return float(total / len(y))


def top_k_precision_recall(
    y: np.ndarray, p: np.ndarray, groups: np.ndarray, k: int
) -> tuple[float, float]:
    """Within each group (period), flag the k highest forecasts; return the mean over groups of
    precision (share of flagged with an incident) and recall (share of incidents flagged).

    Forecasts tied at the k-th value share the remaining places: they count with the mean
    outcome of the tied rows (the expectation over random tie-breaking), so the result does
    not depend on row order. Groups without any incident are left out of the recall mean."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": p, "g": groups})
    precisions, recalls = [], []
    for _, part in frame.groupby("g", sort=True):
        n = min(k, len(part))
        threshold = np.sort(part["p"].to_numpy())[::-1][n - 1]
        above, tied = part["p"] > threshold, part["p"] == threshold
        hits = part.loc[above, "y"].sum() + (n - above.sum()) * part.loc[tied, "y"].mean()
        precisions.append(hits / n)
        if part["y"].sum() > 0:
            recalls.append(hits / part["y"].sum())
    recall = float(np.mean(recalls)) if recalls else float("nan")
    return float(np.mean(precisions)), recall


def forecast_scores(
    y: np.ndarray, p: np.ndarray, groups: np.ndarray, k: int, reference_brier: float
) -> dict[str, float]:
    """All metrics of one model on one set of rows (`groups` = period of each row)."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    both = len(np.unique(y)) == 2
    brier = float(brier_score_loss(y, p))
    precision, recall = top_k_precision_recall(y, p, groups, k)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "aupr": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": brier,
        "brier_skill": 1.0 - brier / reference_brier if reference_brier > 0 else float("nan"),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "precision_at_k": precision,
        "recall_at_k": recall,
    }


def score_predictions(
    predictions: pd.DataFrame, models: list[str], k: int, fold_column: str = "fold"
) -> pd.DataFrame:
    """Metrics per model for every fold and pooled over folds.

    `predictions` has columns `target`, `period_index`, `fold_column` and one probability
    column per model name. Returns a long table: model, fold ("pooled" or the fold number),
    then one column per metric.
    """
    if REFERENCE_MODEL not in predictions.columns:
        raise ValueError(f"predictions need the reference model column '{REFERENCE_MODEL}'")
    rows = []
    parts = [(str(f), part) for f, part in predictions.groupby(fold_column, sort=True)]
    for fold, part in parts + [("pooled", predictions)]:
        y, groups = part["target"].to_numpy(), part["period_index"].to_numpy()
        reference = brier_score_loss(y.astype(int), part[REFERENCE_MODEL].to_numpy())
        for model in models:
            scores = forecast_scores(y, part[model].to_numpy(), groups, k, reference)
            rows.append({"model": model, "fold": fold, **scores})
    return pd.DataFrame(rows)


BOOT_CELLS = 2_000_000  # samples x rows scored at once (~16 MB per matrix)


def weighted_average_precision(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sklearn's `average_precision_score(y, score, sample_weight=w)` for every row `w` of
    `weights` (samples x rows) at once: one sort of `score`, cumulative weighted hits at
    each distinct score. Rows of zero weight change no step, as sklearn drops them. A row
    whose positives all weigh 0 gives NaN (sklearn: 0 with a warning); callers keep only
    samples holding both outcomes."""
    order = np.argsort(score, kind="mergesort")[::-1]  # sklearn's order, ties kept together
    ranked = score[order]
    ends = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # last row of each score
    w = weights[:, order]
    hits = np.cumsum(w * y[order], axis=1)[:, ends]
    flagged = np.cumsum(w, axis=1)[:, ends]
    precision = np.divide(hits, flagged, out=np.ones_like(hits), where=flagged != 0)
    recall_step = np.diff(hits, axis=1, prepend=0.0) / hits[:, -1:]
    return np.sum(recall_step * precision, axis=1)


def paired_bootstrap(
    predictions: pd.DataFrame,
    model: str,
    reference: str,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.9,
) -> dict[str, float]:
    """Interval of the pooled AUPR and Brier differences `model - reference`, resampling
    districts with replacement (all held-out rows of a district together, so the interval
    respects that a district's periods are not independent). Returns the point differences
    and the `level` interval bounds: `aupr_diff`, `aupr_low`, `aupr_high`, `brier_diff`, ...
    Samples holding one outcome only (no AUPR) are skipped."""
    y = predictions[TARGET].to_numpy().astype(int)
    a, b = predictions[model].to_numpy(float), predictions[reference].to_numpy(float)
    codes, _ = pd.factorize(predictions["district_id"])
    rng = np.random.default_rng(seed)
    n_districts = codes.max() + 1
    squared_gap = (a - y) ** 2 - (b - y) ** 2
    draws, chunk = [], max(1, min(n_boot, BOOT_CELLS // len(y)))  # bounded memory
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        picks = [rng.integers(0, n_districts, n_districts) for _ in range(size)]
        weight = np.vstack([np.bincount(p, minlength=n_districts) for p in picks])[:, codes]
        weight = weight.astype(float)
        positives = (weight * y).sum(axis=1)
        weight = weight[(positives > 0) & (positives < weight.sum(axis=1))]  # both outcomes
        aupr = weighted_average_precision(y, a, weight) - weighted_average_precision(y, b, weight)
        brier = weight @ squared_gap / weight.sum(axis=1)
        draws.append(np.column_stack([aupr, brier]))
    tail = (1 - level) / 2
    draws = np.vstack(draws)
    low, high = np.quantile(draws, [tail, 1 - tail], axis=0)
    aupr = average_precision_score(y, a) - average_precision_score(y, b)
    brier = float(np.mean(squared_gap))
    return {
        "aupr_diff": float(aupr),
        "aupr_low": float(low[0]),
        "aupr_high": float(high[0]),
        "brier_diff": brier,
        "brier_low": float(low[1]),
        "brier_high": float(high[1]),
        "n_boot": float(len(draws)),
    }
