"""Normalisation and per-channel scales: BatchNormalization, LayerNormalization, RMSNormalization,
Normalization, PReLU, LayerScale. Their variables are counted; their arithmetic is not (no MACs)."""

from __future__ import annotations

from collections.abc import Sequence

from convinspect.core.layer.variables import Variable
from convinspect.core.model.rules.common import Config, Shape, Unsizable, axes_of, policy_of, shape_repr, variable_dtype
from convinspect.core.model.rules.registry import Sized, identity_windows, rule
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput


def _known(shape: Shape, axes: Sequence[int], name: str) -> tuple[int, ...]:
    dims = tuple(shape[a] for a in axes)
    if any(d is None for d in dims):
        raise InvalidInput(f"layer {shown(name)}: the normalised axis of {shape_repr(shape)} must be known")
    return dims  # type: ignore[return-value]


@rule("BatchNormalization")
def _batch_norm(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    axis = axes_of(config.get("axis", -1), len(shape), name)
    if len(axis) != 1:
        raise Unsizable(f"layer {shown(name)}: BatchNormalization over several axes; use --engine keras")
    dims = _known(shape, axis, name)
    dtype = variable_dtype(policy_of(config), name)
    weights = []
    if config.get("scale", True) is not False:
        weights.append(Variable("gamma", dims, dtype))
    if config.get("center", True) is not False:
        weights.append(Variable("beta", dims, dtype))
    names = ["moving_mean", "moving_variance"]
    if config.get("renorm"):
        names += ["moving_stddev", "renorm_mean", "renorm_stddev"]
    weights += [Variable(n, dims, dtype, False) for n in names]
    return Sized((shape,), tuple(weights), windows=identity_windows(shape))


@rule("LayerNormalization", "RMSNormalization")
def _layer_norm(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    axis = axes_of(config.get("axis", -1), len(shape), name)
    dims = _known(shape, axis, name)
    dtype = variable_dtype(policy_of(config), name)
    rms = config.get("rms_scaling", False) is True or class_name == "RMSNormalization"
    weights = []
    if config.get("scale", True) is not False or rms:
        weights.append(Variable("gamma" if class_name != "RMSNormalization" else "scale", dims, dtype))
    if config.get("center", True) is not False and not rms:
        weights.append(Variable("beta", dims, dtype))
    # Normalising over an axis mixes all of its cells.
    windows = tuple(None if a in axis else w for a, w in enumerate(identity_windows(shape)))
    return Sized((shape,), tuple(weights), windows=windows)


@rule("Normalization")
def _normalization(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    raw_axis = config.get("axis", -1)
    axis = () if raw_axis is None else axes_of(raw_axis, len(shape), name)
    dims = _known(shape, axis, name)
    weights: tuple[Variable, ...] = ()
    if config.get("mean") is None:  # statistics to be adapted live in variables; given ones are constants
        dtype = variable_dtype(policy_of(config), name)
        weights = (Variable("mean", dims, dtype, False), Variable("variance", dims, dtype, False),
                   Variable("count", (), "int64", False))  # fmt: skip
    return Sized((shape,), weights, windows=identity_windows(shape))


@rule("PReLU")
def _prelu(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    shared = config.get("shared_axes") or ()
    shared = [shared] if type(shared) is int else shared
    dims = [1 if (i + 1) in shared else d for i, d in enumerate(shape[1:])]
    if any(d is None for d in dims):
        raise InvalidInput(f"layer {shown(name)}: PReLU needs known axes, got {shape_repr(shape)}")
    weight = Variable("alpha", tuple(dims), variable_dtype(policy_of(config), name))  # type: ignore[arg-type]
    return Sized((shape,), (weight,), windows=identity_windows(shape))


@rule("LayerScale")
def _layer_scale(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    dim = config.get("projection_dim")
    if type(dim) is not int or dim < 1:
        raise InvalidInput(f"layer {shown(name)}: projection_dim is {shown(dim)}")
    weight = Variable("gamma", (dim,), variable_dtype(policy_of(config), name))
    return Sized((inputs[0],), (weight,), windows=identity_windows(inputs[0]))
