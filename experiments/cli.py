"""Subcommands of train.py besides training: plan, predict, retrain, rollback, synth, compare.

Each takes its argv, prints results, and turns a user's mistake into one `error:` line on
stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.registry import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_NAME,
    DEFAULT_PROMOTION_METRIC,
    PROMOTION_METRICS,
)
from features.errors import RootcastError

if TYPE_CHECKING:
    import pandas as pd


def progress_printer(quiet: bool) -> Callable[[str], None]:
    """Progress lines with elapsed seconds on stderr (nothing when quiet)."""
    started = time.perf_counter()

    def progress(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    return progress


LIBRARY_LOGGERS = ("mlflow", "alembic", "distributed")  # their INFO lines are not ours


def quiet_library_logs(verbose: bool) -> None:
    """MLflow's and alembic's own INFO lines (e.g. "Creating initial MLflow database tables")
    only with -v: below WARNING they are dropped. Works whether or not MLflow is imported yet
    (before, through MLflow's MLFLOW_LOGGING_LEVEL, which a user's own setting overrides)."""
    if not verbose:
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # read when Dask is first imported (importing `distributed` sets its own level): errors
    # only; a failed worker task reaches the user as the client's one `error:` line
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "info" if verbose else "error")
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


def add_set_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """The repeatable `--set KEY=VALUE` config override, collected in `args.overrides`."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help
    )


def _fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="registered model as NAME@ALIAS or NAME/VERSION, or a run id "
        f"(default: {DEFAULT_MODEL})",
    )


def plan_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="train.py plan",
        description="Allocate prevention programs under a new budget with a logged model "
        "(no retraining): TreeSHAP picks candidate programs, the model re-scores each.",
    )
    _model_argument(parser)
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
        default=Path("output/plan"),
        help="folder for plan.csv and plan_summary.json (default: output/plan)",
    )
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not args.budget >= 0:
        return _fail(f"--budget must be a number >= 0, not {args.budget}")
    if args.max_per_district is not None and args.max_per_district < 1:
        return _fail(f"--max-per-district must be >= 1, not {args.max_per_district}")
    from experiments.plan import PlanRequest, make_plan

    request = PlanRequest(
        args.model, args.budget, args.max_per_district, args.method, args.programs
    )
    try:
        plan = make_plan(request, args.output, progress_printer(args.quiet))
    except RootcastError as exc:
        return _fail(exc)
    columns = ["district_id", "program", "cost", "risk", "reduction", "drivers"]
    if (plan["bundle"] != plan["program"]).any():  # several programs per district: name them
        columns.insert(2, "bundle")
    print(plan[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(
        f"\n{plan['district_id'].nunique()} districts, cost {plan['cost'].sum():g} of "
        f"{args.budget:g}, expected risk reduction {plan['reduction'].sum():.2f} "
        f"(sum of probabilities). Wrote {args.output / 'plan.csv'}"
    )
    return 0


def retrain_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="train.py retrain",
        description="Train a challenger on the champion's data plus new periods, compare both "
        "on the held-out periods the champion never saw, promote only if better.",
    )
    parser.add_argument("--data", required=True, help="panel file with the NEW periods only")
    _model_argument(parser)
    parser.add_argument(
        "--metric",
        default=DEFAULT_PROMOTION_METRIC,
        choices=PROMOTION_METRICS,
        help=f"the metric to beat (default: {DEFAULT_PROMOTION_METRIC})",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=0.0,
        help="required improvement on the metric, >= 0 (default: 0); the challenger must also "
        "be at least as good on the champion's tracking.guard_metrics",
    )
    parser.add_argument("--force", action="store_true", help="promote whatever the scores")
    parser.add_argument(
        "--allow-new-districts",
        action="store_true",
        help="accept districts absent from the champion's data",
    )
    add_set_argument(parser, "change the challenger's config, e.g. model.xgboost.max_depth=4")
    parser.add_argument("--output", type=Path, default=Path("output/retrain"))
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    from experiments.retrain import RetrainRequest, retrain

    request = RetrainRequest(
        args.data,
        args.model,
        args.metric,
        args.margin,
        args.force,
        args.allow_new_districts,
        args.overrides,
    )
    try:
        record = retrain(request, args.output, progress_printer(args.quiet))
    except RootcastError as exc:
        return _fail(exc)
    h2h, metric = record["head_to_head"], record["metric"]
    print(f"\nHead to head on {h2h['rows']} held-out rows of {', '.join(h2h['periods'])}:")
    for who in ("champion", "challenger"):
        scores = h2h[who]
        print(
            f"  {who:10s} "
            + "  ".join(f"{k} {scores[k]:.4f}" for k in ("roc_auc", "aupr", "brier", "log_loss"))
        )
    print(f"Decision: {record['decision']} — {record['reason']}")
    print(
        f"champion was version {record['champion_version']}, challenger is version "
        f"{record['challenger_version']} ({metric})"
    )
    shift = record["outcome_shift"]
    print(
        f"Incident rate {shift['incident_rate_reference']:.3f} -> "
        f"{shift['incident_rate_new']:.3f}; large drift: "
        f"{', '.join(record['large_drift']) or 'none'} (see {args.output / 'drift.csv'})"
    )
    return 0


def rollback_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="train.py rollback", description="Make the 'previous' version champion again."
    )
    parser.add_argument(
        "--model-name",
        default=DEFAULT_MODEL_NAME,
        help=f"registered model name (default: {DEFAULT_MODEL_NAME})",
    )
    args = parser.parse_args(argv)
    from experiments.retrain import rollback

    try:
        demoted, restored = rollback(args.model_name)
    except RootcastError as exc:
        return _fail(exc)
    print(
        f"{args.model_name}: champion is version {restored} again "
        f"(version {demoted} is now 'previous')"
    )
    return 0


