"""benchmarks/bench_intervals.py: both intervals of one panel from the same models, the
widened one holding the pool's range, with coverage where the truth is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_intervals

SMALL = [
    "synthetic.seed=5",
    "synthetic.n_districts=80",
    "explain.n_bootstrap=2",
    "model.xgboost.n_estimators=40",
    "explain.enabled=false",  # as bench_skill's panels; intervals() turns it on
]


def test_intervals_of_a_small_synthetic_panel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_intervals, "panel_config", lambda *args: (None, SMALL))
    row = bench_intervals.intervals("synthetic-5", tmp_path, tmp_path)
    assert row["districts"] == 80
    assert np.isfinite(row["width_plain"]) and row["width_widened"] >= row["width_plain"]
    assert 0 <= row["coverage_plain"] <= row["coverage_widened"] <= 1  # widening only adds
    assert "| synthetic-5 | 80 |" in bench_intervals.render([row])


def test_a_panel_without_data_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_intervals, "panel_config", lambda *args: None)
    assert bench_intervals.intervals("pakistan", tmp_path, tmp_path) is None
