"""Property-based fuzzing of every input a user hands rootcast: panel, feature catalog,
geometry, program catalog and experiment config (file and `--set` values).

Property: each entry point either returns a valid result or raises a RootcastError (which the
CLI prints as one `error:` line) — never any other exception. Valid inputs are mutated: columns
dropped, renamed or repeated, NaN/inf/huge/boolean/text values, duplicate keys, empty frames,
odd ids and periods, broken bytes and encodings, null/empty/invalid polygons, unknown ids.

`make test` runs a small derandomised subset; `make fuzz` (ROOTCAST_FUZZ=1) runs 1,000 random
cases per test (see tests/fuzz_profiles.py). Strategies live in tests/fuzz_strategies.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import fuzz_profiles
import numpy as np
import pandas as pd
import pytest
from fuzz_strategies import (
    CONFIG_KEYS,
    CSV_EDITS,
    ENCODING,
    FEATURE_NAME,
    FEATURE_SPEC,
    MUTATION,
    PROGRAM,
    SET_VALUE,
    TEXT_EDITS,
    VALUE,
    geojson_texts,
    mostly,
    mutate,
    toml_tables,
    toml_value,
    valid_panels,
    write_text_file,
)
from hypothesis import event, given
from hypothesis import strategies as st

from experiments.config import load_config
from experiments.data import ExperimentInputs
from experiments.prepare import prepare
from features.build import build_features
from features.catalog import load_catalog, parse_catalog
from features.errors import RootcastError
from features.loaders import read_geometry, read_panel
from features.schema import check_outcome_varies, validate_panel
from features.spatial import queen_adjacency
from models.targeting import load_programs

PROFILE = fuzz_profiles.load()

CATALOG = parse_catalog(
    {
        "features": {
            "poverty": {"domain": "socio-economic", "actionable": True},
            "distance": {"domain": "geography"},
            "minority_share": {"domain": "demography", "protected": True},
        }
    }
)
CONFIG = load_config(None, ["split.n_folds=1", "split.min_train_periods=2"])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def accepted_or_rootcast_error(call, *args, **kwargs):
    """Run `call`; a RootcastError is an accepted outcome (returns None), anything else fails.
    Each outcome is a hypothesis event (shown by `make fuzz`)."""
    try:
        result = call(*args, **kwargs)
    except RootcastError as exc:
        assert str(exc).strip(), "a RootcastError needs a message"
        event(f"{call.__name__}: refused ({type(exc).__name__})")
        return None
    event(f"{call.__name__}: accepted")
    return result


def check_accepted_panel(panel: pd.DataFrame, source: str) -> None:
    """A panel validation accepted must go through feature building and fold preparation."""
    assert list(panel.columns[:2]) == ["district_id", "period"]
    assert panel["incidents"].dtype == "int64" and (panel["incidents"] >= 0).all()
    assert np.isfinite(panel[["poverty", "distance"]].to_numpy()).all()
    both = panel["incidents"].min() == 0 < panel["incidents"].max()
    try:
        check_outcome_varies(panel, source)
    except RootcastError:
        assert not both, "check_outcome_varies refused a panel with both outcomes"
    ids = pd.Index(sorted(panel["district_id"].unique()))
    frame, _ = build_features(panel, CATALOG, None, ids, 1)
    assert len(frame) == len(panel)
    inputs = ExperimentInputs(panel, CATALOG, source, "fuzz", False, None, ids)
    accepted_or_rootcast_error(prepare, CONFIG, inputs)


def _write_csv(frame: pd.DataFrame, path: Path) -> bool:
    try:
        frame.to_csv(path, index=False)
    except (UnicodeEncodeError, ValueError):  # the writer refuses it: nothing to read back
        return False
    return True


# --- panels -----------------------------------------------------------------------------------


@given(
    panel=valid_panels(),
    mutations=st.lists(MUTATION, max_size=4),
    sink=st.sampled_from(["frame", "csv", "parquet"]),
)
def test_fuzz_panel(workdir: Path, panel, mutations, sink) -> None:
    """Mutated panels, as frames or through CSV/Parquet files: validated or refused."""
    frame = mutate(panel, mutations)
    source = "fuzz-frame"
    if sink != "frame":
        path = workdir / f"panel.{sink}"
        if sink == "csv" and _write_csv(frame, path):
            frame = accepted_or_rootcast_error(read_panel, path)
            source = str(path)
        elif sink == "parquet":
            try:
                frame.to_parquet(path, index=False)
            except Exception:  # pyarrow cannot store it: validate the frame itself
                pass
            else:
                frame = accepted_or_rootcast_error(read_panel, path)
                source = str(path)
    if frame is None:
        return
    clean = accepted_or_rootcast_error(validate_panel, frame, CATALOG, source)
    if clean is not None:
        check_accepted_panel(clean, source)


@given(panel=valid_panels(), edits=CSV_EDITS)
def test_fuzz_panel_csv_bytes(workdir: Path, panel, edits) -> None:
    """A valid CSV file with bytes deleted and inserted (broken quoting, encodings, rows)."""
    data = bytearray(panel.to_csv(index=False).encode())
    for where, delete, insert in edits:
        at = int(where * len(data))
        data[at : at + delete] = insert
    path = workdir / "bytes.csv"
    path.write_bytes(bytes(data))
    frame = accepted_or_rootcast_error(read_panel, path)
    if frame is not None:
        clean = accepted_or_rootcast_error(validate_panel, frame, CATALOG, str(path))
        if clean is not None:
            check_accepted_panel(clean, str(path))


# --- TOML files: catalog, programs, config -----------------------------------------------------


@given(
    features=st.dictionaries(FEATURE_NAME, FEATURE_SPEC, min_size=1, max_size=4),
    edits=TEXT_EDITS,
    encoding=ENCODING,
    panel=valid_panels(),
)
def test_fuzz_catalog(workdir: Path, features, edits, encoding, panel) -> None:
    """Catalogs (structured, then bytes edited, other encodings); an accepted catalog is used
    to validate and build a panel holding its features."""
    path = write_text_file(
        workdir / "catalog.toml", toml_tables("features", features), edits, encoding
    )
    catalog = accepted_or_rootcast_error(load_catalog, path)
    if catalog is None:
        return
    frame = panel[["district_id", "period", "incidents"]].assign(
        **{name: 1.0 for name in catalog.features}
    )
    clean = accepted_or_rootcast_error(validate_panel, frame, catalog, "fuzz")
    if clean is not None:
        ids = pd.Index(sorted(clean["district_id"].unique()))
        accepted_or_rootcast_error(build_features, clean, catalog, None, ids, 1)


@given(
    programs=st.dictionaries(st.text(max_size=6), PROGRAM, min_size=1, max_size=3),
    edits=TEXT_EDITS,
    encoding=ENCODING,
)
def test_fuzz_program_catalog(workdir: Path, programs, edits, encoding) -> None:
    """Program catalogs: accepted ones move only actionable features by finite amounts."""
    path = write_text_file(
        workdir / "programs.toml", toml_tables("programs", programs), edits, encoding
    )
    loaded = accepted_or_rootcast_error(load_programs, path, CATALOG)
    if loaded is not None:
        for spec in loaded.programs.values():
            assert set(spec.features) <= {"poverty"}
            amounts = [*spec.shift.values(), *spec.scale.values(), spec.cost_per_district]
            assert all(math.isfinite(v) for v in amounts)


@given(
    overrides=st.lists(
        mostly(st.tuples(CONFIG_KEYS, SET_VALUE).map("=".join), st.text(max_size=8)),
        max_size=4,
    )
)
def test_fuzz_config_overrides(overrides) -> None:
    """`--set key=value` arguments: an accepted config has seeds in xgboost's range."""
    config = accepted_or_rootcast_error(load_config, None, overrides)
    if config is not None:
        assert 0 <= config.model.seed < 2**32 and 0 <= config.synthetic.seed < 2**32


