"""All-or-nothing result folders: a run writes into a staging folder beside `--output`, and
its files are moved in (one atomic rename each) only when the run is complete."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from experiments.locks import process_alive
from reports import contract


def publish(staging: Path, output_dir: Path, files: list[Path]) -> list[Path]:
    """Move `files` of a finished run from `staging` into `output_dir` (one atomic rename
    each), drop result files of an earlier run that this run did not make, remove `staging`.
    Returns the published paths, in the order given."""
    output_dir.mkdir(parents=True, exist_ok=True)
    made = [p.name for p in files]
    for name in made:
        os.replace(staging / name, output_dir / name)
    for file in contract.RESULT_FILES:
        if file not in made:
            (output_dir / file).unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    return [output_dir / name for name in made]


def staging_dir(output_dir: Path) -> Path:
    """A fresh folder beside `output_dir` for this process's files; staging folders of
    processes that no longer exist (killed runs) are removed."""
    parent = output_dir.resolve().parent
    if parent.exists():
        for old in parent.glob(".*.staging-*"):
            pid = old.name.rpartition(".staging-")[2]
            if old.is_dir() and pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
    staging = parent / f".{output_dir.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging
