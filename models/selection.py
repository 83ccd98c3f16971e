"""Which model a run registers: the main model only when it beats every baseline.

The rule: the main model (the stack) is registered when its pooled held-out AUPR is higher
AND its pooled Brier score lower than every baseline's. Otherwise the run falls back to the
best baseline, the one with the lowest pooled Brier score (the proper score of the
probabilities users act on; ties broken by AUPR), and says so. The comparison is made on the
rolling-origin folds the run reports: choosing among a handful of fixed model types there is
a selection, not tuning (nothing is fitted to those folds), and the selected model is never
worse than the best baseline printed beside it on either measure when the main model wins,
and is that baseline when it does not.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from models.evaluate import paired_bootstrap

RULE = (
    "the main model is registered only if its pooled held-out AUPR is higher and its Brier "
    "score lower than every baseline's; otherwise the baseline with the lowest Brier score"
)


@dataclass(frozen=True)
class Selection:
    """The model a run registers and why. `best_baseline` has the lowest Brier score,
    `best_aupr_baseline` the highest AUPR (`best_baseline_brier`: the former's Brier score).
    `aupr_margin` = candidate minus the best baseline
    AUPR; `brier_change` = candidate Brier / best baseline Brier - 1 (negative is better);
    `lost_to` lists `baseline.metric` the candidate did not beat; `fold_wins` counts the
    folds where it beat the best baseline on both measures."""

    chosen: str
    candidate: str
    best_baseline: str
    best_aupr_baseline: str
    fell_back: bool
    aupr_margin: float
    brier_change: float
    best_baseline_brier: float
    lost_to: list[str]
    fold_wins: int
    n_folds: int
    rule: str = RULE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sentence(self) -> str:
        """One line for the terminal and the report."""
        if not self.fell_back:
            return f"registered: {self.chosen}, which {self.reason()}"
        return f"registered: {self.chosen} (fallback) — {self.reason()}"

    def reason(self) -> str:
        """Why `chosen` was registered, without its name first: "beats every baseline (…)"
        or "<candidate> did not beat <baseline> on <metric> (…)" for a fallback."""
        margins = (
            f"AUPR {self.aupr_margin:+.3f} vs {self.best_aupr_baseline}, Brier "
            f"{100 * self.brier_change:+.1f} % vs {self.best_baseline}; better than "
            f"{self.best_baseline} on both in {self.fold_wins}/{self.n_folds} folds"
        )
        if not self.fell_back:
            return f"beats every baseline ({margins})"
        lost = ", ".join(
            f"{baseline} on {metric.upper() if metric == 'aupr' else metric.capitalize()}"
            for baseline, _, metric in (item.partition(".") for item in self.lost_to)
        )
        return f"{self.candidate} did not beat {lost} ({margins})"


def _better(metric: str, a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return False
    return a > b if metric == "aupr" else a < b


def select_model(scores: pd.DataFrame, candidate: str, baselines: list[str]) -> Selection:
    """Apply the rule to a `score_predictions` table (per fold and "pooled")."""
    table = scores.set_index(["fold", "model"])[["aupr", "brier"]].astype(float)
    pooled = table.loc["pooled"]
    lost = [
        f"{b}.{m}"
        for b in baselines
        for m in ("aupr", "brier")
        if not _better(m, pooled.loc[candidate, m], pooled.loc[b, m])
    ]
    ranked = pooled.loc[baselines].assign(neg_aupr=lambda t: -t["aupr"].fillna(-1.0))
    best = ranked.sort_values(["brier", "neg_aupr"], kind="stable").index[0]
    folds = [f for f in table.index.get_level_values("fold").unique() if f != "pooled"]
    wins = sum(
        all(
            _better(m, table.loc[(f, candidate), m], table.loc[(f, best), m])
            for m in ("aupr", "brier")
        )
        for f in folds
    )
    return Selection(
        chosen=best if lost else candidate,
        candidate=candidate,
        best_baseline=best,
        best_aupr_baseline=str(pooled.loc[baselines, "aupr"].idxmax()),
        fell_back=bool(lost),
        aupr_margin=float(pooled.loc[candidate, "aupr"] - pooled.loc[baselines, "aupr"].max()),
        brier_change=float(pooled.loc[candidate, "brier"] / pooled.loc[best, "brier"] - 1),
        best_baseline_brier=float(pooled.loc[best, "brier"]),
        lost_to=lost,
        fold_wins=int(wins),
        n_folds=len(folds),
    )


def bootstrap_margins(predictions: pd.DataFrame, selection: Selection, seed: int) -> dict:
    """Paired district-bootstrap intervals (`models.evaluate.paired_bootstrap`) of the
    candidate's AUPR difference to the best AUPR baseline and its Brier difference to the
    best Brier baseline."""
    candidate = selection.candidate
    brier = paired_bootstrap(predictions, candidate, selection.best_baseline, seed=seed)
    aupr = brier
    if selection.best_aupr_baseline != selection.best_baseline:
        aupr = paired_bootstrap(predictions, candidate, selection.best_aupr_baseline, seed=seed)
    return {
        **{k: v for k, v in aupr.items() if k.startswith("aupr")},
        **{k: v for k, v in brier.items() if not k.startswith("aupr")},
    }
