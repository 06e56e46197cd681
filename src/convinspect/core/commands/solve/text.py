"""Text a user pastes: the Keras constructor and the `convinspect build` command of a layer."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any

from convinspect.core.layer import story
from convinspect.core.layer.spec import LayerSpec, flags


def _scalar(values: Sequence[int]) -> Any:
    return values[0] if len(set(values)) == 1 else tuple(values)


def keras_call(spec: LayerSpec) -> str:
    """`keras.layers.Conv2DTranspose(16, 3, strides=2, padding="same", output_padding=1)`."""
    call = story.constructor(spec)
    kwargs = dict(call.kwargs)
    args = []
    if "filters" in kwargs:
        args.append(str(kwargs.pop("filters")))
    args.append(str(_scalar(kwargs.pop("kernel_size"))))
    parts = []
    for key, value in kwargs.items():
        if isinstance(value, list):
            value = _scalar(value)
        parts.append(f"{key}={json.dumps(value) if isinstance(value, str) else repr(value)}")
    return f"keras.layers.{call.class_name}(" + ", ".join(args + parts) + ")"


def command(spec: LayerSpec) -> str:
    """The `convinspect build` command for the same layer."""
    return " ".join(["convinspect build", *(shlex.quote(flag) for flag in flags(spec))])


# -- the search ----------------------------------------------------------------------------
