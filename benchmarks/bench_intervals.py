"""Forecast intervals with and without the held-out calibration band, on every panel.

For each panel of `benchmarks/bench_skill.py` (the embedded region, seeds 7, 11 and 23; the
second synthetic region; the two real panels when ../shared/data is there) one training's
evaluate -> final fit -> explain-and-target stage runs as `train.py` runs it (no MLflow, no
files), and the forecast interval is taken twice from the same models: the range of the
multi-model pool alone (`models.probability.risk_interval` without a band) and widened by the
registered model's calibration band (what a run writes). Printed per panel: the registered
model, the band (bins, held-out rows, the widest log-odds gaps), the median interval width in
probability points, and where the truth is known (synthetic panels) the share of districts
whose true probability lies inside, overall and for forecasts of 60 % and above.

    python benchmarks/bench_intervals.py [--shared ../shared/data] [--panels NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_skill import PANELS, panel_config  # noqa: E402
from experiments.config import load_config  # noqa: E402
from experiments.prepare import prepare  # noqa: E402
from experiments.run import evaluate, explain_target, fit_final, interval_band, load  # noqa: E402
from models import insight, truth  # noqa: E402
from models.aggregates import period_shocks  # noqa: E402

HIGH_RISK = 0.6


def intervals(name: str, folder: Path, shared: Path) -> dict | None:
    """Both intervals of one panel's forecast and its truth where known; None without data."""
    setup = panel_config(name, folder, shared)
    if setup is None:
        return None
    path, overrides = setup
    programs = folder / "programs.toml"  # the second region's own catalog of programs
    if programs.exists():  # its naive plan: the programs' first (as its header says)
        naive = next(iter(tomllib.loads(programs.read_text())["programs"]))
        overrides = [
            *overrides,
            f'targeting.programs="{programs}"',
            f'targeting.naive_program="{naive}"',
        ]
    config = load_config(path, [*overrides, "explain.enabled=true"])
    loaded = load(config)
    data = prepare(config, loaded.inputs)
    evaluation = evaluate(config, data, progress=lambda message: None)
    final = fit_final(evaluation, data)
    band = interval_band(evaluation)
    seen: dict = {}
    original = insight.risk_interval

    def both(models, X, band=None, probability=None):  # the run's call, and without the band
        risk = models[0].predict_proba(X)[:, 1] if probability is None else probability
        plain = original(models, X, None, risk)
        widened = plain if band is None else band.widen(*plain, risk)
        seen.update(X=X, risk=risk, plain=plain, widened=widened)
        return widened

    insight.risk_interval = both
    try:
        shocks = period_shocks(evaluation.predictions, evaluation.selection.chosen)
        explain_target(config, data, final, loaded.programs, shocks, lambda m: None, band)
    finally:
        insight.risk_interval = original
    X, risk = seen["X"], seen["risk"]
    true = None
    if name.startswith("synthetic-"):
        true = truth.true_probability(X)
    elif name == "second-region":
        keys = data.frame.loc[X.index, ["district_id", "period"]].astype(str)
        table = pd.read_parquet(folder / "truth.parquet").astype({"period": str})
        keyed = table.set_index(["district_id", "period"])["oracle_prob"]
        true = keyed.reindex(pd.MultiIndex.from_frame(keys)).to_numpy()
    row = {
        "panel": name,
        "districts": len(X),
        "registered": evaluation.selection.chosen,
        "band": "-"
        if band is None
        else f"{len(band.counts)} bins of {min(band.counts)}-{max(band.counts)} rows, "
        f"gaps {min(band.low):+.2f}..{max(band.high):+.2f}",
    }
    high = risk >= HIGH_RISK
    for kind in ("plain", "widened"):
        low, up = seen[kind]
        row[f"width_{kind}"] = float(np.nanmedian(up - low))
        if true is not None:
            inside = (true >= low) & (true <= up)
            row[f"coverage_{kind}"] = float(inside.mean())
            row[f"high_{kind}"] = float(inside[high].mean()) if high.any() else np.nan
    row["high_n"] = int(high.sum())
    return row


def render(rows: list[dict]) -> str:
    pct = lambda v: "-" if v is None or np.isnan(v) else f"{100 * v:.0f} %"  # noqa: E731
    lines = [
        "| panel | districts | registered | band | median width (pool → widened) "
        "| coverage (pool → widened) | forecasts ≥ 60 %: coverage |",
        "|---|---:|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['panel']} | {r['districts']} | {r['registered']} | {r['band']} | "
            f"{100 * r['width_plain']:.1f} → {100 * r['width_widened']:.1f} pts | "
            f"{pct(r.get('coverage_plain'))} → {pct(r.get('coverage_widened'))} | "
            f"{pct(r.get('high_plain'))} → {pct(r.get('high_widened'))} ({r['high_n']}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--panels", nargs="+", default=PANELS, choices=PANELS)
    args = parser.parse_args(argv)
    rows = []
    for name in args.panels:
        with tempfile.TemporaryDirectory(prefix=f"rootcast-{name}-") as tmp:
            found = intervals(name, Path(tmp), args.shared)
        if found is None:
            print(f"{name}: skipped (no data in {args.shared})", file=sys.stderr)
            continue
        rows.append(found)
        print(render([found]).splitlines()[-1], file=sys.stderr, flush=True)
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
