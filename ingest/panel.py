"""The one district-panel builder, for any set of countries (`PanelSpec`).

Outcome: UCDP GED events of the chosen actors, precise to `where_prec` <= the limit, counted
per district and period. With several countries an event is matched country first, then point
in polygon, within its own country's districts (`select_events_by_country`). Every dropped
event is counted by reason (and per country). Covariates: district area (and, where the spec
asks, the distance to the nearest other country's district), each country's district block
(`ingest.countries`), and SHDI by GDL region and WGI / WDI / V-Dem by country, each lagged one
period. The panel is validated against the data contract; the shipped catalog is cut to its
columns. `ingest.pakistan` and `ingest.afpak` are this builder with different inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.catalog import FeatureCatalog, load_catalog
from features.errors import DataContractError
from features.schema import KEYS, LABELS, OUTCOME, validate_panel
from features.spatial import border_adjacency, border_distance_km, projected
from ingest import census as cz
from ingest import sources
from ingest.countries import Country, area_km2
from ingest.events import incident_counts, panel_periods, select_events, select_events_by_country

COMMON_FILES = {
    "shdi": "gdl_shdi/gdl_subnational_hdi_region_1990_2021_wide.csv",
    "wgi": "wgi/wgi_region_1996_2023_long.csv",
    "wdi": "wdi/wdi_extract_region_1994_2023_wide.csv",
    "vdem": "vdem_owid/electoral_democracy_index_region.csv",
}
NOT_COVARIATES = {*KEYS, *LABELS, OUTCOME}


@dataclass(frozen=True)
class PanelSpec:
    """What to build: countries, events file (under the shared folder), the shipped catalog,
    the config to train with, the command that builds it, and its actor sets."""

    name: str
    title: str
    countries: tuple[Country, ...]
    events: str
    catalog: Path
    config: str
    command: str
    actor_sets: dict[str, tuple[str, ...]]
    # country covariates left out (e.g. no value early enough for every country)
    drop_country_columns: tuple[str, ...] = ()
    border_distance: bool = False  # log distance to the nearest other country's district (2+)
    cross_border_km: float = 5.0  # tolerance of cross-border neighbours in the report

    def sources(self, shared: Path, events: Path | None = None) -> dict[str, str]:
        one = len(self.countries) == 1
        files = {
            (key if one else f"{key}_{c.iso3}"): str(shared / path)
            for c in self.countries
            for key, path in c.files.items()
        }
        common = {k: str(shared / v) for k, v in COMMON_FILES.items()}
        return {"events": str(events or shared / self.events)} | files | common


@dataclass(frozen=True)
class BuildSettings:
    shared: Path
    actors: str = "extremist"
    period: str = "year"
    max_where_prec: float | None = 2
    census: bool = True  # the countries' district covariates (Pakistan: census 2023)
    country: bool = True  # WGI, WDI, V-Dem: the same for every district, i.e. year effects
    first_year: int = 2000
    last_year: int = 2021
    events: Path | None = None  # another GED or ACLED-style file instead of the shared GED
    drop_bad_rows: bool = False


@dataclass(frozen=True)
class PanelBuild:
    panel: pd.DataFrame
    districts: object  # GeoDataFrame: district_id, district_name, admin1, country, geometry
    catalog: FeatureCatalog
    protected: pd.DataFrame
    report: dict
    summary: list[str] = field(default_factory=list)


def _check(spec: PanelSpec, settings: BuildSettings) -> None:
    if settings.actors not in spec.actor_sets and settings.actors != "all":
        raise DataContractError(f"unknown actor set {settings.actors!r}")
    if not settings.shared.is_dir():
        raise DataContractError(f"{settings.shared}: shared data folder not found")
    if settings.last_year < settings.first_year:
        raise DataContractError(f"--last-year {settings.last_year} is before --first-year")
    if settings.max_where_prec is not None and not 1 <= settings.max_where_prec <= 7:
        raise DataContractError("--max-where-prec must lie between 1 and 7 (UCDP where_prec)")


def read_districts(spec: PanelSpec, shared: Path) -> tuple[pd.DataFrame, list[str]]:
    """Every country's polygons, labelled with `country`, sorted by district_id."""
    frames, excluded = [], []
    for country in spec.countries:
        districts, left_out = country.read_districts(shared / country.files["polygons"])
        frames.append(districts.assign(country=country.name))
        excluded += left_out
    districts = pd.concat(frames, ignore_index=True)
    repeated = districts.loc[districts["district_id"].duplicated(), "district_id"]
    if len(repeated):
        raise DataContractError(f"district ids repeat across countries: {list(repeated[:5])}")
    return districts.sort_values("district_id").reset_index(drop=True), excluded


