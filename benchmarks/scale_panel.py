"""A scaled-up synthetic panel for the scale benchmarks: square grid cells by month.

    python benchmarks/scale_panel.py --cells 4200 --months 240 --out /tmp/scale-1m

writes, under --out:
- panel/part-YYYY.parquet: one file per year (a folder of Parquet files, read whole by
  `train.py --data DIR/panel` or lazily by Dask), columns district_id, period ('YYYY-MM'),
  country, admin1, district_name, incidents and `--features` float32 covariates;
- catalog.toml: the covariates, described (synthetic, no real place);
- geometry.geojson: the cells as squares (0.5 degree), for the spatial lags;
- programs.toml: two assumed programs moving the driver covariates;
- scale.toml: the experiment config reading all of it (`train.py --config DIR/scale.toml`).

The truth: each cell's monthly probability of at least one incident is a logistic function of
8 driver covariates, its own incidents last month and its 8 neighbours' (contagion), and a
season; 12 covariates are noisy proxies of the drivers, the rest noise. Covariates are smooth
in space (sums of random waves) and drift in time (AR(1) per cell). Generated month by month
with a year's rows in memory at most, so 10M rows need ~1 GB here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

N_DRIVERS, N_PROXIES = 8, 12
CELL_DEGREES = 0.5
START_YEAR = 2001


def grid_shape(n_cells: int) -> tuple[int, int]:
    rows = max(1, int(np.sqrt(n_cells)))
    return rows, -(-n_cells // rows)


def grid_adjacency(n_cells: int) -> sparse.csr_matrix:
    """Queen (8-neighbour: sides and corners, as the polygons touch) adjacency of the first
    n_cells cells of the grid, row by row."""
    rows, cols = grid_shape(n_cells)
    index = np.arange(n_cells)
    r, c = index // cols, index % cols
    pairs = []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        other = (r + dr) * cols + (c + dc)
        ok = (r + dr < rows) & (c + dc >= 0) & (c + dc < cols) & (other < n_cells)
        pairs.append((index[ok], other[ok]))
    i = np.concatenate([p[0] for p in pairs] + [p[1] for p in pairs])
    j = np.concatenate([p[1] for p in pairs] + [p[0] for p in pairs])
    return sparse.csr_matrix((np.ones(len(i), np.float32), (i, j)), shape=(n_cells, n_cells))


def _smooth_fields(n_cells: int, n_fields: int, rng: np.random.Generator) -> np.ndarray:
    """(n_cells, n_fields) spatially smooth fields, each standardised."""
    rows, cols = grid_shape(n_cells)
    index = np.arange(n_cells)
    y, x = (index // cols) / max(rows, 1), (index % cols) / max(cols, 1)
    out = np.zeros((n_cells, n_fields), np.float32)
    for k in range(n_fields):
        for _ in range(4):
            wx, wy = rng.uniform(1, 8, 2)
            out[:, k] += np.sin(2 * np.pi * (wx * x + wy * y) + rng.uniform(0, 2 * np.pi))
        out[:, k] += 0.3 * rng.standard_normal(n_cells)
    return (out - out.mean(0)) / out.std(0)


def feature_names(n_features: int) -> list[str]:
    drivers = [f"driver_{k + 1:02d}" for k in range(N_DRIVERS)]
    proxies = [f"proxy_{k + 1:02d}" for k in range(N_PROXIES)]
    noise = [f"noise_{k + 1:02d}" for k in range(n_features - N_DRIVERS - N_PROXIES)]
    return drivers + proxies + noise


def generate(out: Path, n_cells: int, n_months: int, n_features: int = 50, seed: int = 7) -> int:
    """Write the panel, catalog and geometry under `out`; returns the number of rows."""
    if n_features < N_DRIVERS + N_PROXIES:
        raise ValueError(f"--features must be at least {N_DRIVERS + N_PROXIES}")
    rng = np.random.default_rng(seed)
    names = feature_names(n_features)
    static = _smooth_fields(n_cells, n_features, rng)
    static[:, N_DRIVERS : N_DRIVERS + N_PROXIES] = (
        0.7 * static[:, rng.integers(0, N_DRIVERS, N_PROXIES)]
        + 0.7 * static[:, N_DRIVERS : N_DRIVERS + N_PROXIES]
    )
    beta = rng.uniform(0.25, 0.6, N_DRIVERS) * rng.choice([-1, 1], N_DRIVERS)
    adjacency = grid_adjacency(n_cells)
    degree = np.maximum(np.asarray(adjacency.sum(1)).ravel(), 1)
    rows, cols = grid_shape(n_cells)
    ids = np.array([f"G{i:07d}" for i in range(n_cells)])
    column = np.arange(n_cells) % cols
    country = np.array(["Country A", "Country B", "Country C"])[np.minimum(3 * column // cols, 2)]
    block = (np.arange(n_cells) // cols) // 8 * 1000 + column // 8
    admin1 = np.array([f"Province {b}" for b in block])
    drift = np.zeros_like(static)
    last_any = np.zeros(n_cells, np.float32)
    (out / "panel").mkdir(parents=True, exist_ok=True)
    year_parts: list[pd.DataFrame] = []
    total = 0
    for month in range(n_months):
        drift = 0.95 * drift + 0.1 * rng.standard_normal(drift.shape).astype(np.float32)
        x = static + drift
        neighbours = adjacency @ last_any / degree
        season = 0.3 * np.sin(2 * np.pi * (month % 12) / 12)
        logit = -3.0 + x[:, :N_DRIVERS] @ beta + 1.2 * last_any + 1.5 * neighbours + season
        p = 1 / (1 + np.exp(-logit))
        incidents = rng.poisson(-np.log1p(-np.minimum(p, 0.999)))
        last_any = (incidents > 0).astype(np.float32)
        year, month_of_year = START_YEAR + month // 12, month % 12 + 1
        frame = pd.DataFrame(x.astype(np.float32), columns=names)
        frame.insert(0, "district_id", ids)
        frame.insert(1, "period", f"{year}-{month_of_year:02d}")
        frame.insert(2, "country", country)
        frame.insert(3, "admin1", admin1)
        frame.insert(4, "district_name", ids)
        frame.insert(5, "incidents", incidents.astype(np.int32))
        year_parts.append(frame)
        if month_of_year == 12 or month == n_months - 1:
            part = pd.concat(year_parts, ignore_index=True)
            part.to_parquet(out / "panel" / f"part-{year}.parquet", index=False)
            total += len(part)
            year_parts = []
    _write_catalog(out / "catalog.toml", names)
    _write_programs(out / "programs.toml", names[:N_DRIVERS], beta)
    _write_config(out, n_cells)
    _write_geometry(out / "geometry.geojson", ids, cols)
    return total


def _write_catalog(path: Path, names: list[str]) -> None:
    lines = ["# Catalog of the scale benchmark's synthetic grid panel: generated, no real place.\n"]
    for name in names:
        kind = name.split("_")[0]
        lines += [
            f"[features.{name}]",
            'domain = "socio-economic"',
            f"actionable = {'true' if kind == 'driver' else 'false'}",
            'unit = "standardised index"',
            'source = "synthetic scale generator (benchmarks/scale_panel.py)"',
            f'description = "Synthetic {kind} covariate."\n',
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _write_programs(path: Path, drivers: list[str], beta: np.ndarray) -> None:
    """Two programs, each moving half the drivers by 0.3 standard deviations the way that
    lowers risk (assumed effects, as every program catalog's)."""
    lines = ["# Assumed programs of the scale benchmark's synthetic grid panel.\n"]
    for k, half in enumerate((slice(0, N_DRIVERS // 2), slice(N_DRIVERS // 2, N_DRIVERS))):
        moves = ", ".join(
            f"{d} = {-0.3 * np.sign(b):+.1f}"
            for d, b in zip(drivers[half], beta[half], strict=True)
        )
        lines += [
            f"[programs.program_{k + 1}]",
            f'description = "Synthetic program {k + 1}"',
            f"shift = {{ {moves} }}",
            f"cost_per_district = {1.0 + 0.5 * k}\n",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _write_config(out: Path, n_cells: int) -> None:
    budget = max(10.0, round(0.01 * n_cells))  # about 1 % of the cells
    text = f"""# The scale benchmark's grid panel (benchmarks/scale_panel.py): generated.
name = "scale"

[data]
panel = "{(out / "panel").resolve()}"
catalog = "{(out / "catalog.toml").resolve()}"
geometry = "{(out / "geometry.geojson").resolve()}"

[targeting]
programs = "{(out / "programs.toml").resolve()}"
naive_program = "program_1"
budget = {budget}

[tracking]
experiment = "rootcast-scale"
registered_model = "rootcast-scale-h1"
"""
    (out / "scale.toml").write_text(text, encoding="utf-8")


def _write_geometry(path: Path, ids: np.ndarray, cols: int) -> None:
    """The cells as 0.5-degree squares, GeoJSON written directly (fast for 100k cells)."""
    parts = []
    for i, cell in enumerate(ids):
        x0, y0 = 60 + (i % cols) * CELL_DEGREES, 25 + (i // cols) * CELL_DEGREES
        x1, y1 = x0 + CELL_DEGREES, y0 + CELL_DEGREES
        ring = f"[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]"
        parts.append(
            f'{{"type":"Feature","properties":{{"district_id":"{cell}"}},'
            f'"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}'
        )
    path.write_text(
        '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}", encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, required=True)
    parser.add_argument("--months", type=int, default=240)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    rows = generate(args.out, args.cells, args.months, args.features, args.seed)
    print(f"wrote {rows:,} rows ({args.cells:,} cells x {args.months} months) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
