"""End-to-end time and peak memory of rootcast's backends and the minimal script, side by side
on the same scale panels (benchmarks/scale_panel.py).

    python benchmarks/bench_scale.py DIR [DIR ...] [--runs dask,minimal,lean,pandas]

For each panel folder DIR (with panel/, scale.toml, ... as scale_panel.py writes them) and
each run kind, a subprocess is started and the resident memory of its whole process tree
(the client, the Dask scheduler, nannies and workers) is sampled every 0.2 s:
- `dask`: `train.py --config DIR/scale.toml --set scale.backend="dask"` (LocalCluster);
- `lean`: the same with `scale.backend="lean"` (the dask backend's models, in one process);
- `pandas`: the same config on the single-machine path (full model zoo, refits and plan;
  raise scale.max_rows_in_memory with --set for panels above its limit);
- `minimal`: benchmarks/minimal_xgb.py (pandas + xgboost + TreeSHAP, the floor).
Prints one Markdown row per run: rows, kind, wall seconds, peak RSS of the tree and, for
rootcast, the seconds from its progress lines (data, folds, final fit, explain, log).
Run one benchmark at a time on a quiet machine: parallel work skews both figures.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.2
STARTS = (  # the progress line that starts each stage after "data"
    ("fold 1/", "folds"),
    ("fitting the final model", "final fit"),
    ("explaining", "explain"),
    ("logging to MLflow", "log"),
)
PROGRESS = re.compile(r"^\[\s*([0-9.]+)s\] (.*)$")


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (0 for those gone meanwhile)."""
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:  # the process ended meanwhile
        return 0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:  # a child ended meanwhile
            pass
    return total


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run `command`; returns (wall seconds, peak tree RSS in GB, its stdout + stderr)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    process, peak = psutil.Process(child.pid), [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(process))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = child.communicate()[0]
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return wall, peak[0] / 1e9, output


def stage_seconds(output: str, wall: float) -> dict[str, float]:
    """Seconds per stage from rootcast's progress lines ("[  12.7s] message")."""
    marks = [(0.0, "data")]
    for line in output.splitlines():
        found = PROGRESS.match(line)
        for prefix, name in STARTS if found else ():
            if found[2].startswith(prefix) and name not in {n for _, n in marks}:
                marks.append((float(found[1]), name))
    ends = [start for start, _ in marks[1:]] + [wall]
    return {name: end - start for (start, name), end in zip(marks, ends, strict=True)}


def run_kind(kind: str, folder: Path, overrides: list[str], store: Path) -> dict[str, object]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"}
    if kind == "minimal":
        command = [sys.executable, "benchmarks/minimal_xgb.py", "--panel", str(folder / "panel")]
    else:
        command = [
            sys.executable,
            "train.py",
            "--config",
            str(folder / "scale.toml"),
            "--output",
            str(store / f"out-{kind}"),
            "--set",
            f'scale.backend="{kind}"',
            *[item for o in overrides for item in ("--set", o)],
        ]
    wall, peak, output = measure(command, env)
    rows = re.search(r"rows ([0-9][0-9,]*[0-9])|([0-9][0-9,]*[0-9]) district-periods", output)
    count = (rows.group(1) or rows.group(2)) if rows else "?"
    if kind == "minimal":  # its own line: "seconds: read 1.0, features 2.0, ..."
        line = re.search(r"^seconds: (.*)$", output, re.MULTILINE)
        pairs = [part.rsplit(" ", 1) for part in line.group(1).split(", ")] if line else []
        stages = {name: float(value) for name, value in pairs}
    else:
        stages = stage_seconds(output, wall)
    return {"rows": count, "kind": kind, "wall": wall, "peak": peak, "stages": stages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("panels", type=Path, nargs="+", help="scale_panel.py output folders")
    parser.add_argument("--runs", default="dask,minimal", help="comma-separated run kinds")
    parser.add_argument("--set", action="append", default=[], help="config override (rootcast)")
    args = parser.parse_args(argv)
    print("| rows | run | wall s | peak RSS GB (process tree) | stages (s) |")
    print("|---:|---|---:|---:|---|")
    for folder in args.panels:
        for kind in args.runs.split(","):
            with tempfile.TemporaryDirectory(prefix="rootcast-bench-") as tmp:
                found = run_kind(kind, folder, args.set, Path(tmp))
            stages = ", ".join(f"{k} {v:.0f}" for k, v in found["stages"].items()) or "–"
            print(
                f"| {found['rows']} | {kind} | {found['wall']:.0f} | {found['peak']:.2f} | "
                f"{stages} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
