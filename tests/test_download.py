"""Downloads (ingest/download.py and its command line) against a local HTTP server on
127.0.0.1 serving fixture files from tmp_path. Any connection elsewhere fails the test."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest import download as cli
from ingest import download as dl
from ingest.download import ChecksumError, DownloadError, fetch

GED_CSV = (
    "id,date_start,latitude,longitude,where_prec,side_a,side_b\n1,2020-01-02,34.0,71.5,1,A,B\n"
)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every connection except to 127.0.0.1, and ignore proxy settings."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address) -> None:
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            raise AssertionError(f"test tried to reach {address}: tests must stay offline")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


class FixtureHandler(http.server.BaseHTTPRequestHandler):
    """GET /NAME serves ROOT/NAME; /status/CODE/NAME answers CODE; /drop/NAME sends half the
    body under the full Content-Length and closes; /chunked-drop/NAME cuts a chunked body."""

    root: Path
    requests: list[str]

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.requests.append(self.path)
        parts = self.path.strip("/").split("/")
        if parts[0] == "status":
            self.send_error(int(parts[1]))
            return
        mode = parts[0] if parts[0] in {"drop", "chunked-drop"} else "ok"
        path = self.root / parts[-1]
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode == "chunked-drop":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = body[: len(body) // 2]
            self.wfile.write(f"{len(body):x}\r\n".encode() + half)  # promises more than sent
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body if mode == "ok" else body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


class FixtureServer:
    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        handler = type("Handler", (FixtureHandler,), {"root": root, "requests": self.requests})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Fixture files: a GED-like zip and a GeoJSON, each large enough to need several chunks."""
    root = tmp_path / "served"
    root.mkdir()
    with zipfile.ZipFile(root / "ged251-csv.zip", "w") as archive:
        archive.writestr("GEDEvent_v25_1.csv", GED_CSV + "x" * 3_000_000)
    (root / "geoBoundaries-PAK-ADM2.geojson").write_text(
        '{"type": "FeatureCollection", "features": []}', encoding="utf-8"
    )
    return root


@pytest.fixture
def server(files: Path) -> Iterator[FixtureServer]:
    srv = FixtureServer(files)
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached_files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []


ZIP = "ged251-csv.zip"


def test_download_lands_verified_in_the_cache(server, files, cache) -> None:
    got = fetch("ucdp_ged", "25.1", cache, sha256=sha(files / ZIP), url=server.url(ZIP))
    assert got.path == cache / "ucdp_ged" / "25.1" / ZIP
    assert got.path.read_bytes() == (files / ZIP).read_bytes()
    assert got.downloaded and got.verified and got.sha256 == sha(files / ZIP)
    assert zipfile.ZipFile(got.path).namelist() == ["GEDEvent_v25_1.csv"]
    assert sorted(p.name for p in cached_files(cache)) == [ZIP, ZIP + ".sha256"]


def test_second_call_with_the_file_cached_makes_no_request(server, files, cache) -> None:
    kwargs = {"sha256": sha(files / ZIP), "url": server.url(ZIP)}
    first = fetch("ucdp_ged", "25.1", cache, **kwargs)
    second = fetch("ucdp_ged", "25.1", cache, **kwargs)
    assert server.requests == [f"/{ZIP}"]
    assert second.path == first.path and not second.downloaded


def test_checksum_mismatch_is_an_error_and_leaves_nothing(server, cache) -> None:
    with pytest.raises(ChecksumError, match="does not match the expected " + "0" * 64):
        fetch("ucdp_ged", "25.1", cache, sha256="0" * 64, url=server.url(ZIP))
    assert cached_files(cache) == []


@pytest.mark.parametrize("code", [404, 500])
def test_server_error_leaves_nothing(server, cache, code: int) -> None:
    with pytest.raises(DownloadError, match=f"HTTP {code}") as info:
        fetch("ucdp_ged", "25.1", cache, sha256="0" * 64, url=server.url(f"status/{code}/{ZIP}"))
    assert server.base in str(info.value)
    assert cached_files(cache) == []


@pytest.mark.parametrize("mode", ["drop", "chunked-drop"])
def test_connection_dropped_mid_body_leaves_nothing(server, files, cache, mode: str) -> None:
    with pytest.raises(DownloadError, match="nothing cached"):
        fetch("ucdp_ged", "25.1", cache, sha256=sha(files / ZIP), url=server.url(f"{mode}/{ZIP}"))
    assert cached_files(cache) == []


def test_interrupted_download_leaves_nothing(server, files, cache) -> None:
    """Ctrl-C after the first chunk: the temporary file goes too."""

    def interrupting(request, timeout):
        response = urllib.request.urlopen(request, timeout=timeout)
        read = response.read
        calls = []

        def read_then_interrupt(n: int) -> bytes:
            calls.append(n)
            if len(calls) > 1:
                raise KeyboardInterrupt
            return read(n)

        response.read = read_then_interrupt
        return response

    with pytest.raises(KeyboardInterrupt):
        fetch(
            "ucdp_ged",
            "25.1",
            cache,
            sha256=sha(files / ZIP),
            url=server.url(ZIP),
            opener=interrupting,
        )
    assert cached_files(cache) == []


