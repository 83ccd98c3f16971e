"""Downloads of the public sources behind the real-data panels, cached and checksum-verified.

A file is streamed to a hidden temporary file in its cache folder, hashed while it arrives,
checked (byte count against Content-Length, SHA-256 against the expected value) and only then
renamed into place (`os.replace`, atomic on one file system). Any failure — HTTP error, dropped
connection, wrong length or checksum, Ctrl-C — removes the temporary file, so the cache holds
whole, verified files or nothing. A file already cached is returned without any request.

Cache layout: `<cache>/<source>/<version>/<file name of the URL>` with a `<file>.sha256`
sidecar holding the hash it was verified (or first recorded) with. The cache folder is
`$ROOTCAST_CACHE`, else `~/.cache/rootcast`, unless a caller passes one.

Command line (prints the cached file's path; errors print one `error:` line, exit code 2):
python -m ingest.download SOURCE [--version V] [--cache DIR] [--sha256 HEX] [--iso3 PAK]
                          [--country syria] [--url URL] [--trust-first-use]
python -m ingest.download --list
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from features.errors import RootcastError

CHUNK = 1 << 20
TIMEOUT_S = 60.0
STALE_PART_S = 3600.0  # temporary files of killed downloads older than this are swept
USER_AGENT = "rootcast-downloader/0.1 (+python urllib)"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


class DownloadError(RootcastError):
    """A download failed (HTTP error, connection lost, wrong length); nothing was cached."""


class ChecksumError(DownloadError):
    """A file's SHA-256 is not the expected one."""


@dataclass(frozen=True)
class Source:
    """A public file: URL template (placeholders `{version}`, `{version_compact}` = version
    without dots, and any of `params`), default version, and SHA-256 pins per rendered URL."""

    name: str
    url_template: str
    default_version: str
    description: str
    params: dict[str, str] = field(default_factory=dict)  # placeholder -> default ("" = required)
    sha256: dict[str, str] = field(default_factory=dict)  # rendered URL -> pinned hex digest
    note: str = ""

    def url(self, version: str | None = None, **params: str) -> str:
        """The URL for `version` (default: `default_version`); raises DownloadError when a
        required parameter is missing or unknown parameters are given."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise DownloadError(f"source '{self.name}' takes no parameter(s) {unknown}")
        values = {k: (params.get(k) or default) for k, default in self.params.items()}
        missing = sorted(k for k, v in values.items() if not v)
        if missing:
            raise DownloadError(f"source '{self.name}' needs parameter(s) {missing} (e.g. --iso3)")
        version = version or self.default_version
        compact = version.replace(".", "")
        return self.url_template.format(version=version, version_compact=compact, **values)


# URL templates as published. UCDP lists the global GED as gedXYZ-csv.zip on
# https://ucdp.uu.se/downloads/ (e.g. ged251-csv.zip for 25.1). Country extracts appeared as
# ged_<country>.csv.zip (e.g. ged_syria.csv.zip for 19.1); UCDP does not document them for
# every release, so that template may 404: pass --url then. geoBoundaries serves its files
# from GitHub, pinned by a commit of wmgeolab/geoBoundaries (9469f09 is the commit its API
# pointed at in 2023-2024); GitHub redirects to the Git-LFS media host, which urllib follows.
# Neither publisher posts checksums: pin the SHA-256 of a copy you trust (--sha256), or
# record the first download's (--trust-first-use) and add it to `sha256` below.
SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "ucdp_ged",
            "https://ucdp.uu.se/downloads/ged/ged{version_compact}-csv.zip",
            "25.1",
            "UCDP Georeferenced Event Dataset, global CSV (zip), CC BY 4.0",
        ),
        Source(
            "ucdp_ged_country",
            "https://ucdp.uu.se/downloads/ged/ged_{country}.csv.zip",
            "19.1",
            "UCDP GED extract of one country, CSV (zip), CC BY 4.0",
            params={"country": ""},
            note="template seen for 19.1 only (ged_syria.csv.zip); the version does not "
            "enter the URL, it only keys the cache",
        ),
        Source(
            "geoboundaries_adm2",
            "https://github.com/wmgeolab/geoBoundaries/raw/{version}/releaseData/gbOpen/"
            "{iso3}/ADM2/geoBoundaries-{iso3}-ADM2.geojson",
            "9469f09",
            "geoBoundaries gbOpen ADM2 polygons of one country, GeoJSON (cite geoBoundaries)",
            params={"iso3": ""},
        ),
        Source(
            "geoboundaries_adm2_simplified",
            "https://github.com/wmgeolab/geoBoundaries/raw/{version}/releaseData/gbOpen/"
            "{iso3}/ADM2/geoBoundaries-{iso3}-ADM2_simplified.geojson",
            "9469f09",
            "geoBoundaries gbOpen ADM2 polygons, simplified GeoJSON (cite geoBoundaries)",
            params={"iso3": ""},
        ),
    )
}


def default_cache() -> Path:
    """`$ROOTCAST_CACHE` when set, else `~/.cache/rootcast`."""
    return Path(os.environ.get("ROOTCAST_CACHE") or Path.home() / ".cache" / "rootcast")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def normalise_sha256(text: str | None) -> str | None:
    """Lower-case hex digest (an optional 'sha256:' prefix dropped); DownloadError if malformed."""
    if text is None:
        return None
    value = text.strip().lower().removeprefix("sha256:")
    if not HEX64.match(value):
        raise DownloadError(f"checksum {text!r} is not a SHA-256 hex digest (64 hex digits)")
    return value


def _sweep_stale_parts(target: Path) -> None:
    """Remove temporary files of earlier downloads of `target` killed beyond cleanup."""
    now = time.time()
    for part in target.parent.glob(f".{target.name}.*.part"):
        try:
            if now - part.stat().st_mtime > STALE_PART_S:
                part.unlink()
        except OSError:
            pass


def download_file(
    url: str,
    target: Path,
    expected_sha256: str | None,
    opener: Callable = urllib.request.urlopen,
    timeout: float = TIMEOUT_S,
) -> str:
    """Stream `url` into `target` atomically and return the file's SHA-256.

    With `expected_sha256` the digest must match (ChecksumError otherwise). On any failure no
    file is left at `target` or beside it, and an existing `target` is left untouched.
    Raises DownloadError naming the URL on HTTP errors, lost connections and short bodies.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _sweep_stale_parts(target)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
    except OSError as exc:
        raise DownloadError(f"{target.parent}: cache folder not writable ({exc})") from None
    tmp = Path(tmp_name)
    try:
        digest, size = hashlib.sha256(), 0
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as out, opener(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            while block := response.read(CHUNK):
                digest.update(block)
                out.write(block)
                size += len(block)
            if declared is not None and size != int(declared):
                raise DownloadError(
                    f"{url}: connection closed after {size} of {declared} bytes; nothing cached"
                )
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if expected_sha256 is not None and actual != expected_sha256:
            raise ChecksumError(
                f"{url}: SHA-256 {actual} does not match the expected {expected_sha256}; "
                f"nothing cached at {target}"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        return actual
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}; nothing cached") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url}: cannot connect ({exc.reason}); nothing cached") from None
    except http.client.HTTPException as exc:  # IncompleteRead of a cut chunked body, bad status
        raise DownloadError(
            f"{url}: connection lost mid-transfer ({exc!r}); nothing cached"
        ) from None
    except (OSError, ValueError) as exc:  # resets, timeouts, a full disk
        raise DownloadError(f"{url}: download failed ({exc!r}); nothing cached") from None
    finally:  # also on KeyboardInterrupt: never leave a partial file behind
        if tmp.exists():
            tmp.unlink()


