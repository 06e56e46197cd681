"""Where each kernel tap lands, per spatial axis, as TensorFlow runs the layer.

Forward convs (conv, depthwise, separable): TensorFlow's `same` padding totals
max((out-1)*s + ke - n, 0) and puts the odd pixel after; Keras' `causal` pads
ke-1 before and nothing after. Output o then reads padded positions
o*s + j*d for j < k.

Transposed convs run as the gradient of a forward conv from the output back to
the input: input i scatters its kernel onto positions i*s + j*d of a "scatter"
of length (n-1)*s + ke, which is cropped (at the start by the forward conv's
`pad_before`, the rest at the end) or, when the output is longer, extended at
the end with positions no input reaches (they get only the bias).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from convinspect.core.layer.config import LayerConfig
from convinspect.core.vocab.choices import Padding
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput


def effective_kernel(k: int, d: int) -> int:
    """Kernel extent once dilated: d·(k−1)+1."""
    return d * (k - 1) + 1


@dataclass(frozen=True)
class AxisGeometry:
    axis: str  # width, height or depth
    input: int
    kernel: int
    dilation: int
    stride: int
    padding: str
    output: int
    transposed: bool = False
    pad_before: int = 0  # forward convs
    pad_after: int = 0
    output_padding: int | None = None  # transposed convs
    crop_before: int = 0
    crop_after: int = 0
    extra_after: int = 0

    @property
    def effective_kernel(self) -> int:
        return effective_kernel(self.kernel, self.dilation)

    @property
    def scatter_length(self) -> int:
        """Transposed convs: the extent input cells scatter onto, before cropping."""
        return (self.input - 1) * self.stride + self.effective_kernel

    @property
    def unread_trailing(self) -> int:
        """Forward convs: input cells after the last window, which no output reads."""
        if self.transposed:
            return 0
        last = (self.output - 1) * self.stride + self.effective_kernel - self.pad_before  # one past the last tap
        return max(self.input - last, 0)

    @property
    def receptive_field(self) -> int:
        """Input cells one output depends on (their span)."""
        if self.transposed:
            return (self.effective_kernel - 1) // self.stride + 1
        return self.effective_kernel

    @property
    def jump(self) -> int | float:
        """Input cells between neighbouring outputs' fields (1/stride for transposed convs)."""
        return 1 / self.stride if self.transposed and self.stride > 1 else self.stride

    def taps(self, index: int) -> range:
        """Forward: the input positions output `index` reads (negative or >= input: padding).

        Transposed: the output positions input `index` writes (outside [0, output): cropped).
        A range, so a kernel of any size costs nothing to ask about.
        """
        start = index * self.stride - (self.crop_before if self.transposed else self.pad_before)
        return range(start, start + self.kernel * self.dilation, self.dilation)

    def touched(self, position: int) -> bool:
        """Forward: whether some output reads input `position`. Transposed: whether some input writes
        output `position` (the others get only the bias). A stride longer than the kernel skips cells."""
        count = self.input if self.transposed else self.output
        start = position + (self.crop_before if self.transposed else self.pad_before)
        for j in range(min(self.kernel, 1 + start // max(self.dilation, 1)) if start >= 0 else 0):
            offset = start - j * self.dilation
            if offset % self.stride == 0 and 0 <= offset // self.stride < count:
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "axis": self.axis,
            "input": self.input,
            "kernel": self.kernel,
            "dilation": self.dilation,
            "effective_kernel": self.effective_kernel,
            "stride": self.stride,
            "padding": str(self.padding),
            "output": self.output,
        }
        if self.transposed:
            out |= {
                "output_padding": self.output_padding,
                "scatter_length": self.scatter_length,
                "crop_before": self.crop_before,
                "crop_after": self.crop_after,
                "extra_after": self.extra_after,
            }
        else:
            out |= {"pad_before": self.pad_before, "pad_after": self.pad_after, "unread_trailing": self.unread_trailing}
        out |= {"receptive_field": self.receptive_field, "jump": self.jump}
        return out


def forward_pads(n: int, out: int, ke: int, s: int, padding: str) -> tuple[int, int]:
    """(before, after) padding of a forward conv."""
    if padding == Padding.VALID:
        return 0, 0
    if padding == Padding.CAUSAL:
        return ke - 1, 0
    total = max((out - 1) * s + ke - n, 0)
    return total // 2, total - total // 2


def axis_geometry(
    axis: str, n: int, out: int, k: int, s: int, d: int, padding: str,
    transposed: bool = False, output_padding: int | None = None,
) -> AxisGeometry:  # fmt: skip
    ke = effective_kernel(k, d)
    if not transposed:
        before, after = forward_pads(n, out, ke, s, padding)
        return AxisGeometry(axis, n, k, d, s, padding, out, pad_before=before, pad_after=after)
    scatter = (n - 1) * s + ke
    # The forward conv this one is the gradient of maps `out` back to `n`.
    before = forward_pads(out, n, ke, s, padding)[0]
    rest = scatter - before - out
    return AxisGeometry(
        axis, n, k, d, s, padding, out, transposed=True, output_padding=output_padding,
        crop_before=before, crop_after=max(rest, 0), extra_after=max(-rest, 0),
    )  # fmt: skip


def layer_geometry(
    transposed: bool,
    axes: tuple[str, ...],
    in_spatial: tuple[int, ...],
    out_spatial: tuple[int, ...],
    config: LayerConfig,
) -> tuple[AxisGeometry, ...]:
    """One AxisGeometry per spatial axis."""
    ops = config.output_padding or (None,) * len(axes)
    return tuple(
        axis_geometry(axis, n, out, k, s, d, config.padding, transposed, op)
        for axis, n, out, k, s, d, op in zip(
            axes, in_spatial, out_spatial, config.kernel_size, config.strides, config.dilation_rate, ops
        )
    )


def figure_axes(geometry: Sequence[AxisGeometry]) -> Sequence[AxisGeometry]:
    """The axes a figure draws: a 2D layer's two, a 1D layer's one, a 3D layer's first two."""
    return geometry[:2]


def parse_cell(raw: object, geometry: Sequence[AxisGeometry]) -> tuple[int, ...]:
    """`--at i,j`: the cell a figure follows, an output cell of a forward conv or an input cell of a
    transposed one, one index per drawn axis, each within its range."""
    axes = figure_axes(geometry)
    what = "input" if axes[0].transposed else "output"
    counts = [g.input if g.transposed else g.output for g in axes]
    allowed = ", ".join(f"0..{n - 1} ({g.axis})" for n, g in zip(counts, axes, strict=True))
    parts = [p.strip() for p in str(raw).split(",")]
    values = [int(p) if p.isascii() and p.lstrip("-").isdigit() and len(p) < 20 else None for p in parts]
    if len(values) != len(axes) or any(v is None or not 0 <= v < n for v, n in zip(values, counts, strict=False)):
        raise InvalidInput(f"an {what} cell, {len(axes)} index(es) in {allowed}; got {shown(raw)}", "at")
    return tuple(v for v in values if v is not None)
