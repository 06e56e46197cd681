"""Dense: a matrix product over the last axis."""

from __future__ import annotations

import math
from collections.abc import Sequence

from convinspect.core.layer.variables import Variable
from convinspect.core.model.rules.common import Config, Shape, policy_of, shape_repr, variable_dtype
from convinspect.core.model.rules.registry import Sized, identity_windows, rule
from convinspect.core.vocab.text import shown
from convinspect.errors import InvalidInput


@rule("Dense")
def _dense(name: str, config: Config, inputs: Sequence[Shape], class_name: str) -> Sized:
    shape = inputs[0]
    units = config.get("units")
    if type(units) is not int or units < 1:
        raise InvalidInput(f"layer {shown(name)}: units is {shown(units)}, expected a positive integer")
    if len(shape) < 2 or shape[-1] is None:
        raise InvalidInput(f"layer {shown(name)} (Dense) needs a known last axis, got {shape_repr(shape)}")
    dtype = variable_dtype(policy_of(config), name)
    use_bias = config.get("use_bias", True) is not False
    weights = [Variable("kernel", (shape[-1], units), dtype)]
    if use_bias:
        weights.append(Variable("bias", (units,), dtype))
    output = (*shape[:-1], units)
    rows = math.prod(1 if d is None else d for d in shape[:-1])  # an unknown batch counts one example
    windows = (*identity_windows(shape)[:-1], None)
    return Sized((output,), tuple(weights), rows * shape[-1] * units, rows * units if use_bias else 0, windows)
