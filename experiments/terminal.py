"""Text for the terminal: the held-out skill table and the registration decision."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.selection import Selection


def metrics_table(scores: pd.DataFrame) -> str:
    """Pooled metrics of every model as an aligned text table (models as rows)."""
    pooled = scores[scores["fold"] == "pooled"].drop(columns="fold").set_index("model")
    return pooled.to_string(float_format=lambda v: f"{v:.3f}" if np.isfinite(v) else "n/a")


def selection_lines(selection: dict) -> str:
    """The registration decision and the bootstrap interval, for the terminal."""
    boot = selection["bootstrap"]
    lines = [
        "\n" + Selection(**{k: selection[k] for k in Selection.__dataclass_fields__}).sentence(),
        f"{selection['candidate']} minus the best baseline, 90 % district-bootstrap interval: "
        f"AUPR {boot['aupr_diff']:+.3f} [{boot['aupr_low']:+.3f}, {boot['aupr_high']:+.3f}], "
        f"Brier {boot['brier_diff']:+.4f} [{boot['brier_low']:+.4f}, {boot['brier_high']:+.4f}] "
        f"({_percent(boot, selection)})",
    ]
    if selection.get("weights"):
        weights = ", ".join(f"{k} {v:.2f}" for k, v in selection["weights"].items())
        lines.append(f"stack weights on the members' log-odds: {weights}")
    return "\n".join(lines)


def _percent(boot: dict, selection: dict) -> str:
    """The Brier difference and its interval as percent of the best baseline's Brier."""
    base = selection.get("best_baseline_brier")
    if not base:
        return "of the baseline's Brier: n/a"
    low, diff, high = (100 * boot[k] / base for k in ("brier_low", "brier_diff", "brier_high"))
    return f"{diff:+.1f} % [{low:+.1f}, {high:+.1f}] of {selection['best_baseline']}'s Brier"
