"""The floor rootcast's time is compared with: a minimal pandas + xgboost + TreeSHAP script.

    python benchmarks/minimal_xgb.py --panel DIR/panel [--folds 4]

On a panel (a Parquet file or a folder of them, e.g. benchmarks/scale_panel.py's), with the
same xgboost parameters as rootcast's defaults (models/settings.py): target = at least one
incident next period; features = the covariates plus four vectorised history features of the
unit (incidents, any, exponentially decayed incidents, running rate); rolling origin over the
last `--folds` labelled periods (train on every earlier labelled period, test on that one);
a final fit on every labelled period; TreeSHAP (`pred_contribs`) of the latest period.
No baselines, stack, calibration, refits, plan, MLflow or files: what any forecast of this
kind must do at least. Prints seconds per step and the peak RSS.

`--device cuda` trains with xgboost's GPU `hist` and computes TreeSHAP on the GPU (needs the
`xgboost` wheel built with CUDA, not the project's `xgboost-cpu`); `--n-jobs` sets the CPU
threads. `benchmarks/bench_gpu.sh` runs it at 1M and 10M rows on a GPU machine.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import average_precision_score, brier_score_loss

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.settings import XGBoostSettings  # noqa: E402  (the project's default parameters)

KEYS = ["district_id", "period"]
LABELS = ["country", "admin1", "district_name"]


def read(path: Path) -> pd.DataFrame:
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def features(panel: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Target and history features, grouped and vectorised (no loop over units)."""
    frame = panel.sort_values(KEYS, kind="stable").reset_index(drop=True)
    units = frame.groupby("district_id", sort=False)
    any_now = (frame["incidents"] > 0).astype(np.float32)
    frame["target"] = units["incidents"].shift(-1).gt(0).astype(float)
    frame.loc[units.cumcount(ascending=False) == 0, "target"] = np.nan  # last period: unknown
    frame["h_incidents"] = np.log1p(frame["incidents"]).astype(np.float32)
    frame["h_any"] = any_now
    frame["h_decay"] = (
        any_now.groupby(frame["district_id"], sort=False)
        .transform(lambda s: s.ewm(halflife=3).mean())
        .astype(np.float32)
    )
    counts = units.cumcount() + 1
    frame["h_rate"] = (any_now.groupby(frame["district_id"], sort=False).cumsum() / counts).astype(
        np.float32
    )
    covariates = [c for c in panel.columns if c not in (*KEYS, *LABELS, "incidents")]
    return frame, [*covariates, "h_incidents", "h_any", "h_decay", "h_rate"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panel", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="cuda: GPU training and TreeSHAP (needs the xgboost wheel built with CUDA)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help=f"CPU threads (default: model.xgboost.n_jobs = {XGBoostSettings().n_jobs})",
    )
    args = parser.parse_args(argv)
    params = XGBoostSettings().model_dump()
    params["device"] = args.device
    if args.n_jobs is not None:
        if args.n_jobs < 1:
            parser.error(f"--n-jobs must be at least 1, not {args.n_jobs}")
        params["n_jobs"] = args.n_jobs
    if args.device == "cuda" and not xgb.build_info().get("USE_CUDA"):
        parser.error(
            "this xgboost is built without CUDA (xgboost-cpu): "
            "pip uninstall xgboost-cpu && pip install xgboost"
        )
    steps: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        steps[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    panel = read(args.panel)
    step("read")
    frame, names = features(panel)
    step("features")
    periods = np.sort(frame["period"].unique())
    labelled = frame["target"].notna()
    scores = []
    for test_period in periods[-1 - args.folds : -1]:
        train = labelled & (frame["period"] < test_period)
        test = frame["period"] == test_period
        model = xgb.XGBClassifier(tree_method="hist", random_state=0, **params)
        model.fit(frame.loc[train, names], frame.loc[train, "target"])
        p = model.predict_proba(frame.loc[test, names])[:, 1]
        y = frame.loc[test, "target"]
        scores.append((average_precision_score(y, p), brier_score_loss(y, p)))
    step("folds")
    final = xgb.XGBClassifier(tree_method="hist", random_state=0, **params)
    final.fit(frame.loc[labelled, names], frame.loc[labelled, "target"])
    step("final fit")
    latest = frame["period"] == periods[-1]
    booster = final.get_booster()  # TreeSHAP on the device the booster was trained on
    shap = booster.predict(xgb.DMatrix(frame.loc[latest, names]), pred_contribs=True)
    step("SHAP")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    aupr, brier = np.mean(scores, axis=0)
    print(f"xgboost {xgb.__version__}, device {args.device}, n_jobs {params['n_jobs']}")
    print(f"rows {len(frame):,}, features {len(names)}, SHAP rows {shap.shape[0]:,}")
    print(f"held-out AUPR {aupr:.3f}, Brier {brier:.4f} (mean of {len(scores)} folds)")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
    print(f"total {sum(steps.values()):.1f} s, peak RSS {peak:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
