"""`train.py plan`: a new budget from a registered model, without retraining."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import train


def test_plan_for_a_new_budget_stays_within_it(champion_store: dict, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    code = train.main(["plan", "--budget", "3.5", "--output", str(out), "-q"])
    plan = pd.read_csv(out / "plan.csv")
    summary = json.loads((out / "plan_summary.json").read_text())
    assert code == 0
    assert 0 < plan["cost"].sum() <= 3.5
    assert plan["district_id"].is_unique
    assert summary["budget"] == 3.5 and summary["run_id"]
    # the registered model's refits come with it: expected reductions and intervals
    assert plan["reduction"].notna().all() and plan["reduction_low"].notna().all()
    assert (plan["reduction_low"] <= plan["reduction"]).all()
    assert (plan["reduction"] <= plan["reduction_high"]).all()


def test_plan_at_the_run_budget_is_the_run_plan(champion_store: dict, tmp_path: Path) -> None:
    """The same ensemble as the training run (the model and the refits logged with it): the
    same rows, reductions and intervals as the run's plan.csv."""
    budget = champion_store["summary"]["targeting"]["budget"]
    out = tmp_path / "plan"
    assert train.main(["plan", "--budget", str(budget), "--output", str(out), "-q"]) == 0
    columns = ["district_id", "program", "cost", "reduction", "reduction_low", "reduction_high"]
    run = pd.read_csv(champion_store["out"] / "plan.csv")[columns]
    pd.testing.assert_frame_equal(pd.read_csv(out / "plan.csv")[columns], run)


def test_plan_with_the_run_id_matches_the_champion(champion_store: dict, tmp_path: Path) -> None:
    run_id = champion_store["summary"]["run_id"]
    by_alias, by_run = tmp_path / "a", tmp_path / "b"
    assert train.main(["plan", "--budget", "4", "--output", str(by_alias), "-q"]) == 0
    assert (
        train.main(["plan", "--model", run_id, "--budget", "4", "--output", str(by_run), "-q"]) == 0
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(by_alias / "plan.csv"), pd.read_csv(by_run / "plan.csv")
    )


def test_plan_for_an_unknown_model_exits_2(
    champion_store: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = train.main(
        ["plan", "--model", "nope@champion", "--budget", "5", "--output", str(tmp_path / "p")]
    )
    assert code == 2
    assert "nope@champion" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_plan_refuses_a_negative_budget(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # refused before any model is looked up: no store is even opened
    code = train.main(["plan", "--budget", "-1", "--output", str(tmp_path / "p")])
    assert code == 2
    assert "--budget" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
    assert not (tmp_path / "mlflow" / "mlflow.db").exists()
