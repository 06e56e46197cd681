"""The lazy-build story (--explain) in words: numbered steps shared by every text format."""

from __future__ import annotations

from typing import Any

from convinspect.core.layer.report import (
    Call,
    Constructed,
    ExplicitBuild,
    FirstCall,
    Report,
    Step,
    StoryVariable,
    SymbolicInput,
)
from convinspect.core.vocab.choices import Forward
from convinspect.render.words import inert, shape_text, tuple_text


def call_text(call: Call) -> str:
    """`keras.layers.Conv2D(filters=64, kernel_size=(5, 5))`."""
    args = ", ".join(f"{k}={_python(v)}" for k, v in call.kwargs.items())
    return f"keras.layers.{call.class_name}({args})"


def _python(value: Any) -> str:
    if isinstance(value, list):
        return tuple_text(value)
    return repr(value)


def dimension_source(axis: str, position: int, report: Report, channels: int) -> str:
    """Where one dimension of a variable comes from, e.g. `input channels 3 ÷ groups 1`."""
    config = report.config
    if axis.startswith("k"):
        return f"kernel_size[{position}]"
    sources = {
        "in/groups": f"input channels {channels} ÷ groups {config.groups}",
        "in": f"input channels {channels}",
        "filters": "filters",
        "mult": "depth_multiplier",
        "in*mult": f"input channels {channels} × depth_multiplier {config.depth_multiplier}",
        "1": "pointwise kernels are 1 wide",
    }
    return sources.get(axis, axis)


def _created(report: Report, variables: tuple[StoryVariable, ...], channels: int) -> list[str]:
    lines = []
    for v in variables:
        dims = ", ".join(
            f"{size} ← {dimension_source(axis, i, report, channels)}" for i, (size, axis) in enumerate(v.dims)
        )
        lines.append(f"{v.path} {shape_text(v.shape)}: {dims}")
    return lines


def _pass(report: Report) -> str:
    if report.forward is None:
        return "x an input"
    return "x a symbolic KerasTensor" if report.forward.mode is Forward.SYMBOLIC else "x a dummy array"


def _observed(value: Any, observed: bool, text: str) -> str:
    return text.format(value) if observed else text.format("?") + " (needs Keras)"


def _construct_lines(construct: Step) -> list[str]:
    """Step 1: the constructor stores the arguments, and creates nothing."""
    c = construct.facts
    assert isinstance(c, Constructed)
    lines = ["1. Construct the layer", f"   layer = {call_text(c.call)}"]
    if not construct.observed:
        return [
            *lines,
            "   the constructor only stores the arguments: no input, so no channel count, so no kernel shape",
            "   layer.built → ? (needs Keras); layer.trainable_variables → ? (needs Keras)",
            "   layer.count_params() → ? (needs Keras: it raises until the layer is built)",
        ]
    return [
        *lines,
        f"   layer.built → {c.built}",
        f"   layer.trainable_variables → {list(c.trainable_variables or ())}",
        f"   layer.count_params() raises {c.count_params_error}" if c.count_params_error
        else "   layer.count_params() → 0",
    ]  # fmt: skip


def explain_lines(report: Report) -> list[str]:
    """The numbered story: construct, first call, explicit build, symbolic input."""
    steps = {step.key: step for step in report.story}
    construct, first, explicit, symbolic = (steps[k] for k in ("construct", "first_call", "explicit_build",
                                                                "symbolic_input"))  # fmt: skip
    f, e, sym = first.facts, explicit.facts, symbolic.facts
    assert isinstance(f, FirstCall) and isinstance(e, ExplicitBuild) and isinstance(sym, SymbolicInput)
    axis = "last" if f.channel_axis == -1 else "second"
    how = (
        "observed on real Keras layers"
        if construct.observed
        else ("computed by the analytic engine; the facts marked (needs Keras) are shown by --engine keras")
    )
    lines = [f"Why the variable list starts empty ({how}):", "", *_construct_lines(construct)]
    built_with = _observed(shape_text(f.build_input_shape or ()), construct.observed, "build(input_shape={})")
    lines += [
        "",
        f"2. First call: y = layer(x), {_pass(report)} of shape {shape_text(f.input_shape)}",
        f"   Keras runs {built_with} once, before computing y",
        f"   input channels = {f.input_channels}, read from the {axis} axis ({report.config.data_format})",
        *(f"   creates {line}" for line in _created(report, f.variables, f.input_channels)),
        "   "
        + _observed(f.built, construct.observed, "layer.built → {}")
        + f"; y has shape {shape_text(f.output_shape)}",
    ]
    lines += [
        "",
        "3. Another trigger: layer.build(shape) on a fresh layer, with no data at all",
        f"   layer.build({shape_text(e.input_shape)}) → " + _observed(e.built, explicit.observed, "layer.built {}"),
        "   variables: " + ", ".join(f"{v.path} {shape_text(v.shape)}" for v in e.variables),
    ]
    call = f"keras.Input(shape={tuple_text(sym.shape)}, batch_size={sym.batch_size})"
    output_type = sym.output_type or "KerasTensor"
    lines += [
        "",
        "4. Another trigger: calling a fresh layer on a symbolic keras.Input",
        f"   layer({call})",
        f"   returns a {output_type} of shape {shape_text(sym.output_shape)}: shapes only, nothing computed"
        + ("" if symbolic.observed else " (needs Keras)"),
        "   variables: " + ", ".join(f"{v.path} {shape_text(v.shape)}" for v in sym.variables),
    ]
    return [inert(line) for line in lines]  # layer names come from users; Keras quotes them
