"""The report as a browser shows it: headless Chromium renders it offline without errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_report import trained_run

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
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: run make report-browser-test")
    return trained_run(tmp_path_factory)["html"]


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
