"""Bad hand-made input gives one clear error naming file, column and rows — never a traceback.

One regression test per reproduction of the hardening issue, at the function that refuses it
and end to end through `train.main` (exit code 2, one `error:` line naming the file).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import train
from experiments.config import ConfigError, load_config
from experiments.data import ExperimentInputs
from experiments.prepare import prepare
from features.build import build_features
from features.catalog import load_catalog, parse_catalog
from features.errors import CatalogError, DataContractError
from features.loaders import read_geometry, read_panel
from features.schema import FLOAT32_MAX, check_outcome_varies, validate_panel
from models.targeting import load_programs

CATALOG_TOML = '[features.x]\ndomain = "socio-economic"\nactionable = true\n'
CATALOG = parse_catalog({"features": {"x": {"domain": "socio-economic", "actionable": True}}})


def make_panel(n_districts: int = 6, n_periods: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"district_id": f"D{d}", "period": 2000 + t, "incidents": int((d + t) % 3 == 0)}
        for d in range(n_districts)
        for t in range(n_periods)
    ]
    return pd.DataFrame(rows).assign(x=rng.normal(size=n_districts * n_periods))


def squares(ids: list[str], null: set[str] = frozenset()) -> dict:
    features = []
    for i, district in enumerate(ids):
        x = float(i)
        ring = [[x, 0.0], [x + 1, 0.0], [x + 1, 1.0], [x, 1.0], [x, 0.0]]
        geometry = None if district in null else {"type": "Polygon", "coordinates": [ring]}
        features.append(
            {"type": "Feature", "properties": {"district_id": district}, "geometry": geometry}
        )
    return {"type": "FeatureCollection", "features": features}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A valid panel, catalog and geometry on disk."""
    panel = tmp_path / "panel.csv"
    make_panel().to_csv(panel, index=False)
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(CATALOG_TOML, encoding="utf-8")
    geometry = tmp_path / "districts.geojson"
    geometry.write_text(json.dumps(squares([f"D{d}" for d in range(6)])), encoding="utf-8")
    return {"panel": panel, "catalog": catalog, "geometry": geometry, "dir": tmp_path}


def refused(path: Path) -> str:
    """validate_panel(read_panel(path)) must raise DataContractError; its message."""
    with pytest.raises(DataContractError) as info:
        validate_panel(read_panel(path), CATALOG, str(path))
    return str(info.value)


def cli_error(files: dict[str, Path], capsys: pytest.CaptureFixture, *extra: str) -> str:
    """Run train.py on `files` plus `extra`; it must exit 2 with one `error:` line, log nothing
    and write nothing. Returns that line."""
    out = files["dir"] / "out"
    argv = ["--data", str(files["panel"]), "--catalog", str(files["catalog"]), "-q"]
    code = train.main([*argv, "--output", str(out), *extra])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert lines[-1].startswith("error: ")
    assert not (files["dir"] / "mlflow" / "mlflow.db").exists()
    assert not out.exists()
    return lines[-1]


def assert_names(message: str, *parts: str) -> None:
    missing = [p for p in parts if p not in message]
    assert not missing, f"{missing} not named in: {message}"


# --- header only ------------------------------------------------------------------------------


def test_header_only_csv_is_refused_naming_the_file(files, capsys):
    make_panel().head(0).to_csv(files["panel"], index=False)
    assert_names(refused(files["panel"]), str(files["panel"]), "no rows")
    assert_names(cli_error(files, capsys), str(files["panel"]), "no rows")


# --- one class ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "incidents, says", [(0, "the panel has no incidents"), (2, "every district-period has")]
)
def test_panel_with_one_outcome_is_refused_before_training(incidents, says):
    panel = validate_panel(make_panel().assign(incidents=incidents), CATALOG, "p.csv")
    with pytest.raises(DataContractError) as info:
        check_outcome_varies(panel, "p.csv")
    assert_names(str(info.value), "p.csv", says, "'incidents'")


def test_all_zero_incidents_exit_2_naming_the_file(files, capsys):
    make_panel().assign(incidents=0).to_csv(files["panel"], index=False)
    assert_names(cli_error(files, capsys), str(files["panel"]), "the panel has no incidents")


