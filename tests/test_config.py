"""Experiment configuration (experiments/config.py): TOML + `--set` overrides, validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.config import (
    ConfigError,
    ExperimentConfig,
    apply_overrides,
    load_config,
)


def test_default_config_loads():
    config = load_config()
    assert isinstance(config, ExperimentConfig)
    assert config.name == "default" and config.target.horizon == 1


def test_default_config_is_the_synthetic_region():
    assert load_config().is_synthetic


def test_registered_model_name_defaults_to_horizon():
    assert load_config(None, ["target.horizon=2"]).registered_model_name == "rootcast-h2"


def test_int_override_sets_an_int():
    value = load_config(None, ["model.xgboost.max_depth=6"]).model.xgboost.max_depth
    assert value == 6 and type(value) is int


def test_float_override_sets_a_float():
    value = load_config(None, ["model.xgboost.learning_rate=0.2"]).model.xgboost.learning_rate
    assert value == 0.2 and type(value) is float


def test_bool_override_sets_a_bool():
    assert load_config(None, ["tracking.register_model=false"]).tracking.register_model is False


def test_quoted_string_override_keeps_spaces():
    config = load_config(None, ['tracking.experiment="my study"'])
    assert config.tracking.experiment == "my study"


def test_unquoted_string_override_is_taken_as_text():
    config = load_config(None, ["data.panel=data/panel.csv"])
    assert config.data.panel == "data/panel.csv"


def test_unquoted_literal_choice_override():
    assert load_config(None, ["model.calibration=sigmoid"]).model.calibration == "sigmoid"


def test_later_override_wins():
    config = load_config(None, ["model.seed=1", "model.seed=3"])
    assert config.model.seed == 3


def test_overrides_leave_other_values_at_their_defaults():
    config = load_config(None, ["model.xgboost.max_depth=6"])
    assert config.model.xgboost.n_estimators == load_config().model.xgboost.n_estimators


def test_apply_overrides_does_not_modify_its_input():
    data = {"model": {"xgboost": {"max_depth": 4}}}
    apply_overrides(data, ["model.xgboost.max_depth=6"])
    assert data == {"model": {"xgboost": {"max_depth": 4}}}


def test_refuses_unknown_key_and_names_it():
    with pytest.raises(ConfigError, match=r"model\.xgboost\.depth"):
        load_config(None, ["model.xgboost.depth=6"])


def test_refuses_unknown_section_and_names_it():
    with pytest.raises(ConfigError, match="modle"):
        load_config(None, ["modle.seed=1"])


def test_refuses_out_of_range_value_and_names_the_key():
    with pytest.raises(ConfigError, match=r"model\.xgboost\.max_depth"):
        load_config(None, ["model.xgboost.max_depth=0"])


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_refuses_confounding_outside_zero_to_one(value):
    with pytest.raises(ConfigError, match=r"synthetic\.confounding"):
        load_config(None, [f"synthetic.confounding={value}"])
    assert load_config(None, ["synthetic.confounding=0.6"]).synthetic.confounding == 0.6


def test_refuses_wrong_type_and_names_the_key():
    with pytest.raises(ConfigError, match=r"model\.xgboost\.max_depth"):
        load_config(None, ["model.xgboost.max_depth=deep"])


def test_refuses_unknown_calibration_method():
    with pytest.raises(ConfigError, match=r"model\.calibration"):
        load_config(None, ["model.calibration=platt"])


def test_refuses_override_without_a_value():
    with pytest.raises(ConfigError, match="novalue"):
        load_config(None, ["novalue"])


def test_refuses_override_without_a_key():
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["=3"])


def test_refuses_override_below_a_plain_value():
    with pytest.raises(ConfigError, match="'name' is a value"):
        load_config(None, ["name.first=3"])


def test_override_errors_name_the_set_option_and_file_errors_the_file(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"^--set model\.xgboost\.max_depth: "):
        load_config(None, ["model.xgboost.max_depth=0"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[model.xgboost]\nmax_depth = 0\n")
    with pytest.raises(ConfigError, match=rf"^{bad}: model\.xgboost\.max_depth: "):
        load_config(bad, ["model.seed=1"])


@pytest.mark.parametrize(
    "key", ["model.logistic_C", "targeting.budget", "data.adjacency_tolerance"]
)
@pytest.mark.parametrize("value", ["inf", "nan"])
def test_numbers_must_be_finite(key: str, value: str):
    with pytest.raises(ConfigError, match="finite number"):
        load_config(None, [f"{key}={value}"])


def test_refuses_missing_file_and_names_it(tmp_path: Path):
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_refuses_bad_toml_and_names_the_file(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text("[model\nseed = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_config_file_values_are_read(tmp_path: Path):
    path = tmp_path / "exp.toml"
    path.write_text('name = "small"\n[split]\nn_folds = 2\n', encoding="utf-8")
    config = load_config(path)
    assert (config.name, config.split.n_folds) == ("small", 2)


def test_config_file_errors_name_the_file_and_key(tmp_path: Path):
    path = tmp_path / "exp.toml"
    path.write_text("[split]\nn_fold = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "split.n_fold" in str(info.value)


def test_refuses_bool_for_an_int_setting():
    with pytest.raises(ConfigError, match=r"model\.xgboost\.max_depth"):
        load_config(None, ["model.xgboost.max_depth=true"])