@dataclass(frozen=True)
class Fetched:
    """Where a source's file lies in the cache, its SHA-256, and how it got there."""

    path: Path
    sha256: str
    downloaded: bool  # False: it was already cached (no request made)
    verified: bool  # False: trusted on first use, no expected checksum to compare with


def fetch(
    source: str | Source,
    version: str | None = None,
    cache: Path | None = None,
    sha256: str | None = None,
    trust_first_use: bool = False,
    url: str | None = None,
    opener: Callable = urllib.request.urlopen,
    **params: str,
) -> Fetched:
    """The cached file of `source` (a SOURCES name or a Source), downloading it if absent.

    The expected checksum is `sha256`, else the source's pin for the URL. Without either the
    download is refused unless `trust_first_use` (its hash is then recorded in the sidecar and
    checked from then on). `url` replaces the templated URL (the cache key stays
    source/version/file name). A cached file is re-hashed against the expected or recorded
    checksum, never re-downloaded; a mismatch raises ChecksumError and leaves it for the user.
    """
    spec = _resolve(source)
    version = version or spec.default_version
    for key, value in params.items():
        if value and not _safe_segment(value):
            raise DownloadError(f"--{key} {value!r}: use letters, digits, '.', '_' or '-'")
    if url is not None and urllib.parse.urlparse(url).scheme not in {"http", "https"}:
        raise DownloadError(f"--url {url}: only http(s) addresses are downloaded")
    url = url or spec.url(version, **params)
    expected = normalise_sha256(sha256) or normalise_sha256(spec.sha256.get(url))
    name = Path(urllib.parse.urlparse(url).path).name
    if not _safe_segment(name):
        raise DownloadError(f"{url}: no usable file name in the URL")
    if not _safe_segment(version):
        raise DownloadError(
            f"version {version!r}: use letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    root = (cache or default_cache()).resolve()
    target = root / spec.name / version / name
    if root not in target.resolve().parents:  # belt and braces: never outside the cache
        raise DownloadError(f"{target}: outside the cache folder {root}")
    sidecar = target.with_name(target.name + ".sha256")
    if target.is_file():
        recorded = sidecar.read_text().split()[0] if sidecar.is_file() else None
        want = expected or normalise_sha256(recorded)
        actual = file_sha256(target)
        if want is not None and actual != want:
            raise ChecksumError(
                f"{target}: cached file has SHA-256 {actual}, expected {want}; delete it to "
                "download again, or check the checksum you gave"
            )
        return Fetched(target, actual, downloaded=False, verified=expected is not None)
    if expected is None and not trust_first_use:
        raise DownloadError(
            f"{spec.name} {version}: no SHA-256 is pinned for {url}; pass the expected one "
            "(--sha256 HEX) or record this download's (--trust-first-use)"
        )
    actual = download_file(url, target, expected, opener)
    try:
        sidecar.write_text(f"{actual}  {name}\n{url}\n", encoding="utf-8")
    except OSError:
        pass  # the sidecar is a convenience; the verified file is in place
    return Fetched(target, actual, downloaded=True, verified=expected is not None)


def _safe_segment(text: str) -> bool:
    """A single path segment that cannot climb out of its folder ('..', '.', '/' refused)."""
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", text))


def _resolve(source: str | Source) -> Source:
    if isinstance(source, Source):
        return source
    if source not in SOURCES:
        raise DownloadError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    return SOURCES[source]


# --- command line ---
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ingest.download",
        description="Download a public source into the cache and print its path.",
    )
    parser.add_argument(
        "source",
        nargs="?",
        choices=list(SOURCES),
        type=lambda name: name.replace("-", "_"),  # ucdp-ged is taken for ucdp_ged
        help="source to fetch (names as --list prints them; '-' may stand for '_')",
    )
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