def _prepare(panel: pd.DataFrame, *overrides: str):
    clean = validate_panel(panel, CATALOG, "p.csv")
    ids = pd.Index(sorted(clean["district_id"].unique()))
    inputs = ExperimentInputs(clean, CATALOG, "p.csv", "f", False, None, ids)
    return prepare(load_config(None, ["split.min_train_periods=2", *overrides]), inputs)


def test_labelled_rows_with_one_target_class_are_refused_in_prepare():
    panel = make_panel().assign(incidents=0)
    panel.loc[panel["period"] == 2000, "incidents"] = 1  # period 2000 is nobody's target
    with pytest.raises(DataContractError) as info:
        _prepare(panel, "split.n_folds=1")
    assert_names(str(info.value), "p.csv", "no labelled row has incidents 1 period(s) later")


def test_single_class_training_window_of_a_fold_is_refused_naming_the_fold():
    panel = make_panel().assign(incidents=0)
    panel.loc[panel["period"] == 2007, "incidents"] = 1  # only the last fold's test rows
    with pytest.raises(DataContractError) as info:
        _prepare(panel, "split.n_folds=1")
    assert_names(str(info.value), "p.csv", "fold 1", "periods up to 2005", "split.n_folds")


def test_training_windows_with_both_classes_are_prepared():
    prepared = _prepare(make_panel(), "split.n_folds=2")
    assert len(prepared.folds) == 2


# --- values beyond float32 --------------------------------------------------------------------


def test_feature_beyond_float32_is_refused_naming_file_column_and_row(files, capsys):
    panel = make_panel()
    panel.loc[5, "x"] = 1e308
    panel.loc[7, "x"] = -3.5e38
    panel.to_csv(files["panel"], index=False)
    message = refused(files["panel"])
    assert_names(message, str(files["panel"]), "'x'", "row 5 (D0, 2005)", "row 7 (D0, 2007)")
    assert_names(cli_error(files, capsys), str(files["panel"]), "'x'", "row 5")


def test_feature_at_float32_max_is_accepted():
    panel = make_panel()
    panel.loc[0, "x"] = FLOAT32_MAX
    assert validate_panel(panel, CATALOG, "p.csv")["x"].max() == FLOAT32_MAX


def test_float32_and_integer_features_come_back_float64_and_unchanged():
    panel = make_panel()
    values = panel["x"].to_numpy(dtype="float64")
    panel["x"] = panel["x"].astype("float32")
    validated = validate_panel(panel, CATALOG, "p.csv")
    assert validated["x"].dtype == "float64"
    np.testing.assert_allclose(validated["x"], values.astype("float32"))
    assert panel["x"].dtype == "float32"  # the caller's frame is not modified


def test_integer_and_sparse_features_are_validated_like_floats():
    panel = make_panel()
    panel["x"] = np.arange(len(panel), dtype="int64")
    assert validate_panel(panel, CATALOG, "p.csv")["x"].dtype == "float64"
    panel["x"] = pd.arrays.SparseArray(np.where(np.arange(len(panel)) == 3, 1e39, 1.0))
    with pytest.raises(DataContractError, match="beyond"):
        validate_panel(panel, CATALOG, "p.csv")


# --- unreadable files -------------------------------------------------------------------------


def test_non_utf8_catalog_exits_2_naming_the_file(files, capsys):
    files["catalog"].write_bytes(b'[features.x]\ndomain = "socio\xff\xfeeconomic"\n')
    with pytest.raises(CatalogError, match="not UTF-8"):
        load_catalog(files["catalog"])
    assert_names(cli_error(files, capsys), str(files["catalog"]), "not UTF-8")


def test_folder_as_config_exits_2_naming_it(files, capsys):
    folder = files["dir"] / "configs"
    folder.mkdir()
    assert_names(cli_error(files, capsys, "--config", str(folder)), str(folder), "folder")


