"""The resolved config as TOML (`train.py --print-config`): every key, and it loads back."""

from __future__ import annotations

from pathlib import Path

import pytest

import train
from experiments.config import DEFAULT_CONFIG, load_config, to_toml
from models.settings import XGBoostSettings

PAKISTAN = DEFAULT_CONFIG.parent / "pakistan.toml"


@pytest.mark.parametrize("path", [DEFAULT_CONFIG, PAKISTAN])
def test_printed_config_loads_back_to_the_same_config(path: Path, tmp_path: Path) -> None:
    config = load_config(path, ['targeting.programs="a \\"quoted\\" path"', "model.seed=3"])
    printed = tmp_path / "printed.toml"
    printed.write_text(to_toml(config), encoding="utf-8")
    assert load_config(printed) == config


def test_defaults_are_defined_once_in_code(capsys: pytest.CaptureFixture) -> None:
    assert train.main(["--print-config"]) == 0
    out = capsys.readouterr().out
    assert f"n_estimators = {XGBoostSettings().n_estimators}" in out
    assert "[model.xgboost]" in out and "[targeting]" in out
    # the shipped default config sets no value the code does not already default to
    assert load_config(DEFAULT_CONFIG) == load_config(None).model_validate({"name": "default"})
