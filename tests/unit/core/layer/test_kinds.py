from __future__ import annotations

import pytest

from convinspect.core.layer.kinds import KINDS, get_kind
from convinspect.errors import InvalidInput


@pytest.mark.parametrize("spelling", ["conv2d-transpose", "Conv2DTranspose", "conv2d_transpose", "CONV2D-TRANSPOSE"])
def test_layer_names_are_case_dash_and_underscore_insensitive(spelling: str) -> None:
    assert get_kind(spelling).class_name == "Conv2DTranspose"


def test_there_are_ten_kinds_with_keras_default_names() -> None:
    assert len(KINDS) == 10
    assert get_kind("separable-conv1d").default_name == "separable_conv1d"
    assert get_kind("conv3d-transpose").default_name == "conv3d_transpose"
    assert get_kind("depthwise-conv2d").default_name == "depthwise_conv2d"


def test_causal_only_on_conv1d() -> None:
    assert [k.key for k in KINDS if "causal" in k.paddings] == ["conv1d"]


def test_unknown_layer_lists_the_choices() -> None:
    with pytest.raises(InvalidInput, match="unknown layer 'conv4d'; expected one of conv1d"):
        get_kind("conv4d")
