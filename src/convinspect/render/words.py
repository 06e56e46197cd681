"""Phrases shared by every text format."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from convinspect.core.layer.forward import ForwardChoice, Reason
from convinspect.core.layer.geometry import AxisGeometry
from convinspect.core.layer.layouts import Layout
from convinspect.core.layer.report import Report
from convinspect.core.layer.variables import Variable
from convinspect.core.layer.verify import Verification
from convinspect.core.vocab.choices import Engine, Forward
from convinspect.core.vocab.text import inert
from convinspect.core.vocab.units import human_bytes, thousands

__all__ = ["human_bytes", "inert", "thousands"]


def shape_text(shape: tuple[int | None, ...] | list[int | None]) -> str:
    """Keras style: `(2, 16, 16, 64)`, `(64,)`, `(None, 30, 30, 8)`."""
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def value_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return shape_text(list(value))
    return str(value)


def config_dict(report: Report) -> dict[str, Any]:
    return report.config.to_dict(report.kind.options)


def config_items(report: Report) -> list[tuple[str, str]]:
    return [(key, value_text(value)) for key, value in config_dict(report).items()]


def arithmetic(variables: tuple[Variable, ...], total: int) -> str:
    """`5×5×1×64 + 64 = 1,664`: each variable's shape multiplied out, then summed."""
    if not variables:
        return "0"
    terms = ["×".join(str(d) for d in v.shape) for v in variables]
    return " + ".join(terms) + f" = {thousands(total)}"


def why_empty(report: Report) -> str:
    """The one line that explains the empty list before the first call."""
    channels = report.config.data_format.channels(report.input_shape)
    return (
        f"{report.class_name} creates its weights in build(), on the first call: the kernel's "
        f"shape needs the input's channel count ({channels}), which only an input can tell it."
    )


def before_text(report: Report) -> str:
    if not report.variables_before:
        return "trainable_variables = []"
    return "trainable_variables = [" + ", ".join(inert(v.path) for v in report.variables_before) + "]"


def forward_text(report: Report) -> str:
    if report.forward is None:
        return "no forward pass (analytic engine: computed from the hyperparameters)"
    return f"{report.forward.mode} forward pass"


def forward_note(choice: ForwardChoice) -> str:
    """How the forward pass was chosen, from the engine's reason code and numbers."""
    need = "" if choice.activation_bytes is None else human_bytes(choice.activation_bytes)
    if choice.reason is Reason.BATCH_UNKNOWN:
        return "symbolic forward pass: the batch size is unknown"
    if choice.reason is Reason.OVER_BUDGET:
        return (
            f"symbolic forward pass (auto): activations would take {need}, over the {human_bytes(choice.budget)} budget"
        )
    if choice.mode is Forward.SYMBOLIC:
        return "symbolic forward pass on a KerasTensor (asked for): no activation memory"
    how = "asked for" if choice.reason is Reason.ASKED else "auto"
    return f"eager forward pass on a dummy input ({how}): about {need} allocated"


_BACKENDS = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch", "numpy": "NumPy"}


def runtime_warning(report: Report) -> str | None:
    """One line when the layer is valid but the backend cannot run it: what fails and what would work."""
    r = report.runtime
    if r.runs:
        return None
    if r.crashed and r.observed:
        return (f"error: {inert(r.crash_text(report.class_name, report.name))}; every other fact is from Keras' "
                f"symbolic call; it might run with {r.remedy}")  # fmt: skip
    predicted = "predicted by the analytic engine" if report.engine is Engine.ANALYTIC else "predicted, not run"
    why = [*([] if r.observed else [predicted]),
           *([] if r.kernels is None else [inert(r.kernels.because)])]  # fmt: skip
    kernels = "" if r.kernels is None else f" on its {r.kernels.kernels.label} kernels"
    how = f" ({'; '.join(why)})" if why else ""
    return (
        f"warning: {_BACKENDS.get(r.backend, r.backend)} on the {r.device} cannot run this layer{kernels}{how}: "
        f"{inert(r.reason or '')}; "
        f"it would run with {r.remedy}"
    )


def notes(report: Report) -> list[str]:
    """The report's facts that readers want in a sentence: the forward choice, engine agreement."""
    lines = [] if report.forward is None else [forward_note(report.forward)]
    if report.agreed_with is not None:
        lines.append(f"{report.agreed_with} engine agrees with Keras on every shared field")
    if report.verification is not None:
        lines.append(verify_text(report.verification))
    return lines


