"""Replay the plan against the synthetic truth with other program-benefit estimates.

    python benchmarks/targeting_replay.py [--runs 7:600:0 11:600:0 23:600:0] [--cache DIR]
                                          [--set KEY=VALUE ...]

Each run (seed:districts:confounding of the synthetic region) trains the default config once
(`run_training`, a temporary MLflow store) and keeps what the plan and the truth check see:
the ensemble (the registered model and its bootstrap refits), SHAP of the forecast period, the
model frame and the programs (cached as a pickle under --cache, reused when present). Then the
same allocation (budget, max per district, SHAP candidates) is made with each benefit estimate
below and graded on the truth: plan / oracle (true reduction of the plan over the oracle
plan's) and estimate / true (the plan's summed estimate over its true reduction).

The estimates: the mean counterfactual of the multi-model pool (`default`: what `train.py`
plans with), the registered model's own (`model_only`: the default before 2026-12-01); the model's
risk times the TRUE relative reduction and the true risk times the model's relative reduction
(`split_*`, which part of the estimate loses); and alternatives tried in issue 12 (README
"Where the plan loses against the oracle"), among them `debiased_level`: each program's
level set by a double-ML estimate of its average effect. `monotone` declares the synthetic
catalog's expected directions (an analyst's prior, written below), not the generator's truth.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer, StandardScaler

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import models.insight as insight  # noqa: E402
from experiments.config import load_config  # noqa: E402
from experiments.run import run_training  # noqa: E402
from features.build import TARGET, forecast_rows  # noqa: E402
from models import targeting, truth  # noqa: E402
from models.probability import with_members  # noqa: E402
from models.settings import XGBoostSettings  # noqa: E402

# the direction an analyst would declare for the synthetic catalog's actionable features
DIRECTIONS = {
    "poverty": 1,
    "youth_unemployment": 1,
    "school_enrolment": -1,
    "literacy": -1,
    "health_access": -1,
    "electricity_access": -1,
    "governance_quality": -1,
    "corruption": 1,
    "state_presence": -1,
    "displacement": 1,
}


def capture(seed: int, districts: int, confounding: float, overrides: list[str]) -> dict:
    """Train once and keep the plan's and the truth check's inputs (see the module doc)."""
    kept: dict = {}
    plan_programs, check_truth = insight.plan_programs, insight.check_truth

    def keep_plan(ensemble, frame, features, shap_forecast, programs, settings):
        kept.update(ensemble=ensemble, frame=frame, features=features, shap=shap_forecast)
        kept.update(programs=programs, settings=settings)
        return plan_programs(ensemble, frame, features, shap_forecast, programs, settings)

    def keep_truth(*args):
        check_truth(*args)
        kept.update(scores=args[8].plan_scores)  # the Insight the truth check filled

    config = load_config(
        None,
        [
            f"synthetic.seed={seed}",
            f"synthetic.n_districts={districts}",
            f"synthetic.confounding={confounding}",
            *overrides,
        ],
    )
    insight.plan_programs, insight.check_truth = keep_plan, keep_truth
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        with tempfile.TemporaryDirectory() as store:
            os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}/mlflow.db"
            run_training(config, Path(store) / "out", progress=lambda message: None)
    finally:
        insight.plan_programs, insight.check_truth = plan_programs, check_truth
        if uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = uri
    return kept


class Replay:
    """One captured run: its forecast rows, the models' and the truth's reductions."""

    def __init__(self, kept: dict):
        if kept["settings"].max_per_district != 1:  # the estimates below are single programs
            raise ValueError("the replay grades plans of one program per district")
        self.kept = kept
        frame, features = kept["frame"], kept["features"]
        self.forecast = frame[forecast_rows(frame)].reset_index(drop=True)
        self.X = self.forecast[features]
        self.bounds = frame[features].agg(["min", "max"])
        self.programs = kept["programs"].programs
        self.risk = np.vstack([m.predict_proba(self.X)[:, 1] for m in kept["ensemble"]])
        self.true_risk = truth.true_probability(self.X)
        self.after = {name: self.apply(spec) for name, spec in self.programs.items()}
        self.reduction = {  # (models, rows) per program
            name: self.risk - np.vstack([m.predict_proba(a)[:, 1] for m in kept["ensemble"]])
            for name, a in self.after.items()
        }
        pool = with_members(kept["ensemble"])  # the plan's estimate and interval: the pool's
        before = np.vstack([m.predict_proba(self.X)[:, 1] for m in pool])
        self.pool_reduction = {
            name: before - np.vstack([m.predict_proba(a)[:, 1] for m in pool])
            for name, a in self.after.items()
        }
        self.expected, self.reduction_low = {}, {}  # what train.py plans with: the pool's mean
        for name, r in self.pool_reduction.items():
            expected, low, _ = targeting.reduction_estimate(r, len(kept["ensemble"]), self.risk[0])
            self.expected[name], self.reduction_low[name] = expected, low
        self.true_reduction = {
            name: self.true_risk - truth.true_probability(a) for name, a in self.after.items()
        }

    def apply(self, spec, X: pd.DataFrame | None = None) -> pd.DataFrame:
        return targeting.apply_program(self.X if X is None else X, spec, self.bounds)

    def grade(self, estimate: dict[str, np.ndarray]) -> dict[str, float]:
        """Plan with `estimate` (program -> reduction per forecast row) as `train.py` would."""
        settings = self.kept["settings"]
        parts = []
        for name, spec in self.programs.items():
            push = self.kept["shap"][spec.features].sum(axis=1).to_numpy()
            part = self.forecast[["district_id", "period"]].assign(
                program=name, cost=spec.cost_per_district, reduction=estimate[name]
            )
            parts.append(part[(push > 0) & (self.risk[0] >= spec.min_risk)])
        plan = targeting.allocate(
            pd.concat(parts, ignore_index=True),
            settings.budget,
            settings.max_per_district,
            settings.method,
        )
        catalog = self.kept["programs"]
        true = truth.plan_row_truth(plan, self.X, self.forecast, catalog, self.bounds).sum()
        benefits = truth.true_benefits(self.X, self.forecast, catalog, self.bounds)
        oracle = truth.oracle_plan(benefits, catalog, settings.budget, settings.max_per_district)
        return {
            "plan_to_oracle": true / oracle["reduction"].sum(),
            "estimate_to_true": plan["reduction"].sum() / true if true > 0 else float("nan"),
        }


def relative(replay: Replay, models: list, risk: np.ndarray) -> dict[str, np.ndarray]:
    """`risk` x the mean over `models` of each program's relative reduction."""
    out = {}
    for name, after in replay.after.items():
        shares = [
            1 - m.predict_proba(after)[:, 1] / m.predict_proba(replay.X)[:, 1] for m in models
        ]
        out[name] = risk * np.mean(shares, axis=0)
    return out


