"""Result files written whole or not at all: each goes to a temporary file, then is renamed."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.errors import RootcastError


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
    """District polygons (a GeoDataFrame) as GeoJSON (its layer named after `path`)."""
    return write_atomically(path, lambda tmp: frame.to_file(tmp, driver="GeoJSON", layer=path.stem))


class OutputPathError(RootcastError):
    """An output path that cannot be written: a file where a folder is needed, or the reverse."""


def _nearest_existing(path: Path) -> Path:
    parent = path.resolve()
    while not parent.exists():
        parent = parent.parent
    return parent


def check_output_dir(path: Path, option: str) -> Path:
    """`path` can be (or become) a writable folder; raises OutputPathError naming `option`."""
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{option} {path}: exists and is not a folder")
    base = _nearest_existing(path)
    if not base.is_dir() or not os.access(base, os.W_OK):
        raise OutputPathError(f"{option} {path}: cannot create a folder there ({base})")
    return path


def check_output_file(path: Path, option: str) -> Path:
    """`path` can be written as a file; raises OutputPathError naming `option`."""
    if path.is_dir():
        raise OutputPathError(f"{option} {path}: is a folder; give a file name")
    base = _nearest_existing(path.parent)
    if not base.is_dir() or not os.access(base, os.W_OK):
        raise OutputPathError(f"{option} {path}: cannot write there ({base} is not a folder)")
    return path
