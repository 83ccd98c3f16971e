"""Training benchmarks on the default synthetic region; figures go into the README.

1. Wall time of `python train.py` (what `make run` does after setup), in a temporary MLflow
   store and output folder.
2. Our training path vs a minimal pandas + xgboost script, same data and parameters:
   a. features + uncalibrated pipeline fit + predict   vs  pandas groupby features + raw
      XGBClassifier fit + predict;
   b. the calibrated main model (n_calibration_periods + 1 fits + isotonic) vs the same fits
      and isotonic regression written out by hand.
Each timing is the best of `--repeat` runs.

    python benchmarks/bench_training.py [--repeat 3] [--skip-cli]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from xgboost import XGBClassifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.config import load_config  # noqa: E402
from experiments.data import load_inputs  # noqa: E402
from features.build import PERIOD_INDEX, TARGET, build_features  # noqa: E402
from models.pipeline import (  # noqa: E402
    PeriodCalibratedClassifier,
    xgboost_pipeline,
)


def best_of(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def time_cli() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "train.py", "-q", "--output", f"{tmp}/out"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def minimal_features(panel: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """The history features a hand-written script would make with plain pandas."""
    p = panel.sort_values(["district_id", "period"]).copy()
    g = p.groupby("district_id")["incidents"]
    p["hist_incidents"] = np.log1p(p["incidents"])
    p["hist_any"] = (p["incidents"] > 0).astype(float)
    p["hist_decay"] = p.groupby("district_id")["hist_incidents"].transform(
        lambda s: s.ewm(alpha=0.5, adjust=True).mean()
    )
    p["target"] = (g.shift(-1) >= 1).astype(float).where(g.shift(-1).notna())
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args(argv)

    config = load_config()
    horizon = config.target.horizon
    inputs = load_inputs(config)
    frame, catalog = build_features(
        inputs.panel, inputs.catalog, inputs.adjacency, inputs.district_ids, horizon
    )
    features = catalog.model_features
    labelled = frame[TARGET].notna()
    X, y = frame.loc[labelled, features], frame.loc[labelled, TARGET].to_numpy().astype(int)
    periods = frame.loc[labelled, PERIOD_INDEX].to_numpy()
    settings = config.model.xgboost
    params = dict(
        tree_method="hist",
        objective="binary:logistic",
        eval_metric="logloss",
        random_state=0,
        **config.model.xgboost.model_dump(),
    )
    print(
        f"data: {len(X):,} labelled rows x {len(features)} features, "
        f"{settings.n_estimators} trees of depth {settings.max_depth}"
    )

    def ours_plain():
        f, _ = build_features(
            inputs.panel, inputs.catalog, inputs.adjacency, inputs.district_ids, horizon
        )
        xgboost_pipeline(features, settings, 0).fit(X, y).predict_proba(X)

    def minimal_plain():
        minimal_features(inputs.panel, features)
        XGBClassifier(**params).fit(X.to_numpy(), y).predict_proba(X.to_numpy())

    def ours_calibrated():
        model = PeriodCalibratedClassifier(
            xgboost_pipeline(features, settings, 0),
            "isotonic",
            config.model.n_calibration_periods,
            horizon,
        )
        model.fit(X, y, periods=periods).predict_proba(X)

    def minimal_calibrated():
        values = X.to_numpy()
        scores, labels = [], []
        for c in np.unique(periods)[-config.model.n_calibration_periods :]:
            train, test = periods <= c - horizon, periods == c
            m = XGBClassifier(**params).fit(values[train], y[train])
            scores.append(m.predict_proba(values[test])[:, 1])
            labels.append(y[test])
        iso = IsotonicRegression(out_of_bounds="clip").fit(
            np.concatenate(scores), np.concatenate(labels)
        )
        iso.predict(XGBClassifier(**params).fit(values, y).predict_proba(values)[:, 1])

    rows = []
    for label, ours, minimal in (
        ("features + fit (uncalibrated)", ours_plain, minimal_plain),
        ("calibrated main model", ours_calibrated, minimal_calibrated),
    ):
        t_ours, t_min = best_of(args.repeat, ours), best_of(args.repeat, minimal)
        rows.append((label, t_ours, t_min, t_ours / t_min))
    for label, t_ours, t_min, ratio in rows:
        print(f"{label:32s} ours {t_ours:6.2f} s   minimal {t_min:6.2f} s   ratio {ratio:4.2f}x")
    if not args.skip_cli:
        print(f"{'python train.py (make run)':32s} {time_cli():6.1f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
