"""rootcast's command line: train, evaluate and register a district risk model.

python train.py                       # the embedded synthetic region, default config
python train.py --data panel.csv --catalog catalog.toml --geometry districts.geojson
python train.py --set model.xgboost.max_depth=5 --set split.n_folds=3
python train.py plan --budget 60      # re-plan from the champion, no retraining
python train.py retrain --data next_year.csv   # challenger vs champion, promotion
python train.py rollback              # the previous champion back
python train.py synth --out data/     # export the synthetic region as files
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.cli import add_set_argument, quiet_library_logs
from features.errors import RootcastError

if TYPE_CHECKING:
    from reports.contract import RunSummary

DEFAULT_OUTPUT = Path("output")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Forecast district risk of violent-extremist incidents: train every model "
        "with rolling-origin evaluation, explain, plan, log to MLflow and register the "
        "stack (or the best baseline when the stack does not beat every baseline). "
        "Subcommands: plan, predict, retrain, rollback, synth, compare (each has "
        "--help).",
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
        help="district polygons (GeoJSON/GeoPackage) keyed by "
        "district_id, for spatial lags and maps",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="folder for summary.json, predictions.parquet, metrics.csv, "
        "forecast.csv, explanations and plan (default: output/)",
    )
    add_set_argument(parser, "override a config value, e.g. model.xgboost.max_depth=5 (repeatable)")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="FILE.html",
        help="also write the HTML risk report there at the end",
    )
    parser.add_argument(
        "--search",
        type=int,
        metavar="N",
        help="first run N Optuna trials of the xgboost hyper-parameters on inner folds of the "
        "periods before the reported folds (never on them; nested MLflow runs under one "
        "parent), then train with the best",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config (every key, defaults included) as TOML and exit",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also MLflow's own INFO lines (any command)"
    )
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


def _print_insight(summary: RunSummary) -> None:
    """Driver recovery and plan quality against the synthetic truth, when measured."""
    plan, recovery = summary.truth_plan, summary.truth_recovery
    if recovery:
        print(
            f"\nDrivers vs the synthetic truth: Spearman {recovery['spearman']:.2f} of mean "
            f"|SHAP| with the true mean |term|; true top 3 {recovery['true_top']}, model's "
            f"{recovery['model_top']}; true top actionable driver among the model's top 3 "
            f"for {recovery['top_actionable_hit_share']:.0%} of districts. SHAP shows "
            "association, not proven cause."
        )
    if plan:
        print(
            f"Plan vs the truth: true risk reduction {plan['true_reduction_ours']:.2f} "
            f"(estimated {plan['estimated_reduction_ours']:.2f}) = "
            f"{plan['ratio_to_oracle']:.2f} of the oracle plan's, "
            f"{plan['multiple_of_naive']:.2f} x the naive plan's, "
            f"{plan['multiple_of_random']:.1f} x random plans'; estimated / true "
            f"{plan['estimate_to_truth']:.2f}."
        )
        if plan["risk_rows"] > 0:
            print(
                "Stated 90 % intervals vs the truth: district risk holds the true probability "
                f"in {plan['risk_coverage']:.0%} of {plan['risk_rows']:.0f} districts (point on "
                f"a bound in {plan['risk_on_bound']:.0f}); program benefit holds the true "
                f"reduction in {plan['benefit_coverage']:.0%} of {plan['benefit_rows']:.0f} "
                f"plan rows (point on a bound in {plan['benefit_on_bound']:.0f})."
            )
        else:
            print("No intervals to check against the truth (no bootstrap refits).")


def _check_report_path(report: Path | None) -> None:
    """`--report` must name a file that can be written, checked before any training."""
    if report is not None:
        from features.writers import check_output_file

        check_output_file(report, "--report")


def train_main(argv: list[str]) -> int:
    args = parse_args(argv)
    # Imported here so `--help` answers fast.
    from experiments.cli import progress_printer
    from experiments.config import load_config, to_toml
    from experiments.run import run_training
    from experiments.terminal import metrics_table, selection_lines

    try:
        config = load_config(args.config, _overrides(args))
        if args.print_config:
            print(to_toml(config), end="")
            return 0
        _check_report_path(args.report)
        if args.search is not None:
            from experiments.search import search_summary, train_with_search

            result, found = train_with_search(
                config, args.search, args.output, progress_printer(args.quiet)
            )
            print(search_summary(found))
        else:
            result = run_training(config, args.output, progress_printer(args.quiet))
    except RootcastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    s = result.summary
    print(
        f"\nHeld-out skill ({len(s.folds)} rolling-origin folds, "
        f"target: {s.target.definition}; data: {s.data.source}"
        f"{' — SYNTHETIC' if s.data.synthetic else ''})"
    )
    print(metrics_table(result.scores))
    if s.selection:
        print(selection_lines(s.selection))
    line = f"\nMLflow run {s.run_id}"
    if s.model_version:
        line += f"; registered {s.registered_model} version {s.model_version}"
        line += " (champion)" if s.became_champion else ""
    print(line)
    _print_insight(s)
    print(f"Wrote {', '.join(str(p) for p in result.files)}")
    if args.report:
        from experiments.tracking import log_to_run
        from reports.risk_report import build_report

        path = build_report(args.output, args.report)
        log_to_run(s.run_id, {}, [path])
        print(f"Report: {path.resolve()}")
    return 0


INTERRUPTED = 130  # the shell's code for a program ended by Ctrl-C (128 + SIGINT)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    verbose = bool({"-v", "--verbose"} & set(argv))
    argv = [a for a in argv if a not in {"-v", "--verbose"}]
    quiet_library_logs(verbose)  # MLflow's own INFO lines only with -v
    from experiments.locks import stop_on_ctrl_c

    stop_on_ctrl_c()
    try:
        if argv and argv[0] in {"plan", "predict", "retrain", "rollback", "synth", "compare"}:
            from experiments.cli import SUBCOMMANDS

            return SUBCOMMANDS[argv[0]](argv[1:])
        return train_main(argv)
    except KeyboardInterrupt:
        print(
            "interrupted: earlier results are untouched; a started MLflow run ends FAILED",
            file=sys.stderr,
        )
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
