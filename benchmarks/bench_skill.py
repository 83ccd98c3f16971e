"""Held-out skill of the main model (the stack) against every baseline, on every panel.

One run prints, per panel: the best baseline (lowest pooled Brier), the best baseline AUPR,
the calibrated xgboost and the stack, the stack's margins, a 90 % district-bootstrap
interval of its AUPR and Brier differences to the best baseline, the folds where it beat that
baseline on both, and what a training run would register (models/selection.py). Panels:

- the embedded synthetic region, seeds 7, 11 and 23 (600 districts x 18 years);
- the second synthetic region (benchmarks/second_region.py: another generator, 300 districts
  x 20 years, rarer events, hidden district effects, a two-period contagion lag);
- Pakistan 2000-2021 and Afghanistan + Pakistan 2001-2016, built from ../shared/data by
  `ingest.pakistan` / `ingest.afpak` into a temporary folder (skipped when it is absent).

Every panel is scored exactly as `train.py` scores it (the same configs, folds and zoo); no
MLflow, no explanation.

    python benchmarks/bench_skill.py [--shared ../shared/data] [--panels NAME ...] [--csv FILE]
                                     [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.second_region import write_second_region  # noqa: E402
from experiments.config import load_config  # noqa: E402
from experiments.data import load_inputs  # noqa: E402
from experiments.prepare import prepare  # noqa: E402
from experiments.run import evaluate  # noqa: E402
from models.pipeline import MAIN_MODEL  # noqa: E402

CONFIGS = ROOT / "experiments" / "configs"
PANELS = ["synthetic-7", "synthetic-11", "synthetic-23", "second-region", "pakistan", "afpak"]


def panel_config(name: str, folder: Path, shared: Path) -> tuple[Path | None, list[str]] | None:
    """(config file, overrides) of a panel, building its files into `folder`; None when its
    data is not there."""
    no_explain = ["explain.enabled=false"]
    if name.startswith("synthetic-"):
        return None, [f"synthetic.seed={name.split('-')[1]}", *no_explain]
    if name == "second-region":
        files = write_second_region(folder, seed=23, n_districts=300, n_periods=20)
        return None, [
            f'data.panel="{files["panel"]}"',
            f'data.catalog="{files["catalog"]}"',
            f'data.geometry="{files["geometry"]}"',
            "split.n_folds=4",
            *no_explain,
        ]
    if not shared.is_dir():
        return None
    # built as a user builds it (the benchmarks do not import ingest)
    subprocess.run(
        [sys.executable, "-m", f"ingest.{name}", "--shared", str(shared), "--out", str(folder)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return CONFIGS / f"{name}.toml", [
        f'data.panel="{folder / "panel.parquet"}"',
        f'data.catalog="{folder / "catalog.toml"}"',
        f'data.geometry="{folder / "districts.geojson"}"',
        *no_explain,
    ]


def second_region_oracle(folder: Path, predictions: pd.DataFrame) -> pd.Series:
    """The second region's true probability of each held-out row (truth.parquet)."""
    truth = pd.read_parquet(folder / "truth.parquet")
    truth["period"] = truth["period"].astype(str)
    keyed = truth.set_index(["district_id", "period"])["oracle_prob"]
    index = pd.MultiIndex.from_arrays(
        [predictions["district_id"], predictions["period"].astype(str)]
    )
    return pd.Series(keyed.reindex(index).to_numpy(), index=predictions.index)


