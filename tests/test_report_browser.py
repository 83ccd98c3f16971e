"""The report as a browser shows it: headless Chromium renders it offline without errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> Path:
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: run make report-browser-test")
    return request.getfixturevalue("champion_report")["html"]  # trained only when needed


def chromium(report: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *extra]
    return subprocess.run(
        [*command, report.resolve().as_uri()], capture_output=True, text=True, timeout=90
    )


def test_screenshot_is_a_rendered_page(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(report, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    image = Image.open(shot)
    assert (image.format, image.size) == ("PNG", (1280, 2000))
    pixels = np.asarray(image.convert("RGB"))
    assert (pixels < 200).any(axis=2).mean() > 0.05  # text, tables and figures, not a blank
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # the map's colours among them


def test_page_loads_without_console_messages(report: Path, tmp_path: Path) -> None:
    done = chromium(report, tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom")
    assert 'id="audit"' in done.stdout  # the whole document was parsed
    assert [line for line in done.stderr.splitlines() if ":CONSOLE" in line] == []


def _page_width(report: Path, tmp_path: Path, width: int) -> tuple[int, int]:
    """(scroll width, client width) of the report laid out `width` px wide: in an iframe of
    that width (headless Chromium's window is never narrower than 500 px), measured by a
    probe page beside it; the report itself has no script."""
    copy = tmp_path / "report.html"
    copy.write_text(report.read_text(encoding="utf-8"), encoding="utf-8")
    probe = tmp_path / f"probe-{width}.html"
    probe.write_text(
        "<html><head><title>-</title></head><body style='margin:0'>"
        f"<iframe id='f' src='report.html' style='width:{width}px;height:900px;border:0'>"
        "</iframe><script>document.getElementById('f').onload = function () {"
        "var e = this.contentDocument.documentElement;"
        "document.title = 'WIDTH:' + e.scrollWidth + ':' + e.clientWidth; };</script>"
        "</body></html>"
    )
    extra = ["--allow-file-access-from-files", "--virtual-time-budget=15000"]
    done = chromium(probe, tmp_path, *extra, "--window-size=1500,900", "--dump-dom")
    title = done.stdout.split("<title>", 1)[1].split("</title>", 1)[0]
    scroll, client = title.removeprefix("WIDTH:").split(":")
    return int(scroll), int(client)


@pytest.mark.parametrize("width", [1400, 390])
def test_no_horizontal_overflow_on_a_desk_or_a_phone(
    report: Path, tmp_path: Path, width: int
) -> None:
    scroll, client = _page_width(report, tmp_path, width)
    assert client <= width and scroll <= client  # nothing wider than the page


def test_district_search_filters_the_appendix(report: Path, tmp_path: Path) -> None:
    """Typing a district's name in the appendix's search box leaves only matching rows (the
    inline script runs under the report's Content-Security-Policy)."""
    copy = tmp_path / "report.html"
    copy.write_text(report.read_text(encoding="utf-8"), encoding="utf-8")
    text = copy.read_text(encoding="utf-8")
    name = text.split('<tr data-search="', 1)[1].split("<td>", 1)[1].split(" <span", 1)[0]
    probe = tmp_path / "probe-search.html"
    probe.write_text(
        "<html><head><title>-</title></head><body>"
        "<iframe id='f' src='report.html' style='width:1200px;height:900px'></iframe>"
        "<script>document.getElementById('f').onload = function () {"
        "var d = this.contentDocument; var box = d.getElementById('district-search');"
        f"box.value = {name!r}; box.dispatchEvent(new Event('input'));"
        "var rows = d.querySelectorAll('#appendix-table tbody tr');"
        "var shown = Array.prototype.filter.call(rows, function (r) { return !r.hidden; });"
        "document.title = 'SEARCH:' + shown.length + ':' + rows.length + ':' +"
        " d.getElementById('district-search-form').hidden; };</script></body></html>"
    )
    extra = ["--allow-file-access-from-files", "--virtual-time-budget=15000"]
    done = chromium(probe, tmp_path, *extra, "--dump-dom")
    title = done.stdout.split("<title>", 1)[1].split("</title>", 1)[0]
    shown, total, hidden = title.removeprefix("SEARCH:").split(":")
    assert hidden == "false"  # the script ran and showed the box
    assert 1 <= int(shown) < int(total)
