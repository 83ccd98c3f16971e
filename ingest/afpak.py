"""Build the Afghanistan + Pakistan district-year panel (2001-2016) from the shared data.

Reads the shared real-world data in place and prints how to train on the panel.

python -m ingest.afpak --shared ../shared/data --out output/afpak \
    [--actors extremist|is|all] [--max-where-prec 3]

The one panel builder (`ingest.panel`) with AF-PAK inputs. Outcome: the UCDP GED subset of
Idler & Tkacova (2023) (`ucdp_ged_afpak_2001_2016`: state-based and non-state violence, years
only; its Pakistan rows are used, not the Pakistan GED file, so both countries follow the same
rules), events of the AF-PAK actor set (`ingest.events.AFPAK_EXTREMIST_PATTERNS`: Pakistan's
set plus the Taleban, IMU and Hizb-i Islami; `--actors is` for Islamic State only), assigned
country first, then point in polygon, to geoBoundaries AFG ADM2 (398) and OCHA PAK ADM2 (160
coded) districts, `where_prec` <= 3 by default. Covariates of both countries: district area,
distance to the nearest district across the border, population (AFG: CSO 2013-14; PAK: census
2017 counts), SHDI by GDL region, WGI / WDI / V-Dem by country (lagged one year; WDI inflation
left out: no Afghan value before 2005). The Pakistan panel's census 2023 covariates (census_*)
are filled for Pakistani districts and NaN for Afghan ones (catalog `missing = "allowed"`).
The Pakistan census religion, language and Afghan-national shares are PROTECTED columns (audit
only), NaN for Afghan districts. `build_report.json` counts events kept and dropped per reason
and per country, districts per country and the cross-border neighbour pairs (5 km in the data's
UTM zone).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingest.countries import AFGHANISTAN, PAKISTAN_POPULATION_CENSUS
from ingest.events import AFPAK_ACTOR_SETS
from ingest.outputs import panel_parser, run, shared_settings
from ingest.panel import PanelSpec

CATALOG = Path(__file__).resolve().parents[1] / "features" / "catalogs" / "afpak.toml"
CONFIG = "experiments/configs/afpak.toml"
CROSS_BORDER_KM = 5.0  # = data.cross_border_tolerance_km's default (experiments/config.py)
SPEC = PanelSpec(
    name="afpak",
    title="Afghanistan + Pakistan",
    countries=(AFGHANISTAN, PAKISTAN_POPULATION_CENSUS),
    events="ucdp_ged_afpak_2001_2016/ged_afpak_2001_2016_events.csv",
    catalog=CATALOG,
    config=CONFIG,
    command="python -m ingest.afpak",
    actor_sets=AFPAK_ACTOR_SETS,
    drop_country_columns=("wdi_inflation",),
    border_distance=True,
    cross_border_km=CROSS_BORDER_KM,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = panel_parser(SPEC, __doc__.split("\n")[0], max_where_prec=3, years=(2001, 2016))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run(SPEC, shared_settings(args), args.out)


if __name__ == "__main__":
    sys.exit(main())
