"""Memory and time of `python train.py` as the synthetic region grows; figures go into the README.

For each district count, one real training (`--set synthetic.n_districts=N`, explanation on
unless `--extra` turns it off) runs in its own child process, one at a time, in a temporary
MLflow store and output folder. The child's progress lines name the stage it is in; its
resident set size (RSS) is sampled every `--interval` seconds and the peak kept per stage.
The overall peak is the kernel's own (wait4's maxrss), so a spike between two samples is
not missed. Prints one row per run: districts, rows,
wall seconds, peak RSS, then the peak RSS of every stage (GB = 10^9 bytes; a dash: the
stage was shorter than one sample). A stage runs from its progress line to the next one:
'refits+aggregates' includes the province/country aggregates, 'truth check+files' the
writing of the result files (made before MLflow logging starts); with explanation off the
files are written in the 'final fit' stage.

    python benchmarks/bench_memory.py [--districts 600 2400 9600] [--interval 0.1]
                                      [--markdown] [--keep DIR] [--extra --set KEY=VALUE ...]

With `--grid CELLS ...` the runs train instead on the scale benchmark's grid panel
(benchmarks/scale_panel.py: CELLS cells x `--months` months, ~50 covariates, read from a
folder of Parquet files), generated in the temporary folder before each run (not timed).
A second table gives the seconds each stage took: where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")
PROGRESS = re.compile(r"^\[\s*[\d.]+s\] (.*)$")
# progress message prefix -> stage name (in run order); other messages keep the stage
STAGES = (
    ("loading and validating", "load"),
    ("building features", "features"),
    ("fold ", "folds"),
    ("fitting the final model", "final fit"),
    ("explaining", "SHAP"),
    ("stability and intervals", "refits+aggregates"),
    ("targeting", "plan"),
    ("checking drivers", "truth check+files"),
    ("logging to MLflow", "MLflow"),
)
STAGE_NAMES = ["start", *(name for _, name in STAGES)]


def rss(pid: int) -> int:
    """Resident bytes of process `pid` (0 once gone). Its children are left out: the only
    ones a training starts are MLflow's short `git` calls, and a child caught between fork
    and exec would show the parent's memory a second time."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def stage_of(message: str, current: str) -> str:
    for prefix, name in STAGES:
        if message.startswith(prefix):
            return name
    return current


def measure(
    districts: int,
    interval: float,
    extra: list[str],
    keep: Path | None = None,
    grid_months: int | None = None,
) -> dict:
    """One training at `districts` districts (grid cells when `grid_months` is given): wall
    seconds, rows, peak RSS overall and per stage, each stage's seconds. The result files go
    to `keep`/districts-N when given (else they are deleted)."""
    with tempfile.TemporaryDirectory(prefix="rootcast-mem-") as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        out = keep / f"districts-{districts}" if keep else Path(tmp) / "out"
        command = [sys.executable, "train.py", "--output", str(out)]
        if grid_months is None:
            command += ["--set", f"synthetic.n_districts={districts}", *extra]
        else:
            grid = Path(tmp) / "grid"
            generate = [sys.executable, "benchmarks/scale_panel.py", "--out", str(grid)]
            generate += ["--cells", str(districts), "--months", str(grid_months)]
            subprocess.run(generate, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            command += ["--config", str(grid / "scale.toml"), *extra]
        stage = {"name": "start"}
        peaks: dict[str, int] = {}
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        errors: list[str] = []

        def read_progress() -> None:
            for line in child.stderr:
                match = PROGRESS.match(line.rstrip("\n"))
                if match is None:
                    errors.append(line)
                    continue
                name = stage_of(match.group(1), stage["name"])
                if name != stage["name"]:
                    seconds.setdefault(name, time.perf_counter() - started)
                    stage["name"] = name

        reader = threading.Thread(target=read_progress, daemon=True)
        reader.start()
        while True:
            done, status, usage = os.wait4(child.pid, os.WNOHANG)
            if done:
                break
            resident = rss(child.pid)
            name = stage["name"]
            peaks[name] = max(peaks.get(name, 0), resident)
            time.sleep(interval)
        wall = time.perf_counter() - started
        reader.join(timeout=5)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            sys.stderr.write("".join(errors[-30:]))
            raise SystemExit(f"training at {districts} districts failed ({child.returncode})")
        summary = json.loads((out / "summary.json").read_text())
    order = sorted(seconds.items(), key=lambda kv: kv[1])
    ends = [start for _, start in order[1:]] + [wall]
    return {
        "districts": districts,
        "rows": summary["data"]["n_rows"],
        "wall": wall,
        "durations": {name: end - start for (name, start), end in zip(order, ends, strict=True)},
        "peak": max(usage.ru_maxrss * 1024, *peaks.values()),  # ru_maxrss: KiB on Linux
        "stages": peaks,
        "starts": seconds,
    }


def _gb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1e9:.2f}"


def table(results: list[dict], markdown: bool, key: str = "stages") -> str:
    """Peak RSS per stage (`key` "stages", GB) or seconds per stage ("durations")."""
    stages = [s for s in STAGE_NAMES if any(s in r[key] for r in results)]
    header = ["districts", "rows", "wall s", "peak RSS GB", *stages]

    def cell(r: dict, stage: str) -> str:
        if key == "stages":
            return _gb(r["stages"].get(stage))
        return "—" if stage not in r["durations"] else f"{r['durations'][stage]:.1f}"

    rows = [
        [
            f"{r['districts']:,}",
            f"{r['rows']:,}",
            f"{r['wall']:.0f}",
            _gb(r["peak"]),
            *(cell(r, s) for s in stages),
        ]
        for r in results
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    return "\n".join(
        "  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True))
        for line in [header, *rows]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, nargs="+", default=[600, 2400, 9600])
    parser.add_argument("--interval", type=float, default=0.1, help="RSS sampling, seconds")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--keep", type=Path, help="keep the result files in KEEP/districts-N")
    parser.add_argument("--grid", type=int, nargs="+", help="grid cells (scale_panel.py) instead")
    parser.add_argument("--months", type=int, default=240, help="months of the grid panel")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="train.py args")
    args = parser.parse_args(argv)
    results = []
    months = args.months if args.grid else None
    for n in args.grid or args.districts:
        results.append(measure(n, args.interval, args.extra, args.keep, months))
        r = results[-1]
        print(
            f"{n:,} districts: {r['wall']:.0f} s, peak {_gb(r['peak'])} GB "
            f"(stage starts, s: {', '.join(f'{k} {v:.0f}' for k, v in r['starts'].items())})",
            flush=True,
        )
    print("\npeak RSS per stage (GB); stages named by train.py's progress lines\n")
    print(table(results, args.markdown))
    print("\nseconds per stage\n")
    print(table(results, args.markdown, "durations"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
