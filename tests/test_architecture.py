"""Imports point one way (docs/architecture.md):

    train.py (entry) -> experiments -> reports, models -> features
    ingest -> features            (outside files -> a panel)

Nothing imports the entry point, which reaches models and ingest only through experiments;
reports and models do not know each other; experiments do not read outside files through
ingest (ingest builds panels, experiments train on them); only experiments/tracking/ talks
to MLflow; benchmarks use the packages, never the entry point.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["features", "models", "experiments", "reports", "ingest", "benchmarks"]
FORBIDDEN = {
    "features": {"models", "experiments", "reports", "ingest", "train", "benchmarks", "mlflow"},
    "models": {"experiments", "reports", "ingest", "train", "benchmarks", "mlflow"},
    "reports": {"models", "experiments", "ingest", "train", "benchmarks", "mlflow"},
    "ingest": {"models", "experiments", "reports", "train", "benchmarks", "mlflow"},
    "experiments": {"ingest", "train", "benchmarks"},
    "benchmarks": {"ingest", "train"},
}
# the entry point goes through experiments (and may name reports and features' errors)
ENTRY = ROOT / "train.py"
ENTRY_FORBIDDEN = {"models", "ingest", "benchmarks", "mlflow"}
# and what runs write (`make run`'s MLflow store keeps a copy of the model's code in mlruns/)
NOT_CODE = {"tests", "docs", ".venv", ".git", ".ci", "mlruns", "mlartifacts", "output"}
# modules (not whole packages) a package must not import
FORBIDDEN_MODULES = {"reports": {"features.build"}}
MLFLOW_OWNER = ROOT / "experiments" / "tracking"  # the one package that talks to MLflow


def imported_modules(path: Path) -> set[str]:
    """Dotted names of every module `path` imports (absolute imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every module `path` imports."""
    return {name.split(".")[0] for name in imported_modules(path)}


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_every_folder_of_code_is_checked() -> None:
    on_disk = {
        p.relative_to(ROOT).parts[0]
        for p in ROOT.glob("*/**/*.py")
        if p.relative_to(ROOT).parts[0] not in NOT_CODE
    }
    assert on_disk <= set(PACKAGES)


def test_the_entry_point_goes_through_experiments() -> None:
    assert imported_roots(ENTRY) & ENTRY_FORBIDDEN == set()
    assert "experiments" in imported_roots(ENTRY)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in package_files(package)
        if imported_roots(path) & FORBIDDEN[package]
    }
    assert offenders == {}


@pytest.mark.parametrize("package", sorted(FORBIDDEN_MODULES))
def test_forbidden_modules_are_not_imported(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & FORBIDDEN_MODULES[package])
        for path in package_files(package)
        if imported_modules(path) & FORBIDDEN_MODULES[package]
    }
    assert offenders == {}


def test_the_rule_catches_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from models.pipeline import MAIN_MODEL\nimport features.build\n")
    assert imported_roots(module) & FORBIDDEN["reports"] == {"models"}
    assert "features.build" in imported_modules(module)


def test_only_the_tracking_package_imports_mlflow() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in package_files(package)
        if "mlflow" in imported_roots(path) and MLFLOW_OWNER not in path.parents
    ]
    assert importers == []


def test_no_module_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for package in PACKAGES
        for path in package_files(package)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
