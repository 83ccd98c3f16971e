"""Retraining with new periods: continuity, drift, champion/challenger promotion, rollback."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_store
from mlflow import MlflowClient

import train
from features.catalog import DEFAULT_CATALOG, load_catalog
from features.continuity import continue_panel
from features.errors import DataContractError
from features.schema import validate_panel
from models.drift import feature_drift, population_stability_index

# weak: xgboost of 3 stumps and an all but unfitted logistic model, the stack's two members
WEAK = [
    *("--set", "model.xgboost.n_estimators=3", "--set", "model.xgboost.max_depth=1"),
    *("--set", "model.logistic_C=0.000001"),
]
STRONG = ["--set", "model.xgboost.n_estimators=40", "--set", "model.xgboost.max_depth=3"]
SMALL = [
    "--set",
    "split.n_folds=2",
    "--set",
    "split.min_train_periods=4",
    "--set",
    "model.xgboost.n_estimators=40",
    "--set",
    "explain.enabled=false",
    "--set",
    "model.xgboost.n_jobs=1",
]


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic region exported as files: 9 periods + 1 new period (read only)."""
    data = tmp_path_factory.mktemp("region")
    assert train.main(["synth", "--out", str(data), "--districts", "80", "--periods", "10"]) == 0
    return data


def _train(data: Path, out: Path, *extra: str) -> dict:
    code = train.main(
        [
            "--data",
            str(data / "panel.csv"),
            "--catalog",
            str(DEFAULT_CATALOG),
            "--geometry",
            str(data / "geometry.geojson"),
            "--output",
            str(out),
            "-q",
            *SMALL,
            *extra,
        ]
    )
    assert code == 0
    return json.loads((out / "summary.json").read_text())


def _retrain(new: Path, out: Path, *extra: str) -> int:
    return train.main(["retrain", "--data", str(new), "--output", str(out), "-q", *extra])


def _client() -> MlflowClient:
    return MlflowClient(os.environ["MLFLOW_TRACKING_URI"])


def _champion() -> str:
    return str(_client().get_model_version_by_alias("rootcast-h1", "champion").version)


def test_better_challenger_is_promoted_and_old_champion_kept_as_previous(
    region: Path, fresh_store: str, tmp_path: Path
) -> None:
    _train(region, tmp_path / "first", *WEAK)
    # the challenger starts from the champion's config; --set changes it
    assert _retrain(region / "new_periods.csv", tmp_path / "second", *STRONG) == 0
    record = json.loads((tmp_path / "second" / "retrain.json").read_text())
    assert record["decision"] == "promoted"
    assert _champion() == record["challenger_version"] != "1"
    assert str(_client().get_model_version_by_alias("rootcast-h1", "previous").version) == "1"
    version = _client().get_model_version("rootcast-h1", record["challenger_version"])
    assert version.tags["promotion.decision"] == "promoted"
    run = _client().get_run(record["challenger_run_id"])
    assert float(run.data.tags["promotion.challenger_score"]) > float(
        run.data.tags["promotion.champion_score"]
    )