def synth_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="train.py synth",
        description="Write the synthetic region as files: panel.csv (all but the last "
        "--hold-out periods), new_periods.csv (those), geometry.geojson, truth.parquet.",
    )
    from experiments.config import SyntheticSection

    region = SyntheticSection()  # the embedded region's defaults, plus the held-out period(s)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--districts", type=int, default=region.n_districts)
    parser.add_argument("--periods", type=int, default=region.n_periods + 1)
    parser.add_argument("--hold-out", type=int, default=1)
    parser.add_argument("--seed", type=int, default=region.seed)
    args = parser.parse_args(argv)
    from experiments.synth_export import export_synthetic
    from features.writers import check_output_dir

    try:
        check_output_dir(args.out, "--out")
        paths = export_synthetic(args.out, args.districts, args.periods, args.hold_out, args.seed)
    except (RootcastError, ValueError) as exc:
        return _fail(exc)
    print("Wrote " + ", ".join(str(p) for p in paths) + " (SYNTHETIC data)")
    return 0


def _compare_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py compare",
        description="Table training runs side by side: pooled metrics per model, key "
        "parameters, data fingerprint, registered version and champion. Runs trained on other "
        "data than the most recent run are marked 'not comparable'.",
    )
    from experiments.config import TrackingSection

    experiment = TrackingSection().experiment
    parser.add_argument("--experiment", default=experiment, help=f"(default: {experiment})")
    parser.add_argument(
        "--filter",
        default="",
        help="MLflow search filter, e.g. \"tags.data.synthetic = 'true'\" or "
        "\"params.name = 'default'\"",
    )
    parser.add_argument(
        "--sort-by",
        help="a column (xgboost.aupr, start, max_depth) or any logged metric or parameter "
        "(default: newest first)",
    )
    parser.add_argument("--ascending", action="store_true", help="smallest first")
    parser.add_argument("--max-runs", type=int, default=20, help="rows kept (default: 20)")
    parser.add_argument(
        "--metrics",
        default="roc_auc,aupr,brier",
        help="comma-separated pooled metrics shown per model (default: roc_auc,aupr,brier)",
    )
    parser.add_argument(
        "--include-search", action="store_true", help="also list search parents and trials"
    )
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write it as HTML")
    return parser


def compare_main(argv: list[str]) -> int:
    args = _compare_parser().parse_args(argv)
    if args.max_runs < 1:
        return _fail(f"--max-runs must be >= 1, not {args.max_runs}")
    from features.writers import check_output_file

    try:
        for path, option in ((args.csv, "--csv"), (args.html, "--html")):
            if path is not None:
                check_output_file(path, option)
    except RootcastError as exc:
        return _fail(exc)
    from experiments import tracking
    from experiments.compare import CompareOptions, comparison_table, render_terminal

    options = CompareOptions(
        tuple(m.strip() for m in args.metrics.split(",") if m.strip()),
        args.sort_by,
        args.ascending,
        args.max_runs,
        args.include_search,
    )
    try:
        runs = tracking.search_runs_frame(args.experiment, args.filter)
        versions = tracking.run_model_versions(list(runs.get("run_id", [])))
        table = comparison_table(runs, versions, options)
    except (LookupError, RootcastError) as exc:
        return _fail(exc)
    others = int((table["comparable"] == "not comparable").sum())
    unfinished = int(table["comparable"].str.startswith("no:").sum())
    print(
        f"{len(table)} run(s) of experiment {args.experiment!r}; newest finished run's data "
        f"fingerprint {table.attrs['reference_fingerprint'] or '-'}; {others} run(s) on other "
        f"data and {unfinished} unfinished (not comparable); champion marked *\n"
    )
    print(render_terminal(table))
    for path in _write_comparison(table, args.csv, args.html, args.experiment):
        print(f"Wrote {path}")
    return 0


def _write_comparison(
    table: pd.DataFrame, csv: Path | None, html: Path | None, experiment: str
) -> list[Path]:
    """The comparison as CSV and/or self-contained HTML (one row per run); paths written."""
    from experiments.compare import render_html
    from features.writers import write_atomically, write_csv

    written = [write_csv(csv, table)] if csv else []
    if html:
        page = render_html(table, f"rootcast runs — experiment {experiment}")
        written.append(write_atomically(html, lambda tmp: tmp.write_text(page, encoding="utf-8")))
    return written


def predict_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="train.py predict",
        description="Score the latest period of every district of a panel with a registered "
        "model (no retraining): features are built as the model's run built them.",
    )
    _model_argument(parser)
    parser.add_argument("--data", type=Path, required=True, help="panel (CSV or Parquet)")
    parser.add_argument("--catalog", type=Path, help="feature catalog (default: the run's)")
    parser.add_argument("--geometry", type=Path, help="district polygons (default: the run's)")
    parser.add_argument("--out", type=Path, default=Path("output/predict.csv"), help="CSV to write")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    from experiments.predict import PredictRequest, predict, preview_columns

    request = PredictRequest(args.model, args.data, args.catalog, args.geometry)
    try:
        table = predict(request, args.out, progress_printer(args.quiet))
    except RootcastError as exc:
        return _fail(exc)
    print(table[preview_columns(table)].head(10).to_string(index=False))
    print(f"\n{len(table)} districts scored. Wrote {args.out}")
    return 0


SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {
    "plan": plan_main,
    "predict": predict_main,
    "retrain": retrain_main,
    "rollback": rollback_main,
    "synth": synth_main,
    "compare": compare_main,
}
