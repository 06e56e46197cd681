"""core/checks/expectations.py: expectations parsed once, then judged against a layer's or a row's facts."""

from __future__ import annotations

import pytest

from convinspect.core.checks.expectations import Expectations, Facts, evaluate, parse_expectations
from convinspect.errors import InvalidInput

FACTS = Facts(params=1664, macs=2_000, shapes={"output": [None, 8, 8, 64], "kernel": [5, 5, 1, 64]})


def test_values_from_the_command_line_or_a_spec_file_parse_once() -> None:
    parsed = parse_expectations({"expect_output": "?,8,8,64", "max_params": "1000", "max_macs": 5, "expect_runs": True})
    assert parsed == Expectations(output=(None, 8, 8, 64), max_params=1000, max_macs=5, runs=True)


@pytest.mark.parametrize(("key", "value"), [("max_params", "-1"), ("expect_params", "many"), ("max_macs", "1.5")])
def test_a_bad_value_names_its_option(key: str, value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_expectations({key: value})
    assert caught.value.option == key


def test_equalities_and_limits() -> None:
    checks = evaluate(Expectations(params=1664, kernel=(5, 5, 1, 32), max_params=1000, max_macs=2_000), FACTS)
    assert [(c.name, c.expected, c.actual, c.ok, c.limit) for c in checks] == [
        ("params", 1664, 1664, True, False),
        ("kernel_shape", [5, 5, 1, 32], [5, 5, 1, 64], False, False),
        ("max_params", 1000, 1664, False, True),
        ("max_macs", 2000, 2000, True, True),  # a limit is "at most": equal passes
    ]


def test_a_row_s_checks_carry_its_name_and_stay_limits() -> None:
    (check,) = evaluate(Expectations(max_macs=1000), FACTS, prefix="conv2: ")
    assert (check.name, check.limit, check.ok) == ("conv2: max_macs", True, False)


def test_a_mac_limit_never_passes_on_a_count_that_leaves_work_out() -> None:
    partial = Facts(params=10, macs=5, shapes={}, complete=False)
    (check,) = evaluate(Expectations(max_macs=10**9), partial)
    assert not check.ok and check.actual == "5 + work not counted"


def test_an_expectation_that_does_not_apply_is_refused_not_skipped() -> None:
    refusal = InvalidInput("a Dense row has no kernel_shape to expect", "expect_kernel")
    facts = Facts(params=0, macs=0, shapes={}, refusals={"kernel": refusal})
    with pytest.raises(InvalidInput) as caught:
        evaluate(Expectations(kernel=(1,)), facts)
    assert caught.value is refusal


def test_expect_runs_is_judged_only_where_a_backend_ran() -> None:
    assert evaluate(Expectations(runs=True), Facts(params=0, macs=0, shapes={}, runs=None)) == ()
    (check,) = evaluate(Expectations(runs=True), Facts(params=0, macs=0, shapes={}, runs=False))
    assert (check.name, check.ok) == ("runs", False)
