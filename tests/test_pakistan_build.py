"""`python -m experiments.pakistan`: the shipped catalog, user errors, and the real panel built
from ../shared/data (skipped, with the reason shown, where that folder is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import train
from experiments import pakistan
from features.catalog import load_catalog
from features.census import LAG_SUFFIX
from features.schema import validate_panel

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "ucdp_ged_pakistan").is_dir(),
    reason=f"real data folder {SHARED} is absent: the Pakistan build cannot be checked",
)
PROTECTED_PREFIXES = ("religion", "language", "afghan")


def test_shipped_catalog_declares_every_covariate_with_source_and_no_protected_column() -> None:
    catalog = load_catalog(pakistan.CATALOG)
    assert all(spec.source for spec in catalog.features.values())
    assert not catalog.protected_features  # protected census shares live in protected.csv
    assert not [n for n in catalog.features if n.startswith(PROTECTED_PREFIXES)]


def test_static_census_covariates_say_they_were_measured_in_2023() -> None:
    catalog = load_catalog(pakistan.CATALOG)
    census = {n: s for n, s in catalog.features.items() if n.startswith("census_")}
    assert census and all("2023" in s.description for s in census.values())


def test_time_varying_covariates_say_they_are_lagged() -> None:
    catalog = load_catalog(pakistan.CATALOG)
    lagged = [s for n, s in catalog.features.items() if n.endswith(LAG_SUFFIX)]
    assert lagged and all("previous year" in s.description for s in lagged)


def test_missing_shared_folder_is_one_error_line_and_exit_2(tmp_path: Path, capsys) -> None:
    code = pakistan.main(["--shared", str(tmp_path / "absent"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "absent" in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (SHARED / "ucdp_ged_pakistan").is_dir():
        pytest.skip(f"real data folder {SHARED} is absent")
    out = tmp_path_factory.mktemp("pakistan") / "panel"
    assert pakistan.main(["--shared", str(SHARED), "--out", str(out)]) == 0
    return out


@needs_shared
def test_real_panel_is_contract_valid_and_complete(built: Path) -> None:
    panel = pd.read_parquet(built / "panel.parquet")
    catalog = load_catalog(built / "catalog.toml")
    validated = validate_panel(panel, catalog, "built panel")
    assert len(validated) == validated["district_id"].nunique() * 22
    assert validated["period"].min() == 2000 and validated["period"].max() == 2021
    assert not [c for c in panel.columns if c.startswith(PROTECTED_PREFIXES)]


@needs_shared
def test_real_build_report_accounts_for_every_event(built: Path) -> None:
    report = json.loads((built / "build_report.json").read_text())
    events = report["events"]
    assert events["kept"] + sum(events["dropped"].values()) == events["read"]
    panel = pd.read_parquet(built / "panel.parquet")
    assert panel["incidents"].sum() == events["kept"]
    assert report["census"]["unmatched_census_districts"] == []


@needs_shared
def test_real_protected_table_is_keyed_by_the_panel_districts(built: Path) -> None:
    protected = pd.read_csv(built / "protected.csv")
    panel = pd.read_parquet(built / "panel.parquet")
    assert set(protected["district_id"]) == set(panel["district_id"])
    assert "afghan_nationals_share" in protected.columns


@needs_shared
def test_real_panel_trains_end_to_end(built: Path, tmp_path: Path) -> None:
    code = train.main(
        [
            "--config", "experiments/configs/pakistan.toml",
            "--data", str(built / "panel.parquet"),
            "--catalog", str(built / "catalog.toml"),
            "--geometry", str(built / "districts.geojson"),
            "--output", str(tmp_path / "train"),
            "--set", "model.xgboost.n_estimators=50",
            "--set", "explain.enabled=false",
            "--set", "split.n_folds=2",
            "-q",
        ]
    )  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "train" / "summary.json").read_text())
    assert (
        summary["data"]["n_districts"]
        == pd.read_parquet(built / "panel.parquet")["district_id"].nunique()
    )
    assert {"xgboost", "historical_rate", "logistic"} <= set(summary["metrics"])
