"""How the Keras engine calls the layer: eager on a dummy array, or symbolic. Policy only, no TensorFlow."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from convinspect.core.layer.geometry import effective_kernel, forward_pads
from convinspect.core.layer.spec import LayerSpec
from convinspect.core.vocab.choices import Choice, Forward
from convinspect.core.vocab.dtypes import ITEMSIZE
from convinspect.core.vocab.units import human_bytes
from convinspect.errors import InvalidInput

DEFAULT_BUDGET = 256 * 2**20  # activation bytes an automatic eager pass may take


class Reason(Choice):
    """Why the forward pass was run the way it was."""

    BATCH_UNKNOWN = "batch_unknown"  # an unknown batch can only be symbolic
    ASKED = "asked"  # --forward eager or symbolic
    WITHIN_BUDGET = "within_budget"  # auto: activations fit the budget
    OVER_BUDGET = "over_budget"  # auto: activations would not fit


@dataclass(frozen=True)
class ForwardChoice:
    mode: Forward  # EAGER or SYMBOLIC
    asked: Forward
    reason: Reason
    activation_bytes: int | None  # what an eager pass allocates (see eager_bytes); None when the batch is unknown
    budget: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": str(self.mode),
            "asked": str(self.asked),
            "reason": str(self.reason),
            "activation_bytes": self.activation_bytes,
            "budget": self.budget,
        }


def eager_bytes(input_elements: int, output_elements: int, compute_dtype: str) -> int:
    """What an eager pass on a dummy input allocates, as measured with RSS on TensorFlow's CPU kernels:
    the dummy input (drawn in float32, then cast) and TensorFlow's copy of it; the conv's result
    (float32 inside even for 16-bit layers) and a second output-sized buffer (bias add or cast)."""
    item = ITEMSIZE[compute_dtype]
    staging = 0 if compute_dtype == "float32" else ITEMSIZE["float32"]
    return input_elements * (staging + 2 * item) + output_elements * 2 * max(item, ITEMSIZE["float32"])


def dilated_staging(spec: LayerSpec, input_shape: tuple[int | None, ...], output_shape: tuple[int | None, ...]) -> int:
    """Elements TensorFlow stages for a dilated forward conv: it runs one through space_to_batch,
    which pads each spatial axis (with the conv's own padding) up to a multiple of the dilation. A
    dilation of 10^8 turns an input of 3 cells into 10^8: that is what an eager pass allocates."""
    c = spec.config
    if spec.kind.recipe.transposed or max(c.dilation_rate) == 1:
        return 0
    cells = 1
    spatial = zip(spec.data_format.spatial(input_shape), spec.data_format.spatial(output_shape), c.kernel_size,
                  c.strides, c.dilation_rate)  # fmt: skip
    for n, out, k, s, d in spatial:
        before, after = forward_pads(n, out, effective_kernel(k, d), s, c.padding)
        cells *= -(-(n + before + after) // d) * d
    return (input_shape[0] or 1) * spec.channels * cells


def pass_bytes(spec: LayerSpec, input_shape: tuple[int | None, ...], output_shape: tuple[int | None, ...]) -> int:
    """What an eager pass of `spec` on `input_shape` allocates (an unknown batch counts one): its
    activations (eager_bytes), and twice the staging of a dilated conv (the padded input, regrouped)."""
    elements = math.prod(1 if d is None else d for d in input_shape)
    out = math.prod(1 if d is None else d for d in output_shape)
    staged = dilated_staging(spec, input_shape, output_shape)
    return eager_bytes(elements, out, spec.compute_dtype) + 2 * staged * max(ITEMSIZE[spec.compute_dtype], 4)


def choose_forward(spec: LayerSpec, output_shape: tuple[int | None, ...], asked: Forward, budget: int) -> ForwardChoice:
    """Eager or symbolic, keeping an automatic eager pass's activations within `budget` bytes."""
    if spec.batch is None:
        if asked is Forward.EAGER:
            raise InvalidInput("an eager forward pass needs a known batch size; got '?'", "forward")
        return ForwardChoice(Forward.SYMBOLIC, asked, Reason.BATCH_UNKNOWN, None, budget)
    need = pass_bytes(spec, spec.input_shape, output_shape)
    if asked is Forward.SYMBOLIC:
        return ForwardChoice(Forward.SYMBOLIC, asked, Reason.ASKED, need, budget)
    if asked is Forward.EAGER:
        if need > budget:
            raise InvalidInput(
                f"an eager forward pass would allocate {human_bytes(need)} (input, output and TensorFlow's copies), "
                f"over the budget of {human_bytes(budget)}; raise --budget or use --forward symbolic",
                "forward",
            )
        return ForwardChoice(Forward.EAGER, asked, Reason.ASKED, need, budget)
    if need <= budget:
        return ForwardChoice(Forward.EAGER, asked, Reason.WITHIN_BUDGET, need, budget)
    return ForwardChoice(Forward.SYMBOLIC, asked, Reason.OVER_BUDGET, need, budget)
