"""Write the synthetic region as ordinary input files (for retraining walk-throughs)."""

from __future__ import annotations

from pathlib import Path

from features.synthetic import generate_region
from features.writers import write_csv, write_geojson, write_parquet


def export_synthetic(
    out: Path, n_districts: int, n_periods: int, hold_out: int, seed: int
) -> list[Path]:
    """panel.csv (periods before the last `hold_out`), new_periods.csv (the last `hold_out`),
    geometry.geojson and truth.parquet (oracle probability per row)."""
    if not 1 <= hold_out < n_periods - 5:
        raise ValueError(f"--hold-out must be between 1 and {n_periods - 6}")
    region = generate_region(n_districts=n_districts, n_periods=n_periods, seed=seed)
    cut = region.panel["period"].max() - hold_out
    base = region.panel[region.panel["period"] <= cut]
    new = region.panel[region.panel["period"] > cut]
    return [
        write_csv(out / "panel.csv", base),
        write_csv(out / "new_periods.csv", new),
        write_geojson(out / "geometry.geojson", region.geometry),
        write_parquet(out / "truth.parquet", region.oracle),
    ]
