"""Build the Pakistan district panel from the shared real-world data and print how to train on it.

python -m ingest.pakistan --shared ../shared/data --out output/pakistan \
    [--actors extremist|is|all] [--period year|month] [--max-where-prec 2] [--no-census]

Outcome: UCDP GED events of the chosen actors, precise to `where_prec` <= the limit, joined to
OCHA ADM2 polygons, counted per district and period. Covariates: district area; census 2023
(static, measured AFTER most outcomes); SHDI by province and WGI / WDI / V-Dem by country,
each lagged one period. The panel is validated against the data contract and written with
`districts.geojson`, `catalog.toml` (the shipped catalog cut to the panel's columns),
`protected.csv` and `build_report.json`. The census religion, mother-tongue and Afghan-national
shares are PROTECTED columns of the panel (catalog `protected = true`: disparity audit only,
never model inputs; NaN for AJK/GB districts without census rows), also kept in protected.csv.
Data is read in place; nothing is copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.catalog import FeatureCatalog, load_catalog
from features.errors import DataContractError, RootcastError
from features.schema import KEYS, LABELS, OUTCOME, validate_panel
from features.writers import (
    write_atomically,
    write_csv,
    write_geojson,
    write_json,
    write_parquet,
)
from ingest import census as cz
from ingest import sources
from ingest.events import ACTOR_SETS, incident_counts, panel_periods, select_events

SHARED_FILES = {
    "events": "ucdp_ged_pakistan/ged_pakistan_1989_2021.csv",
    "polygons": "ocha_cod_pak_adm2/pak_adm2_districts_simplified.geojson",
    "census": "pbs_census2023_pakistan",
    "shdi": "gdl_shdi/gdl_subnational_hdi_region_1990_2021_wide.csv",
    "wgi": "wgi/wgi_region_1996_2023_long.csv",
    "wdi": "wdi/wdi_extract_region_1994_2023_wide.csv",
    "vdem": "vdem_owid/electoral_democracy_index_region.csv",
}
CATALOG = Path(__file__).resolve().parents[1] / "features" / "catalogs" / "pakistan.toml"
CONFIG = "experiments/configs/pakistan.toml"
COUNTRY, ISO3 = "Pakistan", "PAK"
EQUAL_AREA_CRS = 6933  # WGS 84 / NSIDC EASE-Grid 2.0 Global: areas in m²
NOT_COVARIATES = {*KEYS, *LABELS, OUTCOME}


@dataclass(frozen=True)
class BuildSettings:
    shared: Path
    actors: str = "extremist"
    period: str = "year"
    max_where_prec: float | None = 2
    census: bool = True
    country: bool = True  # WGI, WDI, V-Dem: the same for every district, i.e. year effects
    first_year: int = 2000
    last_year: int = 2021
    events: Path | None = None  # another GED or ACLED-style file instead of the shared GED
    drop_bad_rows: bool = False


@dataclass(frozen=True)
class PanelBuild:
    panel: pd.DataFrame
    districts: object  # GeoDataFrame: district_id, district_name, admin1, geometry
    catalog: FeatureCatalog
    protected: pd.DataFrame
    report: dict


def _census_block(
    settings: BuildSettings, districts: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(model covariates, protected shares, report) per district from the census tables."""
    tables = sources.read_census_tables(settings.shared / SHARED_FILES["census"], cz.CENSUS_TABLES)
    table = sources.read_crosswalk(cz.CROSSWALK_PATH)
    names = pd.concat([t["name_admin_unit"] for t in tables.values()]).dropna().unique()
    walk = cz.census_crosswalk(sorted(names), districts, table)
    counts = {n: cz.district_counts(c, walk.mapping) for n, c in cz.census_counts(tables).items()}
    ids = districts["district_id"]
    features = cz.fill_missing_census(cz.census_features(counts), ids)
    protected = cz.protected_features(counts).reindex(pd.Index(ids, name="district_id"))
    t01 = tables[1]
    repeated = t01[t01.duplicated(["name_admin_unit", "region"], keep="first")]
    names_by_id = dict(zip(ids, districts["district_name"], strict=True))
    report = {
        "census_districts": len(names),
        "matched_exact": int((walk.mapping["method"] == "exact").sum()),
        "matched_by_table": sorted(
            set(walk.mapping.loc[walk.mapping["method"] == "table", "census_name"])
        ),
        "unmatched_census_districts": walk.unmatched_census,
        "districts_without_census": [
            f"{i} {names_by_id[i]}" for i in walk.districts_without_census
        ],
        "repeated_census_rows_ignored": [
            f"table01 line {line}: {name} ({region})"
            for line, name, region in zip(
                repeated["line"], repeated["name_admin_unit"], repeated["region"], strict=True
            )
        ],
        "imputation": "districts without census rows: median of the others, census_missing = 1",
    }
    return features, protected, report


