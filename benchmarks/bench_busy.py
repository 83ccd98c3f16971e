"""Training on a busy machine: the default run (explain off) alone, beside CPU-bound
processes, and two trainings at once. Prints wall times and the slowdown factors.

python benchmarks/bench_busy.py [--hogs 2] [--extra --set ...]

Each training is a real `python train.py -q` in its own temporary MLflow store. The aim
(hardening issue): beside two CPU-bound processes, and two trainings at once, each take at most
3 x the time alone. OpenMP threads wait passively (models/__init__.py) and xgboost uses no
more threads than the process may run on (models/pipeline.py: usable_threads).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOG = "while True:\n    pass\n"


def _start_training(tmp: Path, tag: str, extra: list[str]) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/{tag}.db"}
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):  # measure the project's own default
        env.pop(name, None)
    command = [sys.executable, "train.py", "-q", "--output", str(tmp / tag)]
    command += ["--set", "explain.enabled=false", *extra]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def _timed(processes: list[subprocess.Popen], started: float) -> list[float]:
    ends = []
    for p in processes:
        if p.wait() != 0:
            raise SystemExit(f"training failed with code {p.returncode}")
        ends.append(time.perf_counter() - started)
    return ends


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hogs", type=int, default=2, help="CPU-bound processes beside it")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="train.py args")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        (alone,) = _timed([_start_training(tmp, "alone", args.extra)], started)
        print(f"alone: {alone:.1f} s", flush=True)

        hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(args.hogs)]
        try:
            started = time.perf_counter()
            (busy,) = _timed([_start_training(tmp, "busy", args.extra)], started)
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
        print(f"beside {args.hogs} CPU-bound processes: {busy:.1f} s ({busy / alone:.2f} x)")

        started = time.perf_counter()
        pair = _timed([_start_training(tmp, f"pair{k}", args.extra) for k in range(2)], started)
        print(
            f"two trainings at once: {pair[0]:.1f} s and {pair[1]:.1f} s "
            f"({max(pair) / alone:.2f} x the time alone)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