def monotone(replay: Replay) -> dict[str, np.ndarray]:
    """xgboost with the default parameters, constrained to DIRECTIONS: its relative reduction
    x the model's risk."""
    frame, features = replay.kept["frame"], replay.kept["features"]
    labelled = frame[TARGET].notna()
    model = xgb.XGBClassifier(
        tree_method="hist",
        random_state=0,
        monotone_constraints=tuple(DIRECTIONS.get(c, 0) for c in features),
        **XGBoostSettings().model_dump(),
    )
    model.fit(frame.loc[labelled, features], frame.loc[labelled, TARGET].astype(int))
    return relative(replay, [model], replay.risk[0])


def gam(replay: Replay) -> dict[str, np.ndarray]:
    """An additive spline-logistic model's relative reduction x the model's risk."""
    frame, features = replay.kept["frame"], replay.kept["features"]
    labelled = frame[TARGET].notna()
    model = make_pipeline(
        SplineTransformer(n_knots=5, extrapolation="linear"),
        StandardScaler(),
        LogisticRegression(C=0.1, max_iter=2000),
    )
    model.fit(frame.loc[labelled, features], frame.loc[labelled, TARGET].astype(int))
    return relative(replay, [model], replay.risk[0])


def shrunk_to_program_mean(replay: Replay, weight: float = 0.5) -> dict[str, np.ndarray]:
    out = {}
    for name, reduction in replay.reduction.items():
        share = reduction[0] / replay.risk[0]
        out[name] = replay.risk[0] * (share.mean() + weight * (share - share.mean()))
    return out


def empirical_bayes(replay: Replay) -> dict[str, np.ndarray]:
    """Each estimate shrunk to its program's mean by the refits' variance over the spread."""
    out = {}
    for name, reduction in replay.reduction.items():
        noise = reduction[1:].var(axis=0, ddof=1)
        mean = reduction[0].mean()
        signal = max(reduction[0].var() - noise.mean(), 1e-12)
        out[name] = mean + signal / (signal + noise) * (reduction[0] - mean)
    return out


