"""The four families of Keras conv layers, each with everything that sets it apart.

Keras keeps each family's variable shapes next to its output-shape rule
(keras/src/layers/convolutional/base_conv.py, base_conv_transpose.py,
base_depthwise_conv.py, base_separable_conv.py). So does this module: one recipe
per family owns its options and their defaults, Keras' rules for it, its output
length, the variables build() creates, the cost terms and the PyTorch layout.
Every other module asks the recipe; none tests the family by name.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from convinspect.core.layer.config import LayerConfig
from convinspect.core.layer.cost import CostPart
from convinspect.core.layer.geometry import effective_kernel
from convinspect.core.layer.layouts import Layout, kernel_axes, kernel_layout, torch_module
from convinspect.core.layer.runtime import KernelSet, Rule
from convinspect.core.vocab.choices import Choice, DataFormat, Padding
from convinspect.errors import InvalidInput


class Family(Choice):
    CONV = "conv"
    TRANSPOSE = "transpose"
    DEPTHWISE = "depthwise"
    SEPARABLE = "separable"


# Keras' constructor defaults (the same in every family that takes the option).
DEFAULTS: dict[str, Any] = {
    "strides": 1, "padding": "valid", "dilation": 1, "groups": 1, "depth_multiplier": 1,
    "output_padding": None, "data_format": "channels_last", "activation": "linear",
    "use_bias": True, "dtype": "float32",
}  # fmt: skip
COMMON_OPTIONS = frozenset(
    {"kernel", "strides", "padding", "dilation", "data_format", "activation", "use_bias", "dtype"}
)


def conv_length(n: int, k: int, s: int, d: int, padding: str) -> int:
    """Output length of a forward conv along one axis (may be <= 0 for valid)."""
    if padding == Padding.VALID:
        return (n - effective_kernel(k, d)) // s + 1
    return (n - 1) // s + 1  # same and causal: ceil(n / s)


def transpose_length(n: int, k: int, s: int, d: int, padding: str, output_padding: int | None) -> int:
    """Output length of a transposed conv along one axis."""
    ke = effective_kernel(k, d)
    if padding == Padding.VALID:
        extra = max(ke, s) - ke if output_padding is None else output_padding
        return (n - 1) * s + ke + extra
    if output_padding is None:
        return n * s
    return (n - 1) * s + ke % 2 + output_padding


Shapes = Mapping[str, tuple[int, ...]]


class Recipe(ABC):
    """What every family shares; each subclass adds or overrides its own part."""

    family: ClassVar[Family]
    own_options: ClassVar[frozenset[str]]
    required: ClassVar[tuple[str, ...]]
    transposed: ClassVar[bool] = False
    # Keras refuses strides > 1 together with dilation > 1, except where it decomposes the op.
    forbids_strided_dilation: ClassVar[bool] = True
    bias_axis: ClassVar[str] = "filters"  # the layout label of the bias

    @functools.cached_property
    def options(self) -> frozenset[str]:
        return COMMON_OPTIONS | self.own_options

    @functools.cached_property
    def defaults(self) -> dict[str, Any]:
        return {option: value for option, value in DEFAULTS.items() if option in self.options}

    def paddings(self, rank: int) -> tuple[Padding, ...]:
        return (Padding.VALID, Padding.SAME)

    def check(self, config: LayerConfig, channels: int, input_shape: tuple[int | None, ...]) -> None:
        """Raise InvalidInput for every config Keras rejects, naming the rule Keras names first:
        the family's constructor rules, then strides with dilation, then build()'s rules."""
        self.check_arguments(config)
        if self.forbids_strided_dilation and max(config.strides) > 1 and max(config.dilation_rate) > 1:
            raise InvalidInput(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={config.strides} and dilation_rate={config.dilation_rate}",
                rule="strided_dilation",
            )
        self.check_input(config, channels, input_shape)

    def check_arguments(self, config: LayerConfig) -> None:
        """The family's own constructor rules (none, for most families)."""
        return None

    def check_input(self, config: LayerConfig, channels: int, input_shape: tuple[int | None, ...]) -> None:
        """The family's build() rules, which need the input (none, for most families)."""
        return None

    def cpu_rule(self, config: LayerConfig, rank: int, kernels: KernelSet) -> Rule | None:
        """The rule (core/layer/runtime.py) that keeps TensorFlow's CPU kernel set `kernels` from running a
        layer Keras accepts, or None when it runs."""
        return None

    def output_length(self, n: int, k: int, s: int, d: int, padding: str, output_padding: int | None) -> int:
        return conv_length(n, k, s, d, padding)

    def output_channels(self, config: LayerConfig, channels: int) -> int:
        assert config.filters is not None
        return config.filters

    @abstractmethod
    def kernels(self, config: LayerConfig, channels: int, rank: int) -> list[tuple[str, tuple[int, ...]]]:
        """(name, shape) of each kernel build() creates, in Keras' order."""

    def variables(self, config: LayerConfig, channels: int, rank: int) -> list[tuple[str, tuple[int, ...]]]:
        """(name, shape) of each variable build() creates, in Keras' order."""
        shapes = self.kernels(config, channels, rank)
        if config.use_bias:
            shapes.append(("bias", (self.output_channels(config, channels),)))
        return shapes

    @abstractmethod
    def cost_parts(
        self, positions: int, inputs: int, out_channels: int, kernels: Shapes, bias_adds: int
    ) -> list[CostPart]:
        """MACs per convolution inside the layer; `positions` are output positions, `inputs` input elements."""

    @abstractmethod
    def layouts(
        self, rank: int, kernels: Shapes, config: LayerConfig, padding: dict[str, Any], use_bias: bool
    ) -> list[Layout]:
        """The kernel layouts (the bias is the same vector in both frameworks)."""


