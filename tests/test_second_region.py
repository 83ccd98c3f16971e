"""The second synthetic region (benchmarks/second_region.py) writes valid user files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.second_region import NAIVE_PROGRAM, PROTECTED, write_second_region
from features.catalog import load_catalog
from features.loaders import read_geometry, read_panel
from features.schema import check_outcome_varies, validate_panel
from features.spatial import queen_adjacency
from models.targeting import load_programs

SMALL = {"seed": 5, "n_districts": 40, "n_periods": 10}


def test_files_are_valid_user_inputs(tmp_path: Path) -> None:
    paths = write_second_region(tmp_path / "a", **SMALL)
    assert set(paths) == {"panel", "catalog", "geometry", "programs", "truth"}
    assert all(p.is_file() for p in paths.values())
    catalog = load_catalog(paths["catalog"])
    assert catalog.protected_features == [PROTECTED]
    assert any(spec.actionable for spec in catalog.features.values())
    panel = validate_panel(read_panel(paths["panel"]), catalog, str(paths["panel"]))
    check_outcome_varies(panel, "second region")
    assert len(panel) == 40 * 10 and panel["district_id"].nunique() == 40
    assert PROTECTED in panel.columns and panel["country"].nunique() == 2
    ids = pd.Index(sorted(panel["district_id"].unique()))
    adjacency = queen_adjacency(read_geometry(paths["geometry"]), ids)
    assert adjacency.shape == (40, 40) and (np.asarray(adjacency.sum(axis=1)) > 0).all()
    programs = load_programs(paths["programs"], catalog)
    assert NAIVE_PROGRAM in programs.programs
    truth = pd.read_parquet(paths["truth"])
    keys = ["district_id", "period"]
    assert truth[keys].astype(str).equals(panel[keys].astype(str))
    assert ((truth["oracle_prob"] > 0) & (truth["oracle_prob"] < 1)).all()


def test_same_seed_same_files(tmp_path: Path) -> None:
    first = write_second_region(tmp_path / "a", **SMALL)
    second = write_second_region(tmp_path / "b", **SMALL)
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes(), name
    other = write_second_region(tmp_path / "c", **{**SMALL, "seed": 6})
    assert other["panel"].read_bytes() != first["panel"].read_bytes()