def jittered(replay: Replay, width: float = 1.0, draws: int = 16) -> dict[str, np.ndarray]:
    """Finite differences averaged over starting points moved by up to `width` x the shift."""
    rng = np.random.default_rng(0)
    model, n = replay.kept["ensemble"][0], len(replay.X)
    stacked = pd.concat([replay.X] * draws, ignore_index=True)
    out = {}
    for name, spec in replay.programs.items():
        start = stacked.copy()
        for f in spec.features:
            step = (
                abs(spec.shift.get(f, 0.0))
                or abs(1 - spec.scale.get(f, 1.0)) * replay.X[f].abs().mean()
            )
            moved = start[f] + rng.uniform(-width, width, len(start)) * step
            start[f] = moved.clip(replay.bounds.at["min", f], replay.bounds.at["max", f])
        after = replay.apply(spec, start)
        difference = model.predict_proba(start)[:, 1] - model.predict_proba(after)[:, 1]
        out[name] = difference.reshape(draws, n).mean(axis=0)
    return out


def _cross_fitted(model, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Out-of-fold predictions of `model` (P(y = 1) for a classifier), 3 folds that keep each
    of `groups` (here: districts) whole."""
    out = np.zeros(len(X))
    for fit_rows, out_rows in GroupKFold(3).split(X, y, groups):
        fitted = model.fit(X.iloc[fit_rows], y[fit_rows])
        scored = X.iloc[out_rows]
        is_classifier = hasattr(fitted, "predict_proba")
        out[out_rows] = (
            fitted.predict_proba(scored)[:, 1] if is_classifier else fitted.predict(scored)
        )
    return out


def partialling_out(
    y: np.ndarray, T: np.ndarray, W: pd.DataFrame, groups: np.ndarray, classify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Double ML of y on the columns of T given W (a partially linear model): y and each
    column of T residualised on W by xgboost cross-fitted over `groups` (`_cross_fitted`;
    `classify`: y is 0/1, its residual is y - P(y = 1 | W)), then least squares (no
    intercept) of y's residual on T's. Returns the coefficients and their covariance (errors
    clustered by `groups`). Under effects that vary, a coefficient is a variance-weighted
    average slope, not the average one."""
    params = dict(tree_method="hist", n_estimators=300, learning_rate=0.05, max_depth=3)
    params.update(subsample=0.8, colsample_bytree=0.8, min_child_weight=10, n_jobs=2)
    outcome = xgb.XGBClassifier(**params) if classify else xgb.XGBRegressor(**params)
    y_res = y - _cross_fitted(outcome, W, y.astype(int) if classify else y, groups)
    T_res = np.column_stack(
        [t - _cross_fitted(xgb.XGBRegressor(**params), W, t, groups) for t in T.T]
    )
    theta = np.linalg.lstsq(T_res, y_res, rcond=None)[0]
    scores = pd.DataFrame(T_res * (y_res - T_res @ theta)[:, None]).groupby(groups).sum()
    bread = np.linalg.inv(T_res.T @ T_res)
    return theta, bread @ (scores.T.to_numpy() @ scores.to_numpy()) @ bread


def debiased_ratios(replay: Replay) -> dict[str, tuple[float, float]]:
    """Per program, the ratio of its debiased reduction to the pool's over the labelled rows,
    and the ratio's standard error (the pool's side taken as exact). Debiased: the program's
    mean change of its features times their `partialling_out` coefficients (the label given
    the other features); the pool's: the mean of every pool member's reduction. Computed
    once per replay."""
    if not hasattr(replay, "ratios"):
        frame, features = replay.kept["frame"], replay.kept["features"]
        rows = frame[frame[TARGET].notna()].reset_index(drop=True)
        y, groups = rows[TARGET].to_numpy(dtype=float), rows["district_id"].to_numpy()
        X, pool = rows[features], with_members(replay.kept["ensemble"])
        before = [m.predict_proba(X)[:, 1] for m in pool]  # the same for every program
        ratios = {}
        for name, spec in replay.programs.items():
            W = rows[[f for f in features if f not in spec.features]]
            T = rows[spec.features].to_numpy(dtype=float)
            theta, covariance = partialling_out(y, T, W, groups, classify=True)
            after = targeting.apply_program(X, spec, replay.bounds)
            change = (after[spec.features] - X[spec.features]).to_numpy(float).mean(axis=0)
            debiased, error = -(change @ theta), float(np.sqrt(change @ covariance @ change))
            model = np.mean(
                [b - m.predict_proba(after)[:, 1] for b, m in zip(before, pool, strict=True)]
            )
            ratios[name] = (debiased / model, error / abs(model))
        replay.ratios = ratios  # only once every program is done
    return replay.ratios


def debiased_level(replay: Replay, significant_only: bool = False) -> dict[str, np.ndarray]:
    """The pool's mean times `debiased_ratios` (clipped to [0.5, 2]), at most the model's
    risk; with `significant_only`, the pool's mean where the ratio is within 1.645 standard
    errors of 1."""
    out = {}
    for name, expected in replay.expected.items():
        ratio, error = debiased_ratios(replay)[name]
        unchanged = significant_only and abs(ratio - 1) <= 1.645 * error
        scaled = expected * (1.0 if unchanged else float(np.clip(ratio, 0.5, 2.0)))
        out[name] = np.minimum(scaled, replay.risk[0])
    return out


def risk_averse(replay: Replay, aversion: float) -> dict[str, np.ndarray]:
    """`targeting.planning_value` with the plan's own lower bounds (the multi-model range)."""
    return {
        name: expected - aversion * (expected - replay.reduction_low[name])
        for name, expected in replay.expected.items()
    }


ESTIMATES: dict[str, Callable[[Replay], dict[str, np.ndarray]]] = {
    "default": lambda r: dict(r.expected),
    "model_only": lambda r: {k: v[0] for k, v in r.reduction.items()},
    "split_model_risk_true_relative": lambda r: {
        k: r.risk[0] * v / r.true_risk for k, v in r.true_reduction.items()
    },
    "split_true_risk_model_relative": lambda r: {
        k: r.true_risk * v[0] / r.risk[0] for k, v in r.reduction.items()
    },
    "ensemble_mean": lambda r: {k: v.mean(axis=0) for k, v in r.reduction.items()},
    "ensemble_relative": lambda r: relative(r, r.kept["ensemble"], r.risk[0]),
    "monotone": monotone,
    "gam": gam,
    "shrunk_half_to_program_mean": shrunk_to_program_mean,
    "empirical_bayes": empirical_bayes,
    "jittered": jittered,
    "debiased_level": debiased_level,
    "debiased_level_significant": lambda r: debiased_level(r, significant_only=True),
    "risk_aversion_0.5": lambda r: risk_averse(r, 0.5),
    "risk_aversion_1": lambda r: risk_averse(r, 1.0),
}


def replay_run(kept: dict, names: list[str]) -> pd.DataFrame:
    """Plan / oracle and estimate / true of each named estimate on one captured run."""
    replay = Replay(kept)
    rows = {name: replay.grade(ESTIMATES[name](replay)) for name in names}
    return pd.DataFrame(rows).T


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", default=["7:600:0", "11:600:0", "23:600:0"])
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "rootcast-replay"
    )
    parser.add_argument("--estimates", nargs="+", default=list(ESTIMATES), choices=list(ESTIMATES))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    several = [o for o in args.overrides if o.replace(" ", "").startswith("targeting.max_per")]
    if several and several[-1].split("=", 1)[1].strip() != "1":
        parser.error("the replay grades plans of one program per district (single programs)")
    warnings.filterwarnings("ignore", category=UserWarning)
    args.cache.mkdir(parents=True, exist_ok=True)
    tables = {}
    for run in args.runs:
        seed, districts, confounding = run.split(":")
        tag = hashlib.sha256("\n".join(args.overrides).encode()).hexdigest()[:8]
        path = args.cache / f"run-{seed}-{districts}-{confounding}-{tag}.pkl"
        if path.exists():
            kept = pickle.loads(path.read_bytes())
        else:
            print(
                f"training seed {seed}, {districts} districts, confounding {confounding}",
                flush=True,
            )
            kept = capture(int(seed), int(districts), float(confounding), args.overrides)
            path.write_bytes(pickle.dumps(kept))
        tables[run] = replay_run(kept, args.estimates)
    table = pd.concat(tables, axis=1).round(2)
    print("plan / oracle and estimate / true per run (seed:districts:confounding)")
    print(table.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
