"""Result files written whole or not at all: each goes to a temporary file, then is renamed."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it over `path`.

    A crash leaves any previous `path` untouched and no partial file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, data: dict) -> Path:
    text = json.dumps(data, indent=2, default=str, allow_nan=True)
    return write_atomically(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    return write_atomically(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    return write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_geojson(path: Path, frame) -> Path:
    """District polygons (a GeoDataFrame) as GeoJSON."""
    return write_atomically(path, lambda tmp: frame.to_file(tmp, driver="GeoJSON"))
