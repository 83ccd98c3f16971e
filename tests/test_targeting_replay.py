"""benchmarks/targeting_replay.py: replaying the default estimate reproduces the training run's
own plan grades; other estimates are graded the same way; runs are cached."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from benchmarks import targeting_replay
from features.build import TARGET
from models import insight, targeting

SMALL = ["explain.n_bootstrap=2", "model.xgboost.n_estimators=40"]


@pytest.fixture(scope="module")
def kept() -> dict:
    return targeting_replay.capture(5, 80, 0.0, SMALL)


def test_replaying_the_default_estimate_reproduces_the_run(kept: dict) -> None:
    table = targeting_replay.replay_run(kept, ["default", "split_model_risk_true_relative"])
    scores = kept["scores"]
    assert table.at["default", "plan_to_oracle"] == pytest.approx(scores["ratio_to_oracle"])
    assert table.at["default", "estimate_to_true"] == pytest.approx(scores["estimate_to_truth"])
    assert 0 < table.at["split_model_risk_true_relative", "plan_to_oracle"] <= 1 + 1e-9


def test_capture_restores_the_tracking_uri_and_the_plan_functions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = os.environ.get("MLFLOW_TRACKING_URI")
    seen = []

    def fake_training(config, output_dir, progress):
        seen.append((os.environ["MLFLOW_TRACKING_URI"], insight.plan_programs.__name__))
        raise KeyboardInterrupt  # even an interrupted run leaves both as they were

    monkeypatch.setattr(targeting_replay, "run_training", fake_training)
    with pytest.raises(KeyboardInterrupt):
        targeting_replay.capture(5, 80, 0.0, SMALL)
    assert seen[0][0] != before and seen[0][1] == "keep_plan"  # a store of its own, hooked
    assert os.environ.get("MLFLOW_TRACKING_URI") == before
    assert insight.plan_programs.__name__ == "plan_programs"


def test_every_estimate_is_graded(kept: dict) -> None:
    table = targeting_replay.replay_run(kept, list(targeting_replay.ESTIMATES))
    assert list(table.index) == list(targeting_replay.ESTIMATES)
    assert table["plan_to_oracle"].between(0, 1 + 1e-9).all()  # no plan beats the oracle


def test_main_reuses_a_cached_run(
    kept: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    calls = []
    monkeypatch.setattr(targeting_replay, "capture", lambda *a: calls.append(a) or kept)
    args = ["--runs", "5:80:0", "--cache", str(tmp_path), "--estimates", "default", "jittered"]
    assert targeting_replay.main(args) == 0
    assert targeting_replay.main(args) == 0
    assert len(calls) == 1  # the second call read the pickle
    out = capsys.readouterr().out
    assert "5:80:0" in out and "jittered" in out


def test_replay_refuses_runs_with_several_programs_per_district(kept: dict) -> None:
    several = {**kept, "settings": kept["settings"].model_copy(update={"max_per_district": 2})}
    with pytest.raises(ValueError, match="one program per district"):
        targeting_replay.replay_run(several, ["default"])


def test_main_refuses_several_programs_per_district_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(targeting_replay, "capture", lambda *a: pytest.fail("trained"))
    args = ["--runs", "5:80:0", "--cache", str(tmp_path), "--set", "targeting.max_per_district=2"]
    with pytest.raises(SystemExit) as exit_:
        targeting_replay.main(args)
    assert exit_.value.code == 2


def test_partialling_out_recovers_a_confounded_effect() -> None:
    rng = np.random.default_rng(0)
    n, groups = 3000, np.repeat(np.arange(300), 10)
    W = pd.DataFrame({"w": rng.normal(size=n), "v": rng.normal(size=n)})
    T = (np.sin(2 * W["w"].to_numpy()) + 0.5 * rng.normal(size=n))[:, None]
    w, v = W["w"].to_numpy(), W["v"].to_numpy()
    y = 0.3 * T[:, 0] + np.sin(2 * w) + 0.5 * v**2 + 0.3 * rng.normal(size=n)
    naive = np.polyfit(T[:, 0], y, 1)[0]  # confounded by w: far above 0.3
    theta, covariance = targeting_replay.partialling_out(y, T, W, groups, classify=False)
    error = np.sqrt(covariance[0, 0])
    assert naive > 0.8
    assert abs(theta[0] - 0.3) < 3 * error and 0 < error < 0.02  # 0.04 if y is not residualised


def test_debiased_ratios_set_the_debiased_reduction_against_the_pool_s() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    w = rng.normal(size=n)
    x = 0.5 * w + rng.normal(size=n)
    y = (rng.random(n) < 0.3 + 0.05 * x + 0.1 * np.tanh(w)).astype(float)  # slope 0.05 in x
    frame = pd.DataFrame({"district_id": np.repeat(np.arange(400), 10), "x": x, "w": w})
    frame[TARGET] = y

    class Doubled:  # a model that says x does twice what it does
        def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
            q = 0.3 + 0.10 * X["x"].to_numpy() + 0.1 * np.tanh(X["w"].to_numpy())
            return np.column_stack([1 - q, q])

    replay = SimpleNamespace(
        kept={"frame": frame, "features": ["x", "w"], "ensemble": [Doubled()]},
        programs={"lower_x": targeting.ProgramSpec(shift={"x": -1.0}, cost_per_district=1.0)},
        bounds=frame[["x", "w"]].agg(["min", "max"]),
    )
    ratio, error = targeting_replay.debiased_ratios(replay)["lower_x"]
    assert abs(ratio - 0.5) < 3 * error and error < 0.15  # debiased 0.05 against the model's 0.10
    assert targeting_replay.debiased_ratios(replay) is replay.ratios  # computed once
