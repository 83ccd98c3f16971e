"""A built panel's files and printed summary, shared by the panel CLIs (ingest.pakistan,
ingest.afpak): panel.parquet, districts.geojson, catalog.toml, protected.csv and
build_report.json, each written whole or not at all."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from features.catalog import FeatureCatalog
from features.errors import RootcastError
from features.writers import (
    write_atomically,
    write_csv,
    write_geojson,
    write_json,
    write_parquet,
)
from ingest.panel import BuildSettings, PanelBuild, PanelSpec, build_panel


def catalog_toml(catalog: FeatureCatalog, header: str) -> str:
    """The catalog as TOML, in column order (strings quoted JSON-style, valid TOML)."""
    lines = [f"# {line}" for line in header.splitlines()]
    for name, spec in catalog.features.items():
        lines += ["", f"[features.{name}]"]
        for key, value in spec.model_dump().items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def write_outputs(spec: PanelSpec, build: PanelBuild, out: Path) -> list[Path]:
    header = (
        f"Catalog of {out / 'panel.parquet'}: features/catalogs/{spec.catalog.name} cut to the "
        f"panel's columns.\nWritten by {spec.command}; edit the shipped catalog, not this copy."
    )
    text = catalog_toml(build.catalog, header)
    return [
        write_parquet(out / "panel.parquet", build.panel),
        write_geojson(out / "districts.geojson", build.districts[["district_id", "geometry"]]),
        write_atomically(out / "catalog.toml", lambda tmp: tmp.write_text(text, encoding="utf-8")),
        write_csv(out / "protected.csv", build.protected),
        write_json(out / "build_report.json", build.report),
    ]


def train_command(spec: PanelSpec, out: Path) -> str:
    args = [
        "python", "train.py", "--config", spec.config,
        "--data", str(out / "panel.parquet"),
        "--catalog", str(out / "catalog.toml"),
        "--geometry", str(out / "districts.geojson"),
        "--output", str(out / "train"),
    ]  # fmt: skip
    return shlex.join(args)


def summary_text(spec: PanelSpec, build: PanelBuild, files: list[Path], out: Path) -> str:
    r = build.report
    ev, pn = r["events"], r["panel"]
    dropped = ", ".join(f"{k} {v}" for k, v in ev["dropped"].items())
    lines = [
        f"{spec.title} panel: {pn['districts']} districts x {pn['n_periods']} periods "
        f"({pn['periods'][0]} to {pn['periods'][1]}), {len(pn['covariates'])} covariates "
        f"+ {len(pn['protected'])} protected (audit only)",
        f"events: read {ev['read']}, kept {ev['kept']}; dropped: {dropped}",
    ]
    if len(spec.countries) > 1:
        for name, counts in ev["by_country"].items():
            reasons = ", ".join(f"{k} {v}" for k, v in counts["dropped"].items())
            districts = pn["districts_by_country"].get(name, 0)
            lines.append(
                f"  {name}: {districts} districts; events read {counts['read']}, "
                f"kept {counts['kept']}; dropped: {reasons}"
            )
    lines.append(
        f"district-periods with >= 1 incident: {pn['active_district_periods']} of {pn['rows']} "
        f"({pn['positive_rate']:.1%}); districts ever active: {pn['districts_ever_active']}"
    )
    if "cross_border" in r:
        xb = r["cross_border"]
        lines.append(
            f"cross-border neighbours: {xb['pairs']} pairs linking {xb['districts']} districts "
            f"(polygons within {xb['tolerance_km']:g} km in {xb['crs']})"
        )
    lines += build.summary
    lines += ["wrote " + ", ".join(str(p) for p in files), "", "train on it with:"]
    lines.append(f"  {train_command(spec, out)}")
    return "\n".join(lines)


def run(spec: PanelSpec, settings: BuildSettings, out: Path) -> int:
    """Build, write and summarise; a user's mistake is one `error:` line and exit code 2."""
    try:
        build = build_panel(spec, settings)
        files = write_outputs(spec, build, out)
    except RootcastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_text(spec, build, files, out))
    return 0


def panel_parser(
    spec: PanelSpec, description: str, max_where_prec: int, years: tuple[int, int]
) -> argparse.ArgumentParser:
    """The options every panel builder's CLI shares: --shared, --out, --actors,
    --max-where-prec, --first-year, --last-year, --drop-bad-rows."""
    parser = argparse.ArgumentParser(prog=spec.command, description=description)
    parser.add_argument(
        "--shared", type=Path, default=Path("../shared/data"), help="shared data folder"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("output") / spec.name, help="output folder"
    )
    parser.add_argument("--actors", choices=[*spec.actor_sets, "all"], default="extremist")
    parser.add_argument(
        "--max-where-prec",
        type=int,
        default=max_where_prec,
        help="UCDP location precision limit (1-7)",
    )
    parser.add_argument("--first-year", type=int, default=years[0])
    parser.add_argument("--last-year", type=int, default=years[1])
    parser.add_argument(
        "--drop-bad-rows", action="store_true", help="drop and count malformed events"
    )
    return parser


def shared_settings(args: argparse.Namespace, **extra: object) -> BuildSettings:
    """BuildSettings from the options of `panel_parser`, plus a builder's own (`extra`)."""
    return BuildSettings(
        shared=args.shared,
        actors=args.actors,
        max_where_prec=args.max_where_prec,
        first_year=args.first_year,
        last_year=args.last_year,
        drop_bad_rows=args.drop_bad_rows,
        **extra,
    )