@pytest.mark.parametrize("kind", ["catalog", "config", "programs", "panel", "geometry"])
@pytest.mark.parametrize("problem", ["folder", "latin-1"])
def test_every_file_argument_gives_a_clear_error(tmp_path: Path, kind: str, problem: str):
    path = tmp_path / {"panel": "p.csv", "geometry": "g.geojson"}.get(kind, "f.toml")
    if problem == "folder":
        path.mkdir()
    else:
        path.write_bytes('name = "Kaboul é"\n'.encode("latin-1"))
    load = {
        "catalog": load_catalog,
        "config": load_config,
        "programs": lambda p: load_programs(p, CATALOG),
        "panel": read_panel,
        "geometry": read_geometry,
    }[kind]
    with pytest.raises((CatalogError, ConfigError, DataContractError)) as info:
        load(path)
    assert str(path) in str(info.value)


# --- seeds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["model.seed", "synthetic.seed"])
@pytest.mark.parametrize("value", ["99999999999999999999", "4294967296", "-1"])
def test_seed_outside_0_to_2_32_is_refused(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [f"{key}={value}"])


def test_largest_seed_is_accepted():
    assert load_config(None, ["model.seed=4294967295"]).model.seed == 2**32 - 1


def test_huge_seed_exits_2(files, capsys):
    line = cli_error(files, capsys, "--set", "model.seed=99999999999999999999")
    assert_names(line, "model.seed")


# --- boolean incidents ------------------------------------------------------------------------


def test_boolean_incidents_are_refused_naming_file_and_column(files, capsys):
    panel = make_panel()
    panel.assign(incidents=panel["incidents"] > 0).to_csv(files["panel"], index=False)
    assert_names(refused(files["panel"]), str(files["panel"]), "'incidents'", "True/False")
    assert_names(cli_error(files, capsys), str(files["panel"]), "'incidents'")


def test_booleans_mixed_into_incidents_are_refused_at_their_rows():
    panel = make_panel().astype({"incidents": object})
    panel.loc[3, "incidents"] = True
    with pytest.raises(DataContractError, match=r"True/False; booleans at row 3 \(D0, 2003\)$"):
        validate_panel(panel, CATALOG, "p.csv")


# --- geometry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "geometry", [None, {"type": "Polygon", "coordinates": []}], ids=["null", "empty"]
)
def test_district_without_a_polygon_is_refused_naming_file_and_district(tmp_path, geometry):
    collection = squares(["D0", "D1", "D2"])
    collection["features"][1]["geometry"] = geometry
    path = tmp_path / "g.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")
    with pytest.raises(DataContractError) as info:
        read_geometry(path)
    assert_names(str(info.value), str(path), "D1", "no polygon")


def test_null_polygon_exits_2_naming_the_file(files, capsys):
    ids = [f"D{d}" for d in range(6)]
    files["geometry"].write_text(json.dumps(squares(ids, null={"D4"})), encoding="utf-8")
    line = cli_error(files, capsys, "--geometry", str(files["geometry"]))
    assert_names(line, str(files["geometry"]), "D4")


def test_points_and_missing_ids_in_geometry_are_refused(tmp_path):
    collection = squares(["D0", "D1"])
    collection["features"][0]["geometry"] = {"type": "Point", "coordinates": [0.5, 0.5]}
    path = tmp_path / "g.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")
    with pytest.raises(DataContractError, match="D0 are not polygons"):
        read_geometry(path)
    collection = squares(["D0", None])
    path.write_text(json.dumps(collection), encoding="utf-8")
    with pytest.raises(DataContractError, match="'district_id' is missing for feature"):
        read_geometry(path)


# --- a district without the last period -------------------------------------------------------


def test_district_missing_the_last_period_is_a_warning_naming_it(caplog):
    panel = make_panel()
    panel = panel[~((panel["district_id"].isin(["D2", "D4"])) & (panel["period"] == 2007))]
    with caplog.at_level(logging.WARNING, logger="features.schema"):
        clean = validate_panel(panel, CATALOG, "p.csv")
    assert len(clean) == len(panel)
    message = caplog.records[-1].getMessage()
    assert_names(message, "p.csv", "2 district(s)", "2007", "D2, D4", "no forecast")


