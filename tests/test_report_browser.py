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
