"""rootcast's command line: train, evaluate and register a district risk model.

python train.py                       # the embedded synthetic region, default config
python train.py --data panel.csv --catalog catalog.toml --geometry districts.geojson
python train.py --set model.xgboost.max_depth=5 --set split.n_folds=3
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from features.errors import RootcastError

DEFAULT_OUTPUT = Path("output")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Forecast district risk of violent-extremist incidents: train every model "
        "with rolling-origin evaluation, log to MLflow and register the xgboost pipeline.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="experiment config TOML (default: experiments/configs/default.toml)",
    )
    parser.add_argument("--data", help="panel file (CSV or Parquet); default: synthetic region")
    parser.add_argument("--catalog", help="feature catalog TOML describing the panel's columns")
    parser.add_argument(
        "--geometry",
        help="district polygons (GeoJSON/GeoPackage) keyed by district_id, for spatial lags",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="folder for summary.json, predictions.parquet, metrics.csv, "
        "forecast.csv (default: output/)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. model.xgboost.max_depth=5 (repeatable)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    return parser.parse_args(argv)


def _overrides(args: argparse.Namespace) -> list[str]:
    """CLI flags as config overrides (flags win over --set)."""
    extra = [
        f"data.{key}={json.dumps(value)}"
        for key, value in (
            ("panel", args.data),
            ("catalog", args.catalog),
            ("geometry", args.geometry),
        )
        if value
    ]
    return list(args.overrides) + extra


def parse_plan_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="train.py plan",
        description="Allocate prevention programs under a new budget with a logged model "
        "(no retraining): TreeSHAP picks candidate programs, the model re-scores each.",
    )
    parser.add_argument(
        "--model",
        default="rootcast-h1@champion",
        help="registered model as NAME@ALIAS or NAME/VERSION, or a run id "
        "(default: rootcast-h1@champion)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        required=True,
        help="budget, in the unit of the programs' cost_per_district",
    )
    parser.add_argument("--max-per-district", type=int, help="programs per district")
    parser.add_argument("--method", choices=["exact", "greedy"], help="allocation method")
    parser.add_argument("--programs", help="program catalog TOML (default: the run's)")
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT / "plan",
        help="folder for plan.csv and plan_summary.json (default: output/plan)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    return parser.parse_args(argv)


def plan_main(argv: list[str]) -> int:
    args = parse_plan_args(argv)
    progress = _progress_printer(args.quiet)
    from experiments.plan import PlanRequest, make_plan

    request = PlanRequest(
        args.model, args.budget, args.max_per_district, args.method, args.programs
    )
    try:
        if not args.budget >= 0:
            raise ValueError
        plan = make_plan(request, args.output, progress)
    except RootcastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError:
        print(f"error: --budget must be a number >= 0, not {args.budget}", file=sys.stderr)
        return 2
    columns = ["district_id", "program", "cost", "risk", "reduction", "drivers"]
    print(plan[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(
        f"\n{plan['district_id'].nunique()} districts, cost {plan['cost'].sum():g} of "
        f"{args.budget:g}, expected risk reduction {plan['reduction'].sum():.2f} "
        f"(sum of probabilities). Wrote {args.output / 'plan.csv'}"
    )
    return 0


def _progress_printer(quiet: bool):
    started = time.perf_counter()

    def progress(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    return progress


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] == "plan":
        return plan_main(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    # Imported here so `--help` and config errors answer fast.
    from experiments.config import load_config
    from experiments.run import metrics_table, run_training

    try:
        config = load_config(args.config, _overrides(args))
        result = run_training(config, args.output, progress)
    except RootcastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    s = result.summary
    print(
        f"\nHeld-out skill ({len(s['folds'])} rolling-origin folds, "
        f"target: {s['target']['definition']}; data: {s['data']['source']}"
        f"{' — SYNTHETIC' if s['data']['synthetic'] else ''})"
    )
    print(metrics_table(result.scores))
    version = s["model_version"]
    print(
        f"\nMLflow run {s['run_id']}"
        + (
            f"; registered {s['registered_model']} version {version}"
            + (" (champion)" if s["became_champion"] else "")
            if version
            else ""
        )
    )
    print(f"Wrote {', '.join(str(p) for p in result.files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
