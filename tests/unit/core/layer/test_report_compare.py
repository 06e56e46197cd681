"""`--engine both` compares typed fields: a disagreement names its path and both values."""

from __future__ import annotations

import dataclasses

from convinspect.core.layer.report import compare
from convinspect.core.layer.spec import parse_spec
from convinspect.core.layer.variables import Variable
from convinspect.engines import analytic


def _report():  # type: ignore[no-untyped-def]
    return analytic.inspect(parse_spec({"filters": 8, "kernel": 3, "input": "2,16,16,3"}))


def test_equal_reports_agree() -> None:
    assert compare(_report(), _report()) == []


def test_a_changed_output_shape_and_variable_are_named_with_both_values() -> None:
    a = _report()
    kernel = a.variables_after[0]
    wrong = dataclasses.replace(kernel, shape=(*kernel.shape[:-1], 9))
    b = dataclasses.replace(a, output_shape=(2, 14, 14, 9), variables_after=(wrong, *a.variables_after[1:]))
    found = {d.path: (d.left, d.right) for d in compare(a, b)}
    assert found["output_shape[3]"] == (8, 9)
    assert found["variables_after[0].shape[3]"] == (8, 9)


def test_the_runtime_verdict_counts_only_on_the_same_backend() -> None:
    a = _report()
    refused = dataclasses.replace(a.runtime, runs=False)
    assert [d.path for d in compare(a, dataclasses.replace(a, runtime=refused))] == ["runtime.runs"]
    elsewhere = dataclasses.replace(refused, backend="jax")
    assert compare(a, dataclasses.replace(a, runtime=elsewhere)) == []


def test_variables_are_compared_as_variables() -> None:
    a = _report()
    bias = Variable("bias", (8,), "float16", path=a.variables_after[1].path)
    found = compare(a, dataclasses.replace(a, variables_after=(a.variables_after[0], bias)))
    assert [d.path for d in found] == ["variables_after[1].dtype"]