def verify_text(v: Verification) -> str:
    """One line: how the real output compares with the float64 reference."""
    if v.skipped:
        return f"verify skipped: {v.skipped}; --expect-runs makes that a failure"
    where = f"a probe input {shape_text(v.input_shape)}" if v.probe else f"input {shape_text(v.input_shape)}"
    scope = "" if v.activation_checked else " (before the activation, which the reference does not define)"
    figures = (f"max error {v.max_abs_error:.3g} (relative {v.max_rel_error:.3g}, tolerance {v.tolerance:.3g} "
               f"for {v.compute_dtype})")  # fmt: skip
    if v.ok:
        return f"verify: {v.backend} matches the float64 reference on {where}{scope}: {figures}"
    return f"verify FAILED: {v.backend} differs from the float64 reference on {where}{scope}: {figures}; {v.finding}"


def totals_text(report: Report) -> str:
    p = report.params
    return (
        f"trainable {thousands(p.trainable)} · non-trainable {thousands(p.non_trainable)} · "
        f"total {thousands(p.total)} params · {human_bytes(p.bytes)}"
    )


def check_text(check: Any) -> str:
    """`output_shape: expected (1, 8, 8, 8), actual (1, 6, 6, 8)`; limits read `at most`."""
    expected = value_text(check.expected)
    if check.limit:
        expected = f"at most {expected}"
    return f"{inert(check.name)}: expected {expected}, actual {value_text(check.actual)}"


def cost_text(report: Report) -> str:
    """`194,688 MACs · 21,632 bias adds · 411,008 FLOPs`."""
    c = report.measures.cost
    return f"{thousands(c.macs)} MACs · {thousands(c.bias_adds)} bias adds · {thousands(c.flops)} FLOPs"


def batch_text(batch: int, known: bool) -> str:
    return f"whole batch of {batch}" if known else "per example (batch unknown)"


def cost_detail(report: Report) -> list[str]:
    """The conventions, and each part of a separable layer."""
    c = report.measures.cost
    lines = [
        f"{batch_text(c.batch, c.batch_known)}; FLOPs = 2 × MACs + bias adds",
        f"mult-adds = MACs + bias adds = {thousands(c.mult_adds)}",
    ]
    if len(c.parts) > 1:
        lines.append(" + ".join(f"{p.name} {thousands(p.macs)}" for p in c.parts) + f" = {thousands(c.macs)} MACs")
    return lines


def memory_text(report: Report) -> str:
    m = report.measures.memory
    return (
        f"weights {human_bytes(m.weights)} · input {human_bytes(m.input)} · "
        f"output {human_bytes(m.output)} · total {human_bytes(m.total)}"
    )


def memory_detail(report: Report) -> str:
    m = report.measures.memory
    return f"weights in {m.variable_dtype}, activations in {m.compute_dtype}; {batch_text(m.batch, m.batch_known)}"


def pads_text(g: AxisGeometry) -> str:
    """Forward convs: `before+after` padding."""
    return f"{g.pad_before}+{g.pad_after}"


def kernel_text(g: AxisGeometry) -> str:
    """`3`, or `3 d2→5` when dilated."""
    return str(g.kernel) if g.dilation == 1 else f"{g.kernel} d{g.dilation}→{g.effective_kernel}"


def jump_text(g: AxisGeometry) -> str:
    return f"1/{g.stride}" if isinstance(g.jump, float) else str(g.jump)


def geometry_header(transposed: bool) -> list[str]:
    middle = ["out pad", "scatter", "crop"] if transposed else ["pad", "unread"]
    return ["axis", "in", "kernel", "stride", "padding", *middle, "out", "field", "jump"]


def geometry_row(g: AxisGeometry) -> list[str]:
    """One axis' cells, in geometry_header's order."""
    if g.transposed:
        op = "-" if g.output_padding is None else str(g.output_padding)
        middle = [op, str(g.scatter_length), f"{g.crop_before}+{g.crop_after}"]
        if g.extra_after:
            middle[-1] += f", +{g.extra_after} after"
    else:
        middle = [pads_text(g), str(g.unread_trailing)]
    return [g.axis, str(g.input), kernel_text(g), str(g.stride), g.padding, *middle,
            str(g.output), str(g.receptive_field), jump_text(g)]  # fmt: skip


