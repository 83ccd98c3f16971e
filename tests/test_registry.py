"""Registry rules (experiments/registry.py): model references and the promotion rule."""

from __future__ import annotations

import math

import pytest

from experiments.registry import (
    DEFAULT_MODEL,
    ModelRef,
    ModelRefError,
    becomes_champion_on_registration,
    decide_promotion,
    registered_name,
)


@pytest.mark.parametrize(
    ("text", "ref", "uri"),
    [
        ("rootcast-h1@champion", ModelRef(name="rootcast-h1", alias="champion"), None),
        ("models:/m/3", ModelRef(name="m", version="3"), "models:/m/3"),
        ("0123abcd", ModelRef(run_id="0123abcd"), "runs:/0123abcd/model"),
    ],
)
def test_references_parse_to_name_alias_version_or_run(text, ref, uri) -> None:
    parsed = ModelRef.parse(text)
    assert parsed == ref
    assert parsed.uri == (uri or f"models:/{text}")
    assert ModelRef.parse(str(parsed)) == parsed


@pytest.mark.parametrize("text", ["", "@champion", "name@", "/3", "name/"])
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(ModelRefError):
        ModelRef.parse(text)


def test_default_model_and_registered_names() -> None:
    assert DEFAULT_MODEL == "rootcast-h1@champion"
    assert registered_name(3) == "rootcast-h3"
    assert registered_name(3, "mine") == "mine"
    assert ModelRef.parse("run123").registered_name_or("fallback") == "fallback"


def test_only_the_first_version_becomes_champion_on_registration() -> None:
    assert becomes_champion_on_registration(None)
    assert not becomes_champion_on_registration("1")


def test_promotion_needs_a_gain_above_the_margin_in_the_metric_direction() -> None:
    assert decide_promotion("aupr", 0.60, 0.62, 0.01, False)[0]
    assert not decide_promotion("aupr", 0.60, 0.605, 0.01, False)[0]
    assert decide_promotion("brier", 0.10, 0.08, 0.0, False)[0]  # lower is better
    assert not decide_promotion("brier", 0.08, 0.10, 0.0, False)[0]
    promote, reason = decide_promotion("aupr", 0.6, 0.5, 0.0, True)
    assert promote and reason.startswith("forced")
    assert not decide_promotion("aupr", 0.6, math.nan, 0.0, False)[0]