def score_panel(
    name: str, folder: Path, shared: Path, extra: list[str] | None = None
) -> dict | None:
    """One row of the skill table, or None when the panel's data is absent; `extra`:
    `--set` overrides applied to every panel's config."""
    setup = panel_config(name, folder, shared)
    if setup is None:
        return None
    path, overrides = setup
    config = load_config(path, [*overrides, *(extra or [])])
    started = time.perf_counter()
    data = prepare(config, load_inputs(config))
    result = evaluate(config, data, progress=lambda message: None)
    pooled = result.scores[result.scores["fold"] == "pooled"].set_index("model")
    s, boot = result.selection, result.comparison
    oracle = pooled["aupr"].get("oracle", np.nan)
    if name == "second-region":
        from sklearn.metrics import average_precision_score

        p = second_region_oracle(folder, result.predictions)
        oracle = average_precision_score(result.predictions["target"].astype(int), p)
    return {
        "panel": name,
        "rows": len(result.predictions),
        "positive": float(result.predictions["target"].mean()),
        "best_baseline": s.best_baseline,
        "baseline_aupr": float(pooled.loc[s.best_aupr_baseline, "aupr"]),
        "baseline_aupr_model": s.best_aupr_baseline,
        "baseline_brier": float(pooled.loc[s.best_baseline, "brier"]),
        "xgboost_aupr": float(pooled.loc["xgboost", "aupr"]),
        "xgboost_brier": float(pooled.loc["xgboost", "brier"]),
        "stack_aupr": float(pooled.loc[MAIN_MODEL, "aupr"]),
        "stack_brier": float(pooled.loc[MAIN_MODEL, "brier"]),
        "oracle_aupr": float(oracle),
        "aupr_margin": s.aupr_margin,
        "brier_change": s.brier_change,
        **{f"boot_{k}": v for k, v in boot.items()},
        "fold_wins": f"{s.fold_wins}/{s.n_folds}",
        "registered": s.chosen,
        "seconds": time.perf_counter() - started,
    }


def render(table: pd.DataFrame) -> str:
    """The table as aligned text, margins and intervals as they read best."""
    out = pd.DataFrame(
        {
            "panel": table["panel"],
            "rows": table["rows"],
            "pos %": (100 * table["positive"]).round(1),
            "best baselines (AUPR, Brier)": [
                f"{r.baseline_aupr_model}, {r.best_baseline}" for r in table.itertuples()
            ],
            "AUPR base/xgb/stack": [
                f"{r.baseline_aupr:.3f}/{r.xgboost_aupr:.3f}/{r.stack_aupr:.3f}"
                for r in table.itertuples()
            ],
            "Brier base/xgb/stack": [
                f"{r.baseline_brier:.4f}/{r.xgboost_brier:.4f}/{r.stack_brier:.4f}"
                for r in table.itertuples()
            ],
            "dAUPR [90 %]": [
                f"{r.boot_aupr_diff:+.3f} [{r.boot_aupr_low:+.3f},{r.boot_aupr_high:+.3f}]"
                for r in table.itertuples()
            ],
            "dBrier % [90 %]": [
                f"{100 * r.brier_change:+.1f} "
                f"[{100 * r.boot_brier_low / r.baseline_brier:+.1f},"
                f"{100 * r.boot_brier_high / r.baseline_brier:+.1f}]"
                for r in table.itertuples()
            ],
            "fold wins": table["fold_wins"],
            "oracle AUPR": table["oracle_aupr"].map(lambda v: "-" if np.isnan(v) else f"{v:.3f}"),
            "registered": table["registered"],
            "s": table["seconds"].round(0).astype(int),
        }
    )
    return out.to_string(index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--panels", nargs="+", choices=PANELS, default=PANELS)
    parser.add_argument("--csv", type=Path, help="also write the full table here")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every panel, e.g. model.stack_periods=6 (repeatable)",
    )
    args = parser.parse_args(argv)
    rows, missing = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.panels:
            print(f"scoring {name} ...", file=sys.stderr, flush=True)
            row = score_panel(name, Path(tmp) / name, args.shared, args.set)
            (rows.append(row) if row else missing.append(name))
    table = pd.DataFrame(rows)
    print(
        f"# {datetime.now(UTC):%Y-%m-%d} on {platform.node() or 'this machine'} "
        f"({len(__import__('os').sched_getaffinity(0))} cores), python {platform.python_version()}"
    )
    print(
        "# base = the best baseline on that measure; d = stack minus it, "
        "with a 90 % district-bootstrap interval"
    )
    if args.set:
        print(f"# overrides: {' '.join(args.set)}")
    print(render(table))
    if missing:
        print(f"# not run (no data in {args.shared}): {', '.join(missing)}")
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
