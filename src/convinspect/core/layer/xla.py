"""The one layer Keras accepts that XLA's CPU compiler aborts on: a transposed conv on the JAX backend.

Keras' JAX backend runs ConvNDTranspose as `jax.lax.conv_transpose`: the input dilated by the
strides, padded by (low, high) on each axis, then a plain convolution with the flipped kernel
(keras/src/backend/common/backend_utils.py gives the padding; `jax_padding` below is that rule).
XLA's algebraic simplifier may swap a convolution's two operands when the kernel is the larger
of the two. An axis whose stride equals its window with no padding (a kernel of 2, stride 2,
padding='same' and output_padding 0 on it) it keeps as it is, and the swapped convolution it then
builds does not match its own operand: XLA checks it, fails, and aborts the whole process
(SIGABRT, "Window dimensions do not match RHS shape").

Found by the cross-backend property test on CI (jax 0.10.2, Keras 3.15); the rule below was fitted
on 6,500 probed configurations, held equal to every one of them, and is checked again by
tests/integration/test_xla_abort.py on the machine that runs the suite (docs/conventions.md, "Known crashes").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from convinspect.core.layer.geometry import effective_kernel
from convinspect.core.layer.runtime import Rule, Runtime
from convinspect.core.layer.spec import LayerSpec

SEEN = "SIGABRT in XLA's algebraic simplifier, jax 0.10.2 on the CPU"


def jax_padding(kernel: int, stride: int, padding: str, output_padding: int | None) -> tuple[int, int]:
    """(low, high) padding of the dilated input on one axis, as Keras' JAX backend computes it."""
    if padding == "valid":
        extra = max(kernel, stride) - kernel if output_padding is None else output_padding
        return kernel - 1, kernel - 1 + extra
    total = stride + kernel - 2 if output_padding is None else kernel + kernel % 2 - 2 + output_padding
    low = min(total // 2 + total % 2, kernel - 1)
    return low, total - low


@dataclass(frozen=True)
class _Axis:
    size: int  # the input's
    kernel: int  # effective (dilated) kernel
    stride: int
    dilation: int
    low: int
    high: int

    @property
    def kept(self) -> bool:
        """An axis the simplifier keeps unswapped: stride equal to the window, unpadded, a longer input."""
        unpadded = self.low == self.high == 0 and self.dilation == 1
        return unpadded and self.stride == self.kernel > 1 and self.size > self.kernel

    @property
    def neutral(self) -> bool:
        """An axis that weighs on neither side of the swap: a full contraction, or one cell fully padded."""
        contraction = self.stride == 1 and self.low == self.high == 0 and self.dilation == 1
        one_cell = self.size == 1 and self.low == self.high == self.kernel - 1
        return (contraction and self.size == self.kernel) or one_cell


def _axes(spec: LayerSpec) -> list[_Axis]:
    c = spec.config
    ops = c.output_padding or (None,) * spec.kind.rank
    out = []
    for n, k, s, d, op in zip(spec.spatial, c.kernel_size, c.strides, c.dilation_rate, ops):
        ke = effective_kernel(k, d)
        out.append(_Axis(n, ke, s, d, *jax_padding(ke, s, c.padding, op)))
    return out


def aborts(spec: LayerSpec) -> bool:
    """Whether XLA's CPU compiler aborts the process on this valid layer's forward pass (JAX backend)."""
    if not spec.kind.recipe.transposed:
        return False
    axes = _axes(spec)
    if not any(a.kept for a in axes):
        return False
    rest = [a for a in axes if not a.kept and not a.neutral]
    return math.prod(a.kernel for a in rest) > math.prod(a.size for a in rest)


def abort_predicted() -> Runtime:
    """The Keras engine's verdict on such a layer: it is not run, since running it ends the process."""
    reason = (
        "XLA's CPU compiler aborts the process on this layer (a kernel of 2, stride 2 and no padding on one "
        f"axis, a kernel larger than the input on the others; {SEEN})"
    )
    return Runtime(runs=False, observed=False, rule=Rule.CRASH, reason=reason, backend="jax")