def _time_varying(
    spec: PanelSpec, settings: BuildSettings, districts: pd.DataFrame, periods: list
) -> pd.DataFrame:
    """Lagged SHDI (GDL region) and country covariates for every (district_id, period)."""
    shared = settings.shared
    shdi = sources.read_gdl_shdi(shared / COMMON_FILES["shdi"])
    if settings.country:
        wgi, wdi, vdem = (
            reader(shared / COMMON_FILES[key])
            for key, reader in (
                ("wgi", sources.read_wgi),
                ("wdi", sources.read_wdi),
                ("vdem", sources.read_vdem),
            )
        )
    parts = []
    for country in spec.countries:
        own = districts[districts["country"] == country.name]
        region = country.gdl_region(own)
        lagged = cz.lagged_by_period(shdi[["gdl_code", "year", "shdi"]], periods, by="gdl_code")
        grid = pd.DataFrame({"district_id": region.index, "gdl_code": region.to_numpy()})
        out = grid.merge(lagged, on="gdl_code", how="left").drop(columns="gdl_code")
        if settings.country:
            table = cz.country_covariates(wgi, wdi, vdem, country.iso3)
            table = table.drop(columns=list(spec.drop_country_columns))
            out = out.merge(cz.lagged_by_period(table, periods), on="period", how="left")
        parts.append(out)
    out = pd.concat(parts, ignore_index=True)
    for column in out.columns.drop(["district_id", "period"]):
        empty = out.loc[out[column].isna(), "period"]
        if len(empty):
            raise DataContractError(
                f"covariate '{column}': no value of year {int(str(empty.iloc[0])[:4]) - 1} or "
                f"earlier for period {empty.iloc[0]}; start the panel later (--first-year)"
            )
    return out


def _select(spec: PanelSpec, settings: BuildSettings, loaded, districts, periods):
    patterns = None if settings.actors == "all" else spec.actor_sets[settings.actors]
    args = (patterns, settings.max_where_prec, settings.period, loaded.n_bad)
    if len(spec.countries) == 1:  # one country: point in polygon, as the Pakistan panel has it
        selection = select_events(loaded.events, districts, periods, *args)
        counts = {"read": selection.n_read - loaded.n_bad, "kept": len(selection.kept)}
        reasons = {k: v for k, v in selection.dropped.items() if k != "bad_row"}
        return selection, {spec.countries[0].name: counts | {"dropped": reasons}}
    selection = select_events_by_country(loaded.events, districts, periods, *args)
    return selection, selection.by_country


