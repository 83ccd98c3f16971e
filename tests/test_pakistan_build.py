"""`python -m ingest.pakistan`: the shipped catalog, user errors, and the real panel built
from ../shared/data (skipped, with the reason shown, where that folder is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import copy_store

import train
from experiments.config import load_config
from features.catalog import load_catalog
from features.schema import validate_panel
from ingest import pakistan
from ingest.census import LAG_SUFFIX
from models.targeting import load_programs

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "ucdp_ged_pakistan").is_dir(),
    reason=f"real data folder {SHARED} is absent: the Pakistan build cannot be checked",
)
PROTECTED_PREFIXES = ("religion", "language", "afghan")
CONFIG = "experiments/configs/pakistan.toml"
# District-level census measures a program can move; nothing else in the panel is actionable.
ACTIONABLE = {
    "census_literacy",
    "census_female_literacy",
    "census_never_school",
    "census_electricity",
    "census_firewood_cooking",
    "census_improved_water",
    "census_no_toilet",
    "census_kacha_housing",
}


def test_shipped_catalog_declares_every_column_with_source_and_protected_shares() -> None:
    catalog = load_catalog(pakistan.CATALOG)
    assert all(spec.source for spec in catalog.features.values())
    protected = catalog.protected_features
    assert protected == [n for n in catalog.features if n.startswith(PROTECTED_PREFIXES)]
    assert {"religion_muslim_share", "language_pushto_share", "afghan_nationals_share"} <= set(
        protected
    )
    for name in protected:
        spec = catalog.features[name]
        assert not spec.actionable and not spec.programs and "PROTECTED" in spec.description
    assert not set(protected) & set(catalog.model_features)


def test_only_district_census_services_and_poverty_proxies_are_actionable() -> None:
    catalog = load_catalog(pakistan.CATALOG)
    actionable = {n for n, s in catalog.features.items() if s.actionable}
    assert actionable == ACTIONABLE
    assert all(catalog.features[n].programs for n in actionable)


def test_pakistan_config_plans_with_the_pakistan_programs() -> None:
    config = load_config(CONFIG)
    assert config.explain.enabled
    programs = load_programs(config.targeting.programs, load_catalog(pakistan.CATALOG))
    moved = {f for spec in programs.programs.values() for f in spec.features}
    assert moved <= ACTIONABLE and moved  # load_programs refuses non-actionable features
    assert config.targeting.naive_program in programs.programs
    described = {p for n in ACTIONABLE for p in load_catalog(pakistan.CATALOG).features[n].programs}
    assert described == set(programs.programs)  # catalog `programs` name real programs


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
    assert catalog.protected_features == [
        c for c in panel.columns if c.startswith(PROTECTED_PREFIXES)
    ]
    assert panel[catalog.model_features].notna().all().all()


@needs_shared
def test_real_protected_columns_are_missing_exactly_where_the_census_is(built: Path) -> None:
    panel = pd.read_parquet(built / "panel.parquet")
    protected = load_catalog(built / "catalog.toml").protected_features
    no_census = panel["census_missing"] == 1
    assert no_census.any() and (~no_census).any()
    assert panel.loc[no_census, protected].isna().all().all()
    assert panel.loc[~no_census, protected].notna().all().all()
    table = pd.read_csv(built / "protected.csv").set_index("district_id")
    latest = panel[panel["period"] == 2021].set_index("district_id")
    pd.testing.assert_frame_equal(
        latest[protected], table.loc[latest.index, protected], check_exact=False, atol=1e-9
    )


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


@pytest.fixture(scope="module")
def trained(built: Path, tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> Path:
    """One small training run on the real panel with explain and planning on, and its report."""
    out = tmp_path_factory.mktemp("pakistan-train")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", copy_store(store_template, out))
        code = train.main(
            [
                "--config", CONFIG,
                "--data", str(built / "panel.parquet"),
                "--catalog", str(built / "catalog.toml"),
                "--geometry", str(built / "districts.geojson"),
                "--output", str(out / "train"),
                "--report", str(out / "report.html"),
                "--set", "model.xgboost.n_estimators=20",
                "--set", "model.xgboost.n_jobs=1",  # small data: threads cost more than they give
                "--set", "split.n_folds=2",
                "--set", "explain.n_bootstrap=1",
                "--set", "explain.interaction_rows=20",
                "-q",
            ]
        )  # fmt: skip
    assert code == 0
    return out


@needs_shared
def test_real_panel_trains_end_to_end(built: Path, trained: Path) -> None:
    summary = json.loads((trained / "train" / "summary.json").read_text())
    assert (
        summary["data"]["n_districts"]
        == pd.read_parquet(built / "panel.parquet")["district_id"].nunique()
    )
    assert {"xgboost", "historical_rate", "logistic"} <= set(summary["metrics"])
    protected = load_catalog(built / "catalog.toml").protected_features
    assert not set(protected) & set(summary["features"])


@needs_shared
def test_real_plan_respects_budget_and_moves_only_actionable_features(trained: Path) -> None:
    config = load_config(CONFIG)
    plan = pd.read_csv(trained / "train" / "plan.csv")
    assert len(plan) > 0
    assert plan["cost"].sum() <= config.targeting.budget + 1e-9
    assert plan["district_id"].value_counts().max() <= config.targeting.max_per_district
    programs = load_programs(trained / "train" / "programs.toml", load_catalog(pakistan.CATALOG))
    assert set(plan["program"]) <= set(programs.programs)
    assert (plan["reduction"] > 0).all()
    min_risk = plan["program"].map({n: p.min_risk for n, p in programs.programs.items()})
    assert (plan["risk"] >= min_risk).all()


@needs_shared
def test_real_report_has_map_plan_and_audit_and_is_not_called_synthetic(trained: Path) -> None:
    text = (trained / "report.html").read_text(encoding="utf-8")
    audit = text.split('<section id="audit">')[1].split("</section>")[0]
    assert "afghan_nationals_share" in audit and "religion_muslim_share" in audit
    assert "districts have no afghan_nationals_share value" in audit  # AJK/GB, no census rows
    assert 'id="note-audit"' not in text and 'id="note-plan"' not in text
    assert 'id="note-map"' not in text
    assert "SYNTHETIC" not in text