@given(
    sections=mostly(
        st.fixed_dictionaries(
            {},
            optional={
                "model": st.fixed_dictionaries({"seed": st.integers(0, 99)}),
                "split": st.fixed_dictionaries({"n_folds": st.integers(1, 5)}),
                "data": st.fixed_dictionaries({"panel": st.text(max_size=5)}),
            },
        ),
        st.dictionaries(
            st.sampled_from(["model", "split", "synthetic", "data", "oops"]),
            st.dictionaries(st.sampled_from(["seed", "n_folds", "panel", "xgboost"]), VALUE),
            max_size=3,
        ),
    ),
    edits=TEXT_EDITS,
    encoding=ENCODING,
    as_folder=st.integers(0, 20),
)
def test_fuzz_config_file(workdir: Path, sections, edits, encoding, as_folder) -> None:
    """Config files: structured, bytes edited, other encodings, or a folder."""
    if as_folder == 0:
        path = workdir / "config_folder.toml"
        path.mkdir(exist_ok=True)
    else:
        text = "".join(
            f"[{name}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in body.items())
            for name, body in sections.items()
        )
        path = write_text_file(workdir / "config.toml", text, edits, encoding)
    accepted_or_rootcast_error(load_config, path)


# --- geometry ---------------------------------------------------------------------------------


@given(
    text=geojson_texts(),
    known=st.booleans(),
    district_ids=st.lists(st.sampled_from(["D0", "D1", "D2", "D3", "NA", "zz"]), unique=True),
    tolerance=st.sampled_from([0.0, 0.01, 1.0]),
)
def test_fuzz_geometry(workdir: Path, text, known, district_ids, tolerance) -> None:
    """GeoJSON with null/empty/invalid polygons, odd or missing ids; accepted geometry gives a
    symmetric 0/1 adjacency or a refusal naming districts without a polygon."""
    path = workdir / "districts.geojson"
    path.write_text(text, encoding="utf-8")
    geometry = accepted_or_rootcast_error(read_geometry, path)
    if geometry is None:
        return
    assert geometry.geometry.notna().all() and not geometry.geometry.is_empty.any()
    if known:  # the panel's districts all have polygons: the adjacency must be built
        district_ids = [d for d in district_ids if d in set(geometry["district_id"])]
    ids = pd.Index(sorted(district_ids))
    matrix = accepted_or_rootcast_error(queen_adjacency, geometry, ids, tolerance)
    if known:
        assert matrix is not None
    if matrix is not None:
        assert matrix.shape == (len(ids), len(ids))
        assert (matrix != matrix.T).nnz == 0
