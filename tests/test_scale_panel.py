"""The scale benchmark's grid panel (benchmarks/scale_panel.py) is a valid user input, read
from a folder of Parquet files, and its config trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.scale_panel import generate, grid_adjacency
from experiments.config import load_config
from experiments.data import load_inputs
from features.catalog import load_catalog
from features.errors import DataContractError
from features.loaders import read_panel
from features.schema import validate_panel
from models.targeting import load_programs


def test_grid_panel_is_a_valid_monthly_panel_in_yearly_files(tmp_path: Path) -> None:
    rows = generate(tmp_path, n_cells=30, n_months=26, n_features=24, seed=3)
    assert rows == 30 * 26
    assert sorted(p.name for p in (tmp_path / "panel").iterdir()) == [
        "part-2001.parquet",
        "part-2002.parquet",
        "part-2003.parquet",
    ]
    catalog = load_catalog(tmp_path / "catalog.toml")
    raw = read_panel(tmp_path / "panel")
    assert (raw[list(catalog.features)].dtypes == np.float32).all()  # as written
    panel = validate_panel(raw, catalog, "grid")
    assert len(panel) == rows and panel["district_id"].nunique() == 30
    assert panel["period"].iloc[0] == "2001-01" and panel["period"].max() == "2003-02"
    assert 0.02 < (panel["incidents"] > 0).mean() < 0.5
    assert set(load_programs(tmp_path / "programs.toml", catalog).programs) == {
        "program_1",
        "program_2",
    }
    inputs = load_inputs(load_config(tmp_path / "scale.toml"))  # the written config loads
    truth = grid_adjacency(30).toarray() > 0
    assert (inputs.adjacency.toarray() > 0).tolist() == truth.tolist()  # the polygons' pairs


def test_grid_adjacency_is_symmetric_queen_neighbours() -> None:
    adjacency = grid_adjacency(12).toarray()  # 3 x 4 grid
    assert (adjacency == adjacency.T).all() and adjacency.diagonal().sum() == 0
    assert adjacency.sum(1).tolist() == [3, 5, 5, 3, 5, 8, 8, 5, 3, 5, 5, 3]


def test_a_folder_without_parquet_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataContractError, match="without .parquet files"):
        read_panel(tmp_path)


def test_minimal_script_features_look_only_backwards(tmp_path: Path) -> None:
    """The comparison script's target is the next period's outcome; its history features use
    the unit's own past and present only (changing a later period changes no earlier row)."""
    from benchmarks.minimal_xgb import features, read

    generate(tmp_path, n_cells=6, n_months=14, n_features=20, seed=1)
    panel = read(tmp_path / "panel")
    frame, names = features(panel)
    row = frame[frame["district_id"] == "G0000002"].reset_index(drop=True)
    nxt = (row["incidents"].shift(-1) > 0).astype(float)
    assert row["target"].iloc[:-1].tolist() == nxt.iloc[:-1].tolist()
    assert np.isnan(row["target"].iloc[-1])
    later = panel.copy()
    later.loc[later["period"] == "2002-02", "incidents"] += 5
    changed, _ = features(later)
    history = [n for n in names if n.startswith("h_")]
    before = frame["period"] < "2002-02"
    assert changed.loc[before, history].equals(frame.loc[before, history])


def test_training_on_the_grid_names_monthly_folds_as_written(
    tmp_path: Path, fresh_store: str, capsys: pytest.CaptureFixture
) -> None:
    import train

    generate(tmp_path / "grid", n_cells=30, n_months=26, n_features=20, seed=3)
    small = ["explain.enabled=false", "split.n_folds=2", "model.xgboost.n_estimators=20"]
    args = ["--config", str(tmp_path / "grid" / "scale.toml"), "--output", str(tmp_path / "o")]
    assert train.main([*args, *(a for s in small for a in ("--set", s))]) == 0
    err = capsys.readouterr().err
    assert "held-out period 2003-01," in err
