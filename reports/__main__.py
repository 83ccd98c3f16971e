"""Build a risk report from a results folder: `python -m reports --results DIR [--out F] [--pdf]`.

MLflow-free: to report on a logged run or a registered model, use
`python -m experiments.report_cli --run-id ID | --model NAME@ALIAS`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from features.errors import RootcastError

DEFAULT_NAME = "report.html"


def report_parser(
    prog: str, out_default: str = f"<results>/{DEFAULT_NAME}"
) -> argparse.ArgumentParser:
    """The options every report command shares (--out, --pdf)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write a self-contained HTML risk report (map, drivers, prevention plan, "
        "model card, disparity audit) from the result files of a training run.",
    )
    parser.add_argument("--out", type=Path, help=f"HTML file to write (default: {out_default})")
    parser.add_argument(
        "--pdf", action="store_true", help="also write a PDF beside it (needs weasyprint)"
    )
    return parser


def write_report(results: Path, out: Path, pdf: bool) -> int:
    """Build the report, print where it went; user errors -> one `error:` line, exit code 2."""
    from features.writers import check_output_file
    from reports.risk_report import PDF_PACKAGE, build_report, pdf_available

    started = time.perf_counter()
    try:
        check_output_file(out, "--out")
        path = build_report(results, out, pdf=pdf)
    except RootcastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    took = f"{time.perf_counter() - started:.1f}s"
    if pdf and pdf_available():
        print(f"Wrote {path} and {path.with_suffix('.pdf')} ({took} for both)")
    else:
        print(f"Wrote {path} ({took})")
    if pdf and not pdf_available():
        print(f"PDF skipped: weasyprint is not installed (pip install {PDF_PACKAGE})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = report_parser("python -m reports")
    parser.add_argument(
        "--results", type=Path, required=True, help="folder written by `train.py --output`"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        return write_report(args.results, args.out or args.results / DEFAULT_NAME, args.pdf)
    except KeyboardInterrupt:
        print("interrupted: no report written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
