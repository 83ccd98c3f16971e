"""Risk report of a logged run or a registered model, fetched from MLflow.

python -m experiments.report_cli --run-id RUN_ID [--out report.html] [--pdf] [--force] [-v]
python -m experiments.report_cli --model rootcast-h1@champion [--out report.html]

Downloads the run's result files into a temporary folder and builds the same report as
`python -m reports --results DIR`; the report itself never talks to MLflow. The default file is
output/reports/report-<first 8 characters of the run id>.html, so it never replaces the report a
training run wrote (output/report.html). An existing file (the HTML, or its PDF with --pdf) is
never overwritten unless --force is given: the command stops with an error before fetching.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from experiments import tracking
from experiments.cli import quiet_library_logs
from features.errors import RootcastError
from reports.__main__ import report_parser, write_report
from reports.contract import SUMMARY_FILE, RunSummary

REPORTS_DIR = Path("output") / "reports"


def main(argv: list[str] | None = None) -> int:
    parser = report_parser(
        "python -m experiments.report_cli",
        f"{REPORTS_DIR}/report-<first 8 characters of the run id>.html under the current "
        "folder, never a training run's own report; an existing file is refused unless --force",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id", help="id of an MLflow training run")
    which.add_argument(
        "--model", help="registered model: NAME@ALIAS or NAME/VERSION, e.g. rootcast-h1@champion"
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite the file(s) if they exist already"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="also MLflow's INFO lines")
    args = parser.parse_args(argv)
    quiet_library_logs(args.verbose)
    reference = args.run_id or args.model
    if args.out and (refused := _refuse_overwrite(args.out, args.pdf, args.force)):
        return refused
    with tempfile.TemporaryDirectory(prefix="rootcast-report-") as tmp:
        try:
            results = tracking.download_run_results(reference, Path(tmp))
        except (LookupError, RootcastError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        summary = json.loads((results / SUMMARY_FILE).read_text(encoding="utf-8"))
        run_id = RunSummary.from_dict(summary, str(results / SUMMARY_FILE)).run_id
        out = args.out or REPORTS_DIR / f"report-{str(run_id)[:8]}.html"
        if refused := _refuse_overwrite(out, args.pdf, args.force):
            return refused
        return write_report(results, out, args.pdf)


def _refuse_overwrite(out: Path, pdf: bool, force: bool) -> int:
    """2 (after one `error:` line) when `out` (or its PDF, with --pdf) exists and --force
    was not given; 0 otherwise."""
    existing = [p for p in (out, out.with_suffix(".pdf"))[: 2 if pdf else 1] if p.exists()]
    if existing and not force:
        print(
            f"error: --out {existing[0]} exists; pass --force to overwrite it or choose "
            "another --out",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
