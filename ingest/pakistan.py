"""Build the Pakistan district panel from the shared real-world data and print how to train on it.

python -m ingest.pakistan --shared ../shared/data --out output/pakistan \
    [--actors extremist|is|all] [--period year|month] [--max-where-prec 2] [--no-census]

The one panel builder (`ingest.panel`) with Pakistan's inputs. Outcome: UCDP GED events of the
chosen actors, precise to `where_prec` <= the limit, joined to OCHA ADM2 polygons, counted per
district and period. Covariates: district area; census 2023 (static, measured AFTER most
outcomes); SHDI by province and WGI / WDI / V-Dem by country, each lagged one period. The panel
is validated against the data contract and written with `districts.geojson`, `catalog.toml`
(the shipped catalog cut to the panel's columns), `protected.csv` and `build_report.json`. The
census religion, mother-tongue and Afghan-national shares are PROTECTED columns of the panel
(catalog `protected = true`: disparity audit only, never model inputs; NaN for AJK/GB districts
without census rows), also kept in protected.csv. Data is read in place; nothing is copied into
the repository.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingest.countries import PAKISTAN_CENSUS
from ingest.events import ACTOR_SETS
from ingest.outputs import panel_parser, run, shared_settings
from ingest.panel import PanelSpec

CATALOG = Path(__file__).resolve().parents[1] / "features" / "catalogs" / "pakistan.toml"
CONFIG = "experiments/configs/pakistan.toml"
SPEC = PanelSpec(
    name="pakistan",
    title="Pakistan",
    countries=(PAKISTAN_CENSUS,),
    events="ucdp_ged_pakistan/ged_pakistan_1989_2021.csv",
    catalog=CATALOG,
    config=CONFIG,
    command="python -m ingest.pakistan",
    actor_sets=ACTOR_SETS,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = panel_parser(SPEC, __doc__.split("\n")[0], max_where_prec=2, years=(2000, 2021))
    parser.add_argument("--period", choices=["year", "month"], default="year")
    parser.add_argument(
        "--no-census", action="store_true", help="leave out the census 2023 covariates"
    )
    parser.add_argument(
        "--no-country", action="store_true", help="leave out the country-level WGI/WDI/V-Dem"
    )
    parser.add_argument(
        "--events", type=Path, help="GED or ACLED-style CSV instead of the shared GED"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = shared_settings(
        args,
        period=args.period,
        census=not args.no_census,
        country=not args.no_country,
        events=args.events,
    )
    return run(SPEC, settings, args.out)


if __name__ == "__main__":
    sys.exit(main())