class ConvRecipe(Recipe):
    """Conv1D/2D/3D: kernel (k..., in/groups, filters)."""

    family = Family.CONV
    own_options = frozenset({"filters", "groups"})
    required = ("filters", "kernel")

    def paddings(self, rank: int) -> tuple[Padding, ...]:
        # Keras allows causal padding on Conv1D only.
        return (Padding.VALID, Padding.SAME, Padding.CAUSAL) if rank == 1 else (Padding.VALID, Padding.SAME)

    def check_arguments(self, config: LayerConfig) -> None:
        assert config.filters is not None and config.groups is not None
        if config.filters % config.groups:
            raise InvalidInput(
                "The number of filters must be evenly divisible by the number of groups. "
                f"Received: groups={config.groups}, filters={config.filters}.",
                rule="groups_filters",
            )

    def check_input(self, config: LayerConfig, channels: int, input_shape: tuple[int | None, ...]) -> None:
        assert config.groups is not None
        if channels % config.groups:
            raise InvalidInput(
                "The number of input channels must be evenly divisible by the number of "
                f"groups. Received groups={config.groups}, but the input has {channels} "
                f"channels (full input shape is {input_shape}).",
                rule="groups_channels",
            )

    def cpu_rule(self, config: LayerConfig, rank: int, kernels: KernelSet) -> Rule | None:
        # Keras sends grouped and 3D channels_first convs through XLA, which runs them.
        plain = kernels is KernelSet.PLAIN
        if plain and config.data_format == DataFormat.CHANNELS_FIRST and rank in (1, 2) and config.groups == 1:
            return Rule.NCHW_CPU
        return None

    def kernels(self, config: LayerConfig, channels: int, rank: int) -> list[tuple[str, tuple[int, ...]]]:
        assert config.groups is not None and config.filters is not None
        return [("kernel", (*config.kernel_size, channels // config.groups, config.filters))]

    def cost_parts(
        self, positions: int, inputs: int, out_channels: int, kernels: Shapes, bias_adds: int
    ) -> list[CostPart]:
        # each output reads k... × in/groups
        return [CostPart("conv", positions * out_channels * math.prod(kernels["kernel"][:-1]), bias_adds)]

    def layouts(
        self, rank: int, kernels: Shapes, config: LayerConfig, padding: dict[str, Any], use_bias: bool
    ) -> list[Layout]:
        k, groups = kernels["kernel"], config.groups or 1
        module = torch_module("Conv", rank, k[-2] * groups, k[-1], config, groups=groups, bias=use_bias, **padding)
        return [kernel_layout("kernel", k, kernel_axes(rank, "in/groups", "filters"), module)]


class TransposeRecipe(Recipe):
    """Conv1D/2D/3DTranspose: kernel (k..., filters, in); each input element scatters its kernel."""

    family = Family.TRANSPOSE
    own_options = frozenset({"filters", "output_padding"})
    required = ("filters", "kernel")
    transposed = True

    def check_arguments(self, config: LayerConfig) -> None:
        for axis, (op, s) in enumerate(zip(config.output_padding or (), config.strides)):
            if op >= s:
                raise InvalidInput(
                    "`output_padding` must be strictly less than `strides` for all "
                    f"dimensions. At dimension {axis}, `output_padding` is {op} but "
                    f"`strides` is {s}.",
                    rule="output_padding",
                )

    def cpu_rule(self, config: LayerConfig, rank: int, kernels: KernelSet) -> Rule | None:
        plain = kernels is KernelSet.PLAIN
        if plain and config.data_format == DataFormat.CHANNELS_FIRST:
            return Rule.TRANSPOSE_NCHW_CPU
        if plain and max(config.dilation_rate) > 1:
            return Rule.TRANSPOSE_DILATION_CPU
        # With `same`, an even effective kernel and output_padding 0, the output (in-1)·s is too short
        # for its `same` conv to give the input back: Conv*DBackpropInput refuses it, on both kernel sets.
        if config.output_padding is not None:
            for k, d, op in zip(config.kernel_size, config.dilation_rate, config.output_padding):
                if too_short_to_map_back(config.padding, k, d, op):
                    return Rule.TRANSPOSE_SAME_EVEN_KERNEL
        return None

    def output_length(self, n: int, k: int, s: int, d: int, padding: str, output_padding: int | None) -> int:
        return transpose_length(n, k, s, d, padding, output_padding)

    def kernels(self, config: LayerConfig, channels: int, rank: int) -> list[tuple[str, tuple[int, ...]]]:
        assert config.filters is not None
        return [("kernel", (*config.kernel_size, config.filters, channels))]

    def cost_parts(
        self, positions: int, inputs: int, out_channels: int, kernels: Shapes, bias_adds: int
    ) -> list[CostPart]:
        # each input element scatters k... × filters
        return [CostPart("transpose", inputs * math.prod(kernels["kernel"][:-1]), bias_adds)]

    def layouts(
        self, rank: int, kernels: Shapes, config: LayerConfig, padding: dict[str, Any], use_bias: bool
    ) -> list[Layout]:
        k = kernels["kernel"]
        module = torch_module("ConvTranspose", rank, k[-1], k[-2], config, groups=1, bias=use_bias, **padding)
        return [kernel_layout("kernel", k, kernel_axes(rank, "filters", "in"), module)]


class DepthwiseRecipe(Recipe):
    """DepthwiseConv1D/2D: kernel (k..., in, multiplier); each channel convolved on its own."""

    family = Family.DEPTHWISE
    own_options = frozenset({"depth_multiplier"})
    required: ClassVar[tuple[str, ...]] = ("kernel",)
    forbids_strided_dilation = False
    bias_axis = "in*mult"
    kernel_name: ClassVar[str] = "kernel"  # Keras 3 names a depthwise layer's kernel `kernel`

    def cpu_rule(self, config: LayerConfig, rank: int, kernels: KernelSet) -> Rule | None:
        # 1D layers become 2D ones with strides (s, s); strides with dilation are decomposed by Keras.
        plain = kernels is KernelSet.PLAIN
        unequal = rank == 2 and config.strides[0] != config.strides[1] and max(config.dilation_rate) == 1
        return Rule.UNEQUAL_STRIDES if plain and unequal else None

    def output_channels(self, config: LayerConfig, channels: int) -> int:
        assert config.depth_multiplier is not None
        return channels * config.depth_multiplier

    def kernels(self, config: LayerConfig, channels: int, rank: int) -> list[tuple[str, tuple[int, ...]]]:
        assert config.depth_multiplier is not None
        return [(self.kernel_name, (*config.kernel_size, channels, config.depth_multiplier))]

    def cost_parts(
        self, positions: int, inputs: int, out_channels: int, kernels: Shapes, bias_adds: int
    ) -> list[CostPart]:
        # each output reads k... of one channel
        return [CostPart("depthwise", positions * out_channels * math.prod(kernels[self.kernel_name][:-2]), bias_adds)]

    def layouts(
        self, rank: int, kernels: Shapes, config: LayerConfig, padding: dict[str, Any], use_bias: bool
    ) -> list[Layout]:
        return [self._depthwise_layout(rank, kernels[self.kernel_name], config, padding, use_bias)]

    def _depthwise_layout(
        self, rank: int, k: tuple[int, ...], config: LayerConfig, padding: dict[str, Any], bias: bool
    ) -> Layout:
        """(k..., in, mult) reshaped to (k..., 1, in*mult): a Conv{r}d with groups=in.
        Keras' output channel c*mult + m is PyTorch's too, so a plain reshape keeps the order."""
        channels, multiplier = k[-2], k[-1]
        module = torch_module("Conv", rank, channels, channels * multiplier, config, groups=channels, bias=bias,
                              **padding)  # fmt: skip
        fold = ((*k[:-2], 1, channels * multiplier), kernel_axes(rank, "1", "in*mult"))
        return kernel_layout(self.kernel_name, k, kernel_axes(rank, "in", "mult"), module, fold)


class SeparableRecipe(DepthwiseRecipe):
    """SeparableConv1D/2D: a depthwise kernel, then a 1×1 pointwise conv (k=1, in*mult → filters)."""

    family = Family.SEPARABLE
    own_options = frozenset({"filters", "depth_multiplier"})
    required = ("filters", "kernel")
    bias_axis = "filters"
    kernel_name = "depthwise_kernel"

    def output_channels(self, config: LayerConfig, channels: int) -> int:
        return Recipe.output_channels(self, config, channels)

    def kernels(self, config: LayerConfig, channels: int, rank: int) -> list[tuple[str, tuple[int, ...]]]:
        assert config.depth_multiplier is not None and config.filters is not None
        middle = channels * config.depth_multiplier
        return [
            *super().kernels(config, channels, rank),
            ("pointwise_kernel", ((1,) * rank) + (middle, config.filters)),
        ]

    def cost_parts(
        self, positions: int, inputs: int, out_channels: int, kernels: Shapes, bias_adds: int
    ) -> list[CostPart]:
        # the bias follows the pointwise part
        depthwise = kernels["depthwise_kernel"]
        middle = depthwise[-2] * depthwise[-1]
        return [
            CostPart("depthwise", positions * middle * math.prod(depthwise[:-2]), 0),
            CostPart("pointwise", positions * out_channels * middle, bias_adds),
        ]

    def layouts(
        self, rank: int, kernels: Shapes, config: LayerConfig, padding: dict[str, Any], use_bias: bool
    ) -> list[Layout]:
        p = kernels["pointwise_kernel"]
        pointwise = torch_module("Conv", rank, p[-2], p[-1], None, groups=1, bias=use_bias, padding=[0] * rank)
        return [
            self._depthwise_layout(rank, kernels[self.kernel_name], config, padding, False),
            kernel_layout("pointwise_kernel", p, ("1",) * rank + ("in*mult", "filters"), pointwise),
        ]


RECIPES: dict[Family, Recipe] = {
    recipe.family: recipe for recipe in (ConvRecipe(), TransposeRecipe(), DepthwiseRecipe(), SeparableRecipe())
}


def too_short_to_map_back(padding: str, k: int, d: int, output_padding: int | None) -> bool:
    """A transposed axis with `same`, an even effective kernel and output_padding 0: its output (in-1)·s
    is too short for its `same` conv to give the input back, and Conv*DBackpropInput refuses it on both
    kernel sets (Keras accepts it)."""
    return padding == Padding.SAME and output_padding == 0 and effective_kernel(k, d) % 2 == 0