def _time_varying(settings: BuildSettings, districts: pd.DataFrame, periods: list) -> pd.DataFrame:
    """Lagged SHDI (province) and country covariates for every (district_id, period)."""
    shared = settings.shared
    shdi = sources.read_gdl_shdi(shared / SHARED_FILES["shdi"])
    region = cz.gdl_region_of(districts)
    lagged = cz.lagged_by_period(shdi[["gdl_code", "year", "shdi"]], periods, by="gdl_code")
    grid = pd.DataFrame({"district_id": region.index, "gdl_code": region.to_numpy()})
    province = grid.merge(lagged, on="gdl_code", how="left").drop(columns="gdl_code")
    out = province
    if settings.country:
        country = cz.country_covariates(
            sources.read_wgi(shared / SHARED_FILES["wgi"]),
            sources.read_wdi(shared / SHARED_FILES["wdi"]),
            sources.read_vdem(shared / SHARED_FILES["vdem"]),
            ISO3,
        )
        out = out.merge(cz.lagged_by_period(country, periods), on="period", how="left")
    for column in out.columns.drop(["district_id", "period"]):
        empty = out.loc[out[column].isna(), "period"]
        if len(empty):
            raise DataContractError(
                f"covariate '{column}': no value of year {int(str(empty.iloc[0])[:4]) - 1} or "
                f"earlier for period {empty.iloc[0]}; start the panel later (--first-year)"
            )
    return out


def build_panel(settings: BuildSettings) -> PanelBuild:
    """Read every source, build and validate the panel; raises RootcastError on bad input."""
    if settings.actors not in ACTOR_SETS and settings.actors != "all":
        raise DataContractError(f"unknown actor set {settings.actors!r}")
    if not settings.shared.is_dir():
        raise DataContractError(f"{settings.shared}: shared data folder not found")
    if settings.last_year < settings.first_year:
        raise DataContractError(f"--last-year {settings.last_year} is before --first-year")
    if settings.max_where_prec is not None and not 1 <= settings.max_where_prec <= 7:
        raise DataContractError("--max-where-prec must lie between 1 and 7 (UCDP where_prec)")
    on_bad = "drop" if settings.drop_bad_rows else "raise"
    events_path = settings.events or settings.shared / SHARED_FILES["events"]
    loaded = sources.read_events(events_path, on_bad)
    districts, excluded = sources.read_adm2_polygons(settings.shared / SHARED_FILES["polygons"])
    periods = panel_periods(settings.first_year, settings.last_year, settings.period)
    patterns = None if settings.actors == "all" else ACTOR_SETS[settings.actors]
    selection = select_events(
        loaded.events,
        districts,
        periods,
        patterns,
        settings.max_where_prec,
        settings.period,
        loaded.n_bad,
    )
    ids = districts["district_id"]
    panel = incident_counts(selection.kept, ids, periods)
    labels = districts[["district_id", "district_name", "admin1"]].assign(country=COUNTRY)
    panel = labels.merge(panel, on="district_id")
    area = districts.to_crs(EQUAL_AREA_CRS).area / 1e6
    panel = panel.merge(
        pd.DataFrame({"district_id": ids, "log_area_km2": np.log(area)}), on="district_id"
    )
    features, protected, census_report = _census_block(settings, districts)
    if settings.census:
        panel = panel.merge(features, left_on="district_id", right_index=True, how="left")
    panel = panel.merge(_time_varying(settings, districts, periods), on=["district_id", "period"])
    panel = panel.merge(protected.round(6), left_on="district_id", right_index=True, how="left")
    shipped = load_catalog(CATALOG)
    covariates = [c for c in panel.columns if c in shipped.features]
    undeclared = [c for c in panel.columns if c not in set(shipped.features) | NOT_COVARIATES]
    if undeclared:
        raise DataContractError(f"{CATALOG}: built column(s) {undeclared} are not declared")
    catalog = FeatureCatalog(features={n: shipped.features[n] for n in covariates})
    source = f"pakistan panel built from {settings.shared}"
    panel = validate_panel(panel, catalog, source)
    protected = labels.drop(columns="country").merge(
        protected.round(6), left_on="district_id", right_index=True
    )
    report = _report(
        settings, loaded, selection, panel, excluded, census_report, events_path, catalog
    )
    return PanelBuild(panel, districts, catalog, protected, report)


