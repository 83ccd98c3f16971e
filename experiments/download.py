"""Download a public source into the cache and print its path.

python -m experiments.download SOURCE [--version V] [--cache DIR] [--sha256 HEX]
                               [--iso3 PAK] [--country syria] [--url URL] [--trust-first-use]
python -m experiments.download --list

Sources (features/download.py): ucdp_ged (global GED CSV zip), ucdp_ged_country (one
country's GED zip, --country), geoboundaries_adm2 and geoboundaries_adm2_simplified (--iso3).
The file is verified against --sha256 (or a pin in the registry); without one the download is
refused unless --trust-first-use, which records its hash for later checks. A cached file is
printed without any request. Errors print one `error:` line and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from features.download import SOURCES, default_cache, fetch
from features.errors import RootcastError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.download", description=__doc__.split("\n")[0]
    )
    parser.add_argument("source", nargs="?", choices=list(SOURCES), help="source to fetch")
    parser.add_argument("--list", action="store_true", help="list the known sources and exit")
    parser.add_argument("--version", help="source version (default: the registry's)")
    parser.add_argument("--cache", type=Path, help=f"cache folder (default: {default_cache()})")
    parser.add_argument("--sha256", help="expected SHA-256 of the file (64 hex digits)")
    parser.add_argument("--iso3", help="country code for geoBoundaries sources, e.g. PAK")
    parser.add_argument("--country", help="country name in UCDP's file name, e.g. syria")
    parser.add_argument("--url", help="download from this URL instead of the template")
    parser.add_argument(
        "--trust-first-use",
        action="store_true",
        help="accept a download without a known checksum and record its SHA-256",
    )
    args = parser.parse_args(argv)
    if not args.list and not args.source:
        parser.error("give a SOURCE or --list")
    return args


def _list_sources() -> str:
    lines = []
    for s in SOURCES.values():
        params = "".join(f" --{p}" for p in s.params)
        lines.append(f"{s.name} (default version {s.default_version}{params}): {s.description}")
        lines.append(f"    {s.url_template}" + (f"\n    note: {s.note}" if s.note else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print(_list_sources())
        return 0
    spec = SOURCES[args.source]
    params = {k: v for k in ("iso3", "country") if (v := getattr(args, k))}
    try:
        got = fetch(
            spec,
            version=args.version,
            cache=args.cache,
            sha256=args.sha256,
            trust_first_use=args.trust_first_use,
            url=args.url,
            **params,
        )
    except RootcastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if got.downloaded and not got.verified:
        print(
            f"note: no checksum was given; recorded SHA-256 {got.sha256} (pin it with --sha256)",
            file=sys.stderr,
        )
    print(got.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
