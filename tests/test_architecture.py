"""Imports point one way (DESIGN.md): train -> experiments -> features/models/reports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["features", "models", "experiments", "reports"]
FORBIDDEN = {
    "features": {"models", "experiments", "reports", "train", "mlflow"},
    "models": {"experiments", "reports", "train", "mlflow"},
    "reports": {"experiments", "train", "mlflow"},
    "experiments": {"train"},
}
MLFLOW_OWNER = ROOT / "experiments" / "tracking.py"


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every module `path` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in package_files(package)
        if imported_roots(path) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_only_tracking_module_imports_mlflow() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in package_files(package)
        if "mlflow" in imported_roots(path) and path != MLFLOW_OWNER
    ]
    assert importers == []


def test_no_module_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for package in PACKAGES + ["benchmarks"]
        for path in package_files(package)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