def test_districts_starting_late_are_no_warning(caplog):
    panel = make_panel()
    panel = panel[~((panel["district_id"] == "D2") & (panel["period"] == 2000))]
    with caplog.at_level(logging.WARNING, logger="features.schema"):
        validate_panel(panel, CATALOG, "p.csv")
    assert not caplog.records


# --- ids read as written ----------------------------------------------------------------------


def test_na_none_and_nan_are_district_ids_in_a_csv(files):
    panel = make_panel()
    panel["district_id"] = panel["district_id"].replace({"D1": "NA", "D2": "None", "D3": "nan"})
    panel.to_csv(files["panel"], index=False)
    clean = validate_panel(read_panel(files["panel"]), CATALOG, str(files["panel"]))
    assert {"NA", "None", "nan"} <= set(clean["district_id"])
    assert len(clean) == len(panel)


def test_blank_district_id_in_a_csv_is_still_refused_as_missing(files):
    panel = make_panel().astype({"district_id": object})
    panel.loc[9, "district_id"] = ""
    panel.to_csv(files["panel"], index=False)
    assert_names(refused(files["panel"]), "key column 'district_id' is missing at row 9")


def test_na_district_trains_end_to_end(files, capsys):
    panel = make_panel()
    panel["district_id"] = panel["district_id"].replace({"D1": "NA"})
    panel.to_csv(files["panel"], index=False)
    small = ["split.n_folds=1", "split.min_train_periods=3", "model.xgboost.n_estimators=10"]
    small += ["model.xgboost.n_jobs=1", "explain.enabled=false"]
    argv = ["--data", str(files["panel"]), "--catalog", str(files["catalog"]), "-q"]
    argv += ["--output", str(files["dir"] / "out")]
    assert train.main(argv + [a for s in small for a in ("--set", s)]) == 0
    forecast = pd.read_csv(files["dir"] / "out" / "forecast.csv", keep_default_na=False)
    assert "NA" in set(forecast["district_id"])


# --- further contract holes found while fuzzing -----------------------------------------------


@pytest.mark.parametrize("period", [np.inf, 1e20, -3, 10_000])
def test_years_outside_0_to_9999_are_refused(period):
    panel = make_panel().astype({"period": float})
    panel.loc[2, "period"] = period
    with pytest.raises(DataContractError, match=r"'period' must hold whole years.*row 2"):
        validate_panel(panel, CATALOG, "p.csv")


def test_non_ascii_digits_are_no_year():
    panel = make_panel().astype({"period": str})
    panel.loc[0, "period"] = "٢٠٠٠"
    with pytest.raises(DataContractError, match="'period' must hold integer years"):
        validate_panel(panel, CATALOG, "p.csv")


def test_repeated_columns_are_refused():
    panel = make_panel()
    panel = pd.concat([panel, panel[["x"]]], axis=1)
    with pytest.raises(DataContractError, match=r"\['x'\] appear more than once"):
        validate_panel(panel, CATALOG, "p.csv")


@pytest.mark.parametrize("name", ["incidents", "period", "country"])
def test_catalog_declaring_keys_labels_or_outcome_is_refused(name):
    catalog = parse_catalog({"features": {name: {"domain": "geography"}}})
    with pytest.raises(DataContractError, match=f"declares \\['{name}'\\] as features"):
        validate_panel(make_panel().assign(country="X"), catalog, "p.csv")


@pytest.mark.parametrize("name", ["target", "period_index"])
def test_catalog_features_named_like_model_frame_columns_are_refused(name):
    catalog = parse_catalog({"features": {name: {"domain": "geography"}}})
    panel = validate_panel(make_panel().rename(columns={"x": name}), catalog, "p.csv")
    with pytest.raises(CatalogError, match=name):
        build_features(panel, catalog)


@pytest.mark.parametrize("amount", ["inf", "-inf", "nan"])
def test_program_with_a_non_finite_amount_is_refused(tmp_path, amount):
    path = tmp_path / "programs.toml"
    path.write_text(f"[programs.p]\nshift = {{ x = {amount} }}\ncost_per_district = 1.0\n")
    with pytest.raises(CatalogError, match=r"programs\.p\.shift\.x: must be a finite number"):
        load_programs(path, CATALOG)
