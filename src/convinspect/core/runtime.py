"""Whether the backend can run a layer Keras accepts: TensorFlow's CPU kernels refuse some.

A layer is *valid* when Keras accepts it (constructor, build, symbolic call); it *runs*
when the backend on this machine can execute the forward pass. The two differ for
float16 and float64 layers, whose CPU kernels are TensorFlow's plain ones (float32 and
bfloat16 go through oneDNN, which supports more), and for one shape rule of transposed
convs. The rules below were found by experiment on TensorFlow 2.21 / Keras 3.15 (about
14,000 configurations of the ten kinds and six dtype policies, no mismatch) and are
listed in docs/conventions.md; the Keras engine observes `runs`, the analytic engine
predicts it from these rules, and a property test holds the two equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Compute dtypes that TensorFlow runs on its plain CPU kernels (float32 and bfloat16 use oneDNN).
PLAIN_KERNEL_DTYPES = ("float16", "float64")

# rule code -> (what fails, what would work)
RULES: dict[str, tuple[str, str]] = {
    "nchw_cpu": (
        "TensorFlow's CPU Conv1D/Conv2D kernel for float16 and float64 takes channels_last (NHWC) only",
        "channels_last, float32 or bfloat16, groups > 1, or a GPU",
    ),
    "unequal_strides": (
        "TensorFlow's CPU depthwise kernel for float16 and float64 needs equal strides on both axes",
        "equal strides, float32 or bfloat16, or a GPU",
    ),
    "transpose_nchw_cpu": (
        "TensorFlow's CPU transposed-conv kernels for float16 and float64 take channels_last only",
        "channels_last, float32 or bfloat16, or a GPU",
    ),
    "transpose_dilation_cpu": (
        "TensorFlow's CPU transposed-conv kernels for float16 and float64 do not support dilation > 1",
        "dilation 1, float32 or bfloat16, or a GPU",
    ),
    "transpose_same_even_kernel": (
        "with padding='same', an even effective kernel and output_padding=0 on an axis, Keras' output is one "
        "step too short for TensorFlow to map back onto the input",
        "output_padding >= 1 on that axis, or output_padding unset",
    ),
    "tensorflow": ("TensorFlow failed to run the forward pass", "another dtype or data format, or a GPU"),
    "backend": (
        "the Keras backend failed to run the forward pass",
        "another backend (--backend), dtype or data format",
    ),
}

# TensorFlow's messages -> the rule they report (the Keras engine classifies what it observes).
_MESSAGES = (
    ("only supports the NHWC tensor format", "nchw_cpu"),
    ("equal length strides", "unequal_strides"),
    ("only supports NHWC", "transpose_nchw_cpu"),
    ("only supports NDHWC", "transpose_nchw_cpu"),
    ("dilation rates larger than 1", "transpose_dilation_cpu"),
    ("Size of out_backprop doesn't match computed", "transpose_same_even_kernel"),
    ("could not create a primitive descriptor", "transpose_same_even_kernel"),
)


@dataclass(frozen=True)
class Runtime:
    """Can the backend on this machine run the forward pass? Observed (Keras engine) or predicted."""

    runs: bool
    observed: bool
    rule: str | None = None  # why it does not run
    reason: str | None = None  # TensorFlow's own words when observed, the rule's when predicted
    backend: str = "tensorflow"
    device: str = "CPU"

    @property
    def remedy(self) -> str | None:
        return None if self.rule is None else RULES[self.rule][1]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.backend, "device": self.device, "runs": self.runs}
        if not self.runs:
            out |= {"rule": self.rule, "reason": self.reason}
        out["observed"] = self.observed
        return out


def predicted(rule: str | None) -> Runtime:
    """The analytic engine's verdict from a recipe's rule (None: it runs)."""
    if rule is None:
        return Runtime(runs=True, observed=False)
    return Runtime(runs=False, observed=False, rule=rule, reason=RULES[rule][0])


def observed_failure(message: str) -> Runtime:
    """The Keras engine's verdict from TensorFlow's error: its first line of substance, and the rule."""
    message = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", message)  # Keras styles its messages
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("Exception encountered when calling")] or [message]
    first = re.sub(r"\{\{[^}]*\}\}\s*", "", lines[0])
    first = first if len(first) <= 240 else first[:237] + "..."
    rule = next((code for phrase, code in _MESSAGES if phrase in message), "tensorflow")
    return Runtime(runs=False, observed=True, rule=rule, reason=first)