def build_panel(spec: PanelSpec, settings: BuildSettings) -> PanelBuild:
    """Read every source, build and validate the panel; raises RootcastError on bad input."""
    _check(spec, settings)
    events_path = settings.events or settings.shared / spec.events
    loaded = sources.read_events(events_path, "drop" if settings.drop_bad_rows else "raise")
    if loaded.year_only and settings.period != "year":
        raise DataContractError(f"{events_path}: events give years only; use --period year")
    districts, excluded = read_districts(spec, settings.shared)
    periods = panel_periods(settings.first_year, settings.last_year, settings.period)
    selection, by_country = _select(spec, settings, loaded, districts, periods)
    ids = districts["district_id"]
    panel = incident_counts(selection.kept, ids, periods)
    labels = districts[["district_id", "district_name", "admin1", "country"]]
    panel = labels.merge(panel, on="district_id")
    static = pd.DataFrame({"log_area_km2": np.log(area_km2(districts))}).rename_axis("district_id")
    if spec.border_distance and len(spec.countries) > 1:
        country = districts.set_index("district_id")["country"]
        static["log_border_distance_km"] = np.log1p(border_distance_km(districts, country))
    panel = panel.merge(static, left_on="district_id", right_index=True)
    blocks = [
        c.covariates(settings.shared, districts[districts["country"] == c.name])
        for c in spec.countries
    ]
    if settings.census:
        features = pd.concat([b.features for b in blocks])
        panel = panel.merge(features, left_on="district_id", right_index=True, how="left")
    panel = panel.merge(
        _time_varying(spec, settings, districts, periods), on=["district_id", "period"]
    )
    protected = pd.concat([b.protected for b in blocks]).reindex(pd.Index(ids, name="district_id"))
    panel = panel.merge(protected.round(6), left_on="district_id", right_index=True, how="left")
    shipped = load_catalog(spec.catalog)
    undeclared = [c for c in panel.columns if c not in set(shipped.features) | NOT_COVARIATES]
    if undeclared:
        raise DataContractError(f"{spec.catalog}: built column(s) {undeclared} are not declared")
    covariates = [c for c in panel.columns if c in shipped.features]
    catalog = FeatureCatalog(features={n: shipped.features[n] for n in covariates})
    panel = validate_panel(panel, catalog, f"{spec.name} panel built from {settings.shared}")
    protected = labels.drop(columns="country").merge(
        protected.round(6), left_on="district_id", right_index=True
    )
    report = _report(spec, settings, loaded, selection, by_country, panel, catalog)
    report["polygons_without_id_excluded"] = excluded
    for block in blocks:
        report |= block.report
    if len(spec.countries) > 1:
        report["cross_border"] = cross_border_report(spec, districts)
    summary = [line for block in blocks for line in block.summary]
    return PanelBuild(panel, districts, catalog, protected, report, summary)


def cross_border_report(spec: PanelSpec, districts: pd.DataFrame) -> dict:
    """Cross-border neighbour pairs at the spec's tolerance (what training's
    data.cross_border_tolerance_km finds with the same value)."""
    ids = pd.Index(districts["district_id"])
    country = districts.set_index("district_id")["country"]
    pairs = border_adjacency(districts, ids, country, spec.cross_border_km)
    linked = np.asarray(pairs.sum(axis=1)).ravel() > 0
    return {
        "tolerance_km": spec.cross_border_km,
        "crs": str(projected(districts).crs),
        "pairs": int(pairs.nnz // 2),
        "districts": int(linked.sum()),
        "districts_by_country": {
            str(k): int(v) for k, v in country.loc[ids[linked]].value_counts().sort_index().items()
        },
    }


def _report(spec, settings, loaded, selection, by_country, panel, catalog) -> dict:
    active = panel["incidents"] > 0
    protected = set(catalog.protected_features)
    kept = selection.kept
    return {
        "settings": {
            "actors": settings.actors,
            "actor_patterns": list(spec.actor_sets.get(settings.actors, ())),
            "period": settings.period,
            "max_where_prec": settings.max_where_prec,
            "census_covariates": settings.census,
            "country_covariates": settings.country,
            "first_year": settings.first_year,
            "last_year": settings.last_year,
        },
        "sources": spec.sources(settings.shared, settings.events),
        "events": {
            "read": selection.n_read,
            "kept": len(kept),
            "dropped": selection.dropped,
            "bad_rows_by_column": loaded.bad_by_column,
            "kept_by_year": {
                int(y): int(n) for y, n in kept["date"].dt.year.value_counts().sort_index().items()
            },
            "by_country": by_country,
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
            "districts_by_country": {
                str(k): int(v)
                for k, v in panel.drop_duplicates("district_id")["country"].value_counts().items()
            },
        },
    }
