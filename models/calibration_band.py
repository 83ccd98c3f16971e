"""Held-out calibration bands: how far a model's probabilities sat from the observed rates, by
risk level, as a widening of its forecast interval.

The range of a multi-model pool (`models.probability.risk_interval`) measures how much the
forecast moves when the data are resampled; it misses an error every model of the pool shares
(e.g. forecasts drawn toward the mean at the highest risks). Such a shared error shows on the
held-out periods: in a bin of similar forecasts, the observed rate differs from the mean
forecast. `calibration_band` takes, per bin of held-out forecasts (equal counts, merged until
each holds 10 events and 10 non-events), the `level`
interval of the observed rate (Jeffreys) as log-odds gaps from the bin's mean forecast;
`CalibrationBand.widen` stretches each forecast's interval to hold its own log-odds plus its
bin's gaps. What share of true probabilities the widened interval holds is measured on the
synthetic truth (README), not derived.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta

from models.probability import logit, sigmoid

BAND_BINS = 10
BAND_LEVEL = 0.9
MIN_OUTCOMES = 10  # events and non-events a bin needs (else merged with a neighbour)


def _bin_index(edges: np.ndarray | tuple | list, probability: np.ndarray) -> np.ndarray:
    """The bin of each probability by bin limits `edges` (values outside: the outer bins)."""
    inner = np.asarray(edges[1:-1], dtype=float)
    return np.searchsorted(inner, np.asarray(probability, dtype=float), side="right")


@dataclass(frozen=True)
class CalibrationBand:
    """`edges`: bin limits of held-out forecasts (the outer bins reach 0 and 1); `low` and
    `high`: per bin, the log-odds gap from the bin's mean forecast to the lower and upper
    bound of its observed rate's interval (`low` <= `high`); `counts`: held-out rows per bin."""

    edges: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    counts: tuple[int, ...]

    def to_dict(self) -> dict[str, list]:
        return {k: list(getattr(self, k)) for k in ("edges", "low", "high", "counts")}

    @classmethod
    def from_dict(cls, spec: dict[str, list]) -> CalibrationBand:
        return cls(
            edges=tuple(float(v) for v in spec["edges"]),
            low=tuple(float(v) for v in spec["low"]),
            high=tuple(float(v) for v in spec["high"]),
            counts=tuple(int(v) for v in spec["counts"]),
        )

    def bins(self, probability: np.ndarray) -> np.ndarray:
        """The bin of each probability (by `edges`; values outside go to the outer bins)."""
        return _bin_index(self.edges, probability)

    def widen(
        self, low: np.ndarray, high: np.ndarray, probability: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """[low, high] stretched to hold each `probability` moved by its bin's log-odds
        gaps; NaN where the interval is NaN (no refits: no interval)."""
        bins = self.bins(probability)
        z = logit(probability)
        shifted_low = sigmoid(z + np.asarray(self.low)[bins])
        shifted_high = sigmoid(z + np.asarray(self.high)[bins])
        return np.minimum(low, shifted_low), np.maximum(high, shifted_high)


def _merged_edges(p: np.ndarray, y: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """`edges` with bins merged into their upper neighbour (the last into its lower one) until
    each holds at least MIN_OUTCOMES events and as many non-events: a binomial interval of
    fewer says little, and neighbouring bins of a few events each would point every way."""
    edges = list(edges)
    while len(edges) > 2:
        bins = _bin_index(edges, p)
        events = np.bincount(bins, weights=y, minlength=len(edges) - 1)
        rows = np.bincount(bins, minlength=len(edges) - 1)
        thin = np.flatnonzero((events < MIN_OUTCOMES) | (rows - events < MIN_OUTCOMES))
        if not len(thin):
            break
        b = int(thin[0])
        del edges[b + 1 if b < len(edges) - 2 else b]  # the edge it shares with a neighbour
    return np.asarray(edges)


def calibration_band(
    probability: np.ndarray,
    outcome: np.ndarray,
    n_bins: int = BAND_BINS,
    level: float = BAND_LEVEL,
) -> CalibrationBand | None:
    """The band of held-out `probability` (a model's rolling-origin forecasts) against the
    0/1 `outcome` of the same rows: up to `n_bins` bins of equal counts, merged until each
    holds MIN_OUTCOMES events and non-events (`_merged_edges`). None without rows or with
    one distinct forecast."""
    p = np.asarray(probability, dtype=float)
    y = np.asarray(outcome, dtype=float)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} held-out forecasts but {y.size} outcomes")
    known = np.isfinite(p) & np.isfinite(y)
    p, y = p[known], y[known]
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1))) if len(p) else []
    if len(edges) < 2:
        return None
    edges = _merged_edges(p, y, np.r_[0.0, edges[1:-1], 1.0])
    bins = _bin_index(edges, p)
    tail = (1 - level) / 2
    low, high, counts = [], [], []
    for b in range(len(edges) - 1):
        inside = bins == b
        n, k = int(inside.sum()), float(y[inside].sum())
        lo, hi = beta.ppf([tail, 1 - tail], k + 0.5, n - k + 0.5)  # Jeffreys interval
        centre = logit(p[inside].mean())
        low.append(float(logit(lo) - centre))
        high.append(float(logit(hi) - centre))
        counts.append(n)
    return CalibrationBand(tuple(float(e) for e in edges), tuple(low), tuple(high), tuple(counts))