def test_failed_download_keeps_an_earlier_file_untouched(server, files, tmp_path) -> None:
    target = tmp_path / "kept" / ZIP
    target.parent.mkdir()
    target.write_bytes(b"earlier")
    with pytest.raises(DownloadError):
        dl.download_file(server.url(f"drop/{ZIP}"), target, None)
    assert target.read_bytes() == b"earlier"
    assert [p.name for p in target.parent.iterdir()] == [ZIP]


def test_without_a_checksum_nothing_is_requested_unless_trusted(server, files, cache) -> None:
    with pytest.raises(DownloadError, match="--sha256 HEX"):
        fetch("ucdp_ged", "25.1", cache, url=server.url(ZIP))
    assert server.requests == [] and cached_files(cache) == []
    got = fetch("ucdp_ged", "25.1", cache, url=server.url(ZIP), trust_first_use=True)
    assert got.downloaded and not got.verified and got.sha256 == sha(files / ZIP)
    sidecar = got.path.with_name(ZIP + ".sha256")
    assert sidecar.read_text().split()[0] == got.sha256


def test_cached_file_changed_after_download_is_refused(server, files, cache) -> None:
    got = fetch("ucdp_ged", "25.1", cache, url=server.url(ZIP), trust_first_use=True)
    got.path.write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="delete it to download again") as info:
        fetch("ucdp_ged", "25.1", cache, url=server.url(ZIP))
    assert str(got.path) in str(info.value)
    assert len(server.requests) == 1


def test_stale_temporary_file_of_a_killed_download_is_swept(server, files, cache) -> None:
    folder = cache / "ucdp_ged" / "25.1"
    folder.mkdir(parents=True)
    stale = folder / f".{ZIP}.abc123.part"
    stale.write_bytes(b"half")
    old = time.time() - 2 * dl.STALE_PART_S
    os.utime(stale, (old, old))
    fetch("ucdp_ged", "25.1", cache, sha256=sha(files / ZIP), url=server.url(ZIP))
    assert not stale.exists()


def test_cli_prints_the_cached_path(server, files, cache, capsys) -> None:
    args = ["ucdp_ged", "--version", "25.1", "--cache", str(cache), "--url", server.url(ZIP)]
    assert cli.main([*args, "--sha256", sha(files / ZIP).upper()]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "ucdp_ged" / "25.1" / ZIP)
    assert cli.main(args) == 0  # cached: no checksum needed now (the sidecar has it)
    assert len(server.requests) == 1


def test_cli_error_is_one_line_and_exit_2(server, cache, capsys) -> None:
    code = cli.main(
        ["ucdp_ged", "--cache", str(cache), "--url", server.url(ZIP), "--sha256", "0" * 64]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert cached_files(cache) == []


def test_cli_geoboundaries_with_iso3_and_trust_first_use(server, files, cache, capsys) -> None:
    name = "geoBoundaries-PAK-ADM2.geojson"
    code = cli.main(
        [
            "geoboundaries_adm2",
            "--iso3", "PAK",
            "--cache", str(cache),
            "--url", server.url(name),
            "--trust-first-use",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and captured.out.strip() == str(
        cache / "geoboundaries_adm2" / "9469f09" / name
    )
    assert sha(files / name) in captured.err


def test_registry_urls_follow_the_published_templates() -> None:
    assert dl.SOURCES["ucdp_ged"].url("25.1") == "https://ucdp.uu.se/downloads/ged/ged251-csv.zip"
    assert dl.SOURCES["ucdp_ged"].url("23.1").endswith("/ged231-csv.zip")
    assert dl.SOURCES["geoboundaries_adm2"].url(iso3="AFG") == (
        "https://github.com/wmgeolab/geoBoundaries/raw/9469f09/releaseData/gbOpen/AFG/ADM2/"
        "geoBoundaries-AFG-ADM2.geojson"
    )
    assert dl.SOURCES["ucdp_ged_country"].url(country="syria").endswith("/ged_syria.csv.zip")


def test_missing_or_unknown_parameters_and_sources_are_errors(cache) -> None:
    with pytest.raises(DownloadError, match="iso3"):
        fetch("geoboundaries_adm2", cache=cache)
    with pytest.raises(DownloadError, match="no parameter"):
        fetch("ucdp_ged", cache=cache, iso3="PAK")
    with pytest.raises(DownloadError, match="unknown source"):
        fetch("acled", cache=cache)
    with pytest.raises(DownloadError, match="64 hex"):
        fetch("ucdp_ged", cache=cache, sha256="abc")
    assert cached_files(cache) == []


def test_cache_folder_defaults_to_env_then_home(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ROOTCAST_CACHE", str(tmp_path / "env"))
    assert dl.default_cache() == tmp_path / "env"
    monkeypatch.delenv("ROOTCAST_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert dl.default_cache() == tmp_path / "home" / ".cache" / "rootcast"
