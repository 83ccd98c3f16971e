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


def _scores(aupr: float, brier: float, roc_auc: float = 0.8) -> dict[str, float]:
    return {"aupr": aupr, "brier": brier, "roc_auc": roc_auc}


def test_promotion_needs_a_gain_above_the_margin_in_the_metric_direction() -> None:
    assert decide_promotion("aupr", _scores(0.60, 0.1), _scores(0.62, 0.1), 0.01)[0]
    assert not decide_promotion("aupr", _scores(0.60, 0.1), _scores(0.605, 0.1), 0.01)[0]
    assert decide_promotion("brier", _scores(0.6, 0.10), _scores(0.6, 0.08), 0.0)[0]
    assert not decide_promotion("brier", _scores(0.6, 0.08), _scores(0.6, 0.10), 0.0)[0]
    promote, reason = decide_promotion("aupr", _scores(0.6, 0.1), _scores(0.5, 0.2), 0.0, (), True)
    assert promote and reason.startswith("forced")
    assert not decide_promotion("aupr", _scores(0.6, 0.1), _scores(math.nan, 0.1), 0.0)[0]


def test_a_challenger_worse_on_a_guard_metric_is_not_promoted() -> None:
    champion, challenger = _scores(0.60, 0.10), _scores(0.65, 0.12)  # better aupr, worse brier
    promote, reason = decide_promotion("aupr", champion, challenger, 0.0, ["aupr", "brier"])
    assert not promote and "worse on brier +" not in reason and "brier -0.0200" in reason
    assert decide_promotion("aupr", champion, challenger, 0.0, ["aupr"])[0]
    assert decide_promotion("aupr", champion, challenger, 0.0, ["brier"], force=True)[0]


@pytest.mark.parametrize("margin", [-1.0, -1e-9, math.nan])
def test_a_negative_margin_is_refused(margin: float) -> None:
    # the probe: `retrain --margin -1` promoted a model with AUPR 0.269 over one with 0.678
    with pytest.raises(ValueError, match="margin must be >= 0"):
        decide_promotion("aupr", _scores(0.678, 0.1), _scores(0.269, 0.3), margin)