def _report(
    settings, loaded, selection, panel, excluded, census_report, events_path, catalog
) -> dict:
    active = panel["incidents"] > 0
    protected = set(catalog.protected_features)
    kept = selection.kept
    return {
        "settings": {
            "actors": settings.actors,
            "actor_patterns": list(ACTOR_SETS.get(settings.actors, ())),
            "period": settings.period,
            "max_where_prec": settings.max_where_prec,
            "census_covariates": settings.census,
            "country_covariates": settings.country,
            "first_year": settings.first_year,
            "last_year": settings.last_year,
        },
        "sources": {k: str(settings.shared / v) for k, v in SHARED_FILES.items()}
        | {"events": str(events_path)},
        "events": {
            "read": selection.n_read,
            "kept": len(kept),
            "dropped": selection.dropped,
            "bad_rows_by_column": loaded.bad_by_column,
            "kept_by_year": {
                int(y): int(n) for y, n in kept["date"].dt.year.value_counts().sort_index().items()
            },
        },
        "panel": {
            "districts": int(panel["district_id"].nunique()),
            "periods": [str(panel["period"].min()), str(panel["period"].max())],
            "n_periods": int(panel["period"].nunique()),
            "rows": len(panel),
            "active_district_periods": int(active.sum()),
            "positive_rate": round(float(active.mean()), 4),
            "districts_ever_active": int(panel.loc[active, "district_id"].nunique()),
            "covariates": [c for c in panel.columns if c not in NOT_COVARIATES | protected],
            "protected": [c for c in panel.columns if c in protected],
        },
        "polygons_without_id_excluded": excluded,
        "census": census_report,
    }


def catalog_toml(catalog: FeatureCatalog, header: str) -> str:
    """The catalog as TOML, in column order (strings quoted JSON-style, valid TOML)."""
    lines = [f"# {line}" for line in header.splitlines()]
    for name, spec in catalog.features.items():
        lines += ["", f"[features.{name}]"]
        for key, value in spec.model_dump().items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def write_outputs(build: PanelBuild, out: Path) -> list[Path]:
    header = (
        f"Catalog of {out / 'panel.parquet'}: features/catalogs/pakistan.toml cut to the panel's "
        "columns.\nWritten by experiments/pakistan.py; edit the shipped catalog, not this copy."
    )
    text = catalog_toml(build.catalog, header)
    return [
        write_parquet(out / "panel.parquet", build.panel),
        write_geojson(out / "districts.geojson", build.districts[["district_id", "geometry"]]),
        write_atomically(out / "catalog.toml", lambda tmp: tmp.write_text(text, encoding="utf-8")),
        write_csv(out / "protected.csv", build.protected),
        write_json(out / "build_report.json", build.report),
    ]


def train_command(out: Path) -> str:
    args = [
        "python", "train.py", "--config", CONFIG,
        "--data", str(out / "panel.parquet"),
        "--catalog", str(out / "catalog.toml"),
        "--geometry", str(out / "districts.geojson"),
        "--output", str(out / "train"),
    ]  # fmt: skip
    return shlex.join(args)


def summary_text(build: PanelBuild, files: list[Path], out: Path) -> str:
    r = build.report
    ev, pn, cs = r["events"], r["panel"], r["census"]
    dropped = ", ".join(f"{k} {v}" for k, v in ev["dropped"].items())
    return "\n".join(
        [
            f"Pakistan panel: {pn['districts']} districts x {pn['n_periods']} periods "
            f"({pn['periods'][0]} to {pn['periods'][1]}), {len(pn['covariates'])} covariates "
            f"+ {len(pn['protected'])} protected (audit only)",
            f"events: read {ev['read']}, kept {ev['kept']}; dropped: {dropped}",
            f"district-periods with >= 1 incident: {pn['active_district_periods']} of {pn['rows']} "
            f"({pn['positive_rate']:.1%}); districts ever active: {pn['districts_ever_active']}",
            f"census: {len(cs['unmatched_census_districts'])} census districts unmatched, "
            f"{len(cs['districts_without_census'])} districts without census rows (imputed)",
            "wrote " + ", ".join(str(p) for p in files),
            "",
            "train on it with:",
            f"  {train_command(out)}",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ingest.pakistan", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--shared", type=Path, default=Path("../shared/data"), help="shared data folder"
    )
    parser.add_argument("--out", type=Path, default=Path("output/pakistan"), help="output folder")
    parser.add_argument("--actors", choices=[*ACTOR_SETS, "all"], default="extremist")
    parser.add_argument("--period", choices=["year", "month"], default="year")
    parser.add_argument(
        "--max-where-prec", type=int, default=2, help="UCDP location precision limit (1-7)"
    )
    parser.add_argument(
        "--no-census", action="store_true", help="leave out the census 2023 covariates"
    )
    parser.add_argument(
        "--no-country", action="store_true", help="leave out the country-level WGI/WDI/V-Dem"
    )
    parser.add_argument("--first-year", type=int, default=2000)
    parser.add_argument("--last-year", type=int, default=2021)
    parser.add_argument(
        "--events", type=Path, help="GED or ACLED-style CSV instead of the shared GED"
    )
    parser.add_argument(
        "--drop-bad-rows", action="store_true", help="drop and count malformed events"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = BuildSettings(
        shared=args.shared,
        actors=args.actors,
        period=args.period,
        max_where_prec=args.max_where_prec,
        census=not args.no_census,
        country=not args.no_country,
        first_year=args.first_year,
        last_year=args.last_year,
        events=args.events,
        drop_bad_rows=args.drop_bad_rows,
    )
    try:
        build = build_panel(settings)
        files = write_outputs(build, args.out)
    except RootcastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_text(build, files, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