def _step(run, folder: Path | None = None) -> dict:
    """Run one command; record its exit code, printed output, retrain.json (when written),
    the champion version and the number of registered versions after it."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run()
    written = folder / "retrain.json" if folder else None
    return {
        "code": code,
        "out": out.getvalue(),
        "err": err.getvalue(),
        "record": json.loads(written.read_text()) if written and written.exists() else None,
        "champion": _champion(),
        "versions": len(_client().search_model_versions("name='rootcast-h1'")),
    }


@pytest.fixture(scope="module")
def history(region: Path, tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> dict:
    """One default champion's life in one store, shared by the two tests below: retrain on
    periods it already has (refused), on the new period with poverty shifted by a weak
    challenger (kept out), the same forced (promoted), then a rollback. Returns each step's
    record (see `_step`) and the folder the steps wrote to."""
    base = tmp_path_factory.mktemp("history")
    shifted = pd.read_csv(region / "new_periods.csv")
    shifted["poverty"] = (shifted["poverty"] + 0.35).clip(upper=1.0)
    shifted.to_csv(base / "shifted.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", copy_store(store_template, base))
        _train(region, base / "first")
        steps = {
            "again": _step(lambda: _retrain(region / "panel.csv", base / "again")),
            "worse": _step(
                lambda: _retrain(base / "shifted.csv", base / "worse", *WEAK), base / "worse"
            ),
            "forced": _step(
                lambda: _retrain(base / "shifted.csv", base / "forced", "--force", *WEAK),
                base / "forced",
            ),
            "rollback": _step(lambda: train.main(["rollback"])),
        }
    return {**steps, "base": base}


def test_worse_challenger_is_kept_out_unless_forced_and_rollback_undoes_it(
    history: dict,
) -> None:
    worse, forced, rollback = history["worse"], history["forced"], history["rollback"]
    assert worse["code"] == 0
    assert worse["record"]["decision"] == "kept champion" and worse["champion"] == "1"
    assert forced["code"] == 0
    record = forced["record"]
    assert record["decision"] == "promoted" and forced["champion"] == record["challenger_version"]
    assert rollback["code"] == 0
    assert rollback["champion"] == "1"


def test_rollback_without_previous_exits_2(champion_store: dict, capsys) -> None:
    assert train.main(["rollback", "--model-name", "nothing-here"]) == 2
    assert "nothing to roll back" in capsys.readouterr().err


def test_retrain_refuses_old_periods_and_flags_drift_in_shifted_ones(history: dict) -> None:
    again, shifted = history["again"], history["worse"]
    assert again["code"] == 2
    assert "already in the model's data" in again["err"]
    assert again["versions"] == 1
    assert shifted["code"] == 0
    drift = pd.read_csv(history["base"] / "worse" / "drift.csv").set_index("feature")
    assert bool(drift.at["poverty", "large"])
    assert drift.index[0] == "poverty"
    assert "poverty" in shifted["out"]


def _panel(periods: range, districts: list[str]) -> pd.DataFrame:
    catalog = load_catalog()
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(
        [(d, p) for d in districts for p in periods], columns=["district_id", "period"]
    )
    rows["incidents"] = rng.poisson(0.3, len(rows))
    for name in catalog.features:
        rows[name] = rng.random(len(rows))
    return validate_panel(rows, catalog, "test")


def test_continue_panel_appends_the_next_period() -> None:
    old, new = _panel(range(2000, 2005), ["A", "B"]), _panel(range(2005, 2006), ["A", "B"])
    combined = continue_panel(old, new, "new.csv")
    assert combined["period"].max() == 2005 and len(combined) == 12


@pytest.mark.parametrize(
    ("periods", "districts", "message"),
    [
        (range(2006, 2007), ["A", "B"], "next period"),
        (range(2004, 2006), ["A", "B"], "already in"),
        (range(2005, 2006), ["A"], "missing from the new data"),
        (range(2005, 2006), ["A", "B", "C"], "new district"),
    ],
)
def test_continue_panel_refuses_data_that_does_not_continue(periods, districts, message):
    old = _panel(range(2000, 2005), ["A", "B"])
    with pytest.raises(DataContractError, match=message):
        continue_panel(old, _panel(periods, districts), "new.csv")


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=5000)
    assert population_stability_index(reference, rng.normal(size=5000)) < 0.02
    assert population_stability_index(reference, rng.normal(1.0, size=5000)) > 0.25


def test_feature_drift_ranks_the_shifted_feature_first() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    cur = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(2.0, size=500)})
    drift = feature_drift(ref, cur, ["a", "b"])
    assert drift["feature"].tolist() == ["b", "a"]
    assert drift.set_index("feature").loc["b", "ks_pvalue"] < 1e-6


def test_retrain_refuses_to_change_the_target_or_data(tmp_path: Path, capsys) -> None:
    code = train.main(
        [
            "retrain",
            "--data",
            "any.csv",
            "--set",
            "target.horizon=2",
            "--output",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    assert "target.horizon" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_continue_panel_refuses_a_district_that_reappears_after_a_gap() -> None:
    old = pd.concat([_panel(range(2000, 2005), ["A"]), _panel(range(2000, 2002), ["B"])])
    old = old.sort_values(["district_id", "period"]).reset_index(drop=True)
    with pytest.raises(DataContractError, match="gaps"):
        continue_panel(
            old, _panel(range(2005, 2006), ["A", "B"]), "new.csv", allow_new_districts=True
        )
