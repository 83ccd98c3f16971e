"""Risk report of a logged run or a registered model, fetched from MLflow.

python -m experiments.report_cli --run-id RUN_ID [--out report.html] [--pdf]
python -m experiments.report_cli --model rootcast-h1@champion [--out report.html]

Downloads the run's result files into a temporary folder and builds the same report as
`python -m reports --results DIR`; the report itself never talks to MLflow.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from experiments import tracking
from features.errors import RootcastError
from reports.__main__ import report_parser, write_report
from reports.contract import SUMMARY_FILE, RunSummary

REPORTS_DIR = Path("output") / "reports"


def main(argv: list[str] | None = None) -> int:
    parser = report_parser(
        "python -m experiments.report_cli",
        f"{REPORTS_DIR}/report-<run id>.html, never a training run's own report",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id", help="id of an MLflow training run")
    which.add_argument(
        "--model", help="registered model: NAME@ALIAS or NAME/VERSION, e.g. rootcast-h1@champion"
    )
    args = parser.parse_args(argv)
    reference = args.run_id or args.model
    with tempfile.TemporaryDirectory(prefix="rootcast-report-") as tmp:
        try:
            results = tracking.download_run_results(reference, Path(tmp))
        except (LookupError, RootcastError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        summary = json.loads((results / SUMMARY_FILE).read_text(encoding="utf-8"))
        run_id = RunSummary.from_dict(summary, str(results / SUMMARY_FILE)).run_id
        out = args.out or REPORTS_DIR / f"report-{str(run_id)[:8]}.html"
        return write_report(results, out, args.pdf)


if __name__ == "__main__":
    sys.exit(main())