def geometry_formula(g: AxisGeometry) -> str:
    """How the output length comes about, with the numbers put in."""
    ke = g.effective_kernel
    head = f"{g.axis}: "
    if ke != g.kernel:
        head += f"effective kernel {g.dilation}·({g.kernel}−1)+1 = {ke}; "
    if g.transposed:
        text = f"scatter (n−1)·s+ke = ({g.input}−1)·{g.stride}+{ke} = {g.scatter_length}"
        if g.crop_before or g.crop_after:
            text += f", cropped {g.crop_before} before and {g.crop_after} after"
        if g.extra_after:
            text += f", extended by {g.extra_after} after (those cells get only the bias)"
        op = "unset" if g.output_padding is None else str(g.output_padding)
        return head + text + f" → {g.output} (padding {g.padding}, output_padding {op})"
    if g.padding == "valid":
        text = f"⌊(n−ke)/s⌋+1 = ⌊({g.input}−{ke})/{g.stride}⌋+1 = {g.output}"
    else:
        text = f"⌈n/s⌉ = ⌈{g.input}/{g.stride}⌉ = {g.output}"
        if g.padding == "causal":
            text += f", all {g.pad_before} padding cells before"
        elif g.pad_before != g.pad_after:
            text += f", padding {g.pad_before} before and {g.pad_after} after (the odd cell goes after)"
        else:
            text += f", padding {g.pad_before} on each side"
    if g.unread_trailing:
        text += f"; the last {g.unread_trailing} input cell(s) are never read"
    return head + text


def conversion_steps(layout: Layout, sep: str = ", ") -> list[str]:
    """The NumPy calls that turn the Keras array into PyTorch's (none for a bias)."""
    steps = []
    if layout.reshape is not None:
        steps.append(".reshape(" + sep.join(str(d) for d in layout.reshape) + ")")
    if list(layout.transpose) != list(range(len(layout.transpose))):
        steps.append(".transpose(" + sep.join(str(a) for a in layout.transpose) + ")")
    return steps


def conversion_text(layout: Layout) -> str:
    """`w.reshape(3, 3, 1, 6).transpose(3, 2, 0, 1)`; `w` when nothing changes."""
    return "w" + "".join(conversion_steps(layout))


def module_text(layout: Layout) -> str:
    """`torch.nn.Conv2d(1, 32, kernel_size=(3, 3), ...)`, or why padding needs a manual step."""
    m = layout.torch_module
    if m is None:
        return ""
    args = [str(m["in_channels"]), str(m["out_channels"]), f"kernel_size={tuple_text(m['kernel_size'])}"]
    for key in ("stride", "dilation"):
        if any(v != 1 for v in m[key]):
            args.append(f"{key}={tuple_text(m[key])}")
    if m.get("padding"):
        if any(m["padding"]):
            args.append(f"padding={tuple_text(m['padding'])}")
    if m.get("output_padding") and any(m["output_padding"]):
        args.append(f"output_padding={tuple_text(m['output_padding'])}")
    if m["groups"] != 1:
        args.append(f"groups={m['groups']}")
    if not m["bias"]:
        args.append("bias=False")
    text = f"{m['class']}({', '.join(args)})"
    if "padding" in m and m["padding"] is None:
        how = "crop its output" if "output_padding" in m else "F.pad its input"
        text += f"; Keras pads asymmetrically here, so {how} as the geometry says"
    return text


def tuple_text(values: Sequence[int | None]) -> str:
    return "(" + ", ".join(str(v) for v in values) + ("," if len(values) == 1 else "") + ")"


# What can change how a table cell renders: HTML (a tag opens with <), emphasis, strikethrough, the
# cell's edge, a link's `](`, a backslash before punctuation. A code span, an underscore inside a word
# (`output_shape`), `#`, `>`, a bracket alone, or `\x1b` (inert's escape) mean nothing harmful there.
_MD_SPECIAL = re.compile(r"[*<~|]|\\(?=[!-/:-@\[-`{-~])|(?<=\])\(|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def md_text(text: str) -> str:
    """Untrusted text in a Markdown table cell, shown as typed: what Markdown or HTML would act on is
    backslash-escaped."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(), inert(text))


def md_code(text: str) -> str:
    """A Markdown code span that holds any text: fenced by one more backtick than the text's longest run."""
    import re

    text = inert(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def report_summary(report: Report) -> str:
    """`Conv2D 'conv2d': output (2, 28, 28, 64), 1,664 params, 2,508,800 MACs, checks passed`."""
    text = (
        f"{report.class_name} '{inert(report.name)}': output {shape_text(report.output_shape)}, "
        f"{thousands(report.params.total)} params, {thousands(report.measures.cost.macs)} MACs"
    )
    if report.checks:
        failed = sum(1 for c in report.checks if not c.ok)
        text += f", {failed} of {len(report.checks)} checks failed" if failed else ", checks passed"
    if not report.runtime.runs:
        text += f", does not run on the {report.runtime.device} ({report.runtime.rule})"
    return text
