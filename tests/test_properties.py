"""Proof: the analytic engine gives Keras' verdict and Keras' numbers on random configs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from convinspect.api import inspect_layer
from convinspect.core.report import Report
from convinspect.core.spec import parse_spec
from convinspect.errors import InvalidInput

from strategies import layer_options

pytest.importorskip("keras")


def _verdict(options: dict[str, Any], engine: str, forward: str = "auto") -> Report | str:
    try:
        return inspect_layer(parse_spec(options), engine=engine, forward=forward)
    except InvalidInput as err:
        return f"rejected: {err}"


def _facts(result: Report | str) -> object:
    if isinstance(result, str):
        return "rejected"
    return (
        result.output_shape,
        [(v.name, v.shape, v.dtype) for v in result.variables_after],
        result.params.total,
        result.config,
        result.name,
        {key: result.to_dict()[key] for key in ("cost", "memory", "geometry", "layouts")},
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_options())
def test_analytic_matches_keras_eager(options: dict[str, Any]) -> None:
    keras_result = _verdict(options, "keras")
    analytic_result = _verdict(options, "analytic")
    assert _facts(analytic_result) == _facts(keras_result), (options, keras_result, analytic_result)


@settings(max_examples=150, deadline=None)
@given(layer_options())
def test_symbolic_and_eager_agree(options: dict[str, Any]) -> None:
    if options["input"].startswith("?"):
        return
    assert _facts(_verdict(options, "keras", "symbolic")) == _facts(_verdict(options, "keras", "eager"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_options())
def test_explain_story_matches_the_analytic_story(options: dict[str, Any]) -> None:
    """The observed story (three real layers) agrees with the computed one on every shared fact."""
    try:
        observed = inspect_layer(parse_spec(options), engine="keras", explain=True).story
    except InvalidInput:
        return
    computed = inspect_layer(parse_spec(options), engine="analytic", explain=True).story
    for seen, known in zip(observed, computed, strict=True):
        assert seen.key == known.key and seen.observed and not known.observed
        for fact, value in known.facts.items():
            if fact not in known.needs_keras:
                assert seen.facts[fact] == value, (options, seen.key, fact)
        if seen.key == "first_call":
            assert seen.facts["build_input_shape"] == seen.facts["input_shape"]
        if seen.key in ("first_call", "explicit_build"):
            assert seen.facts["built"] is True
