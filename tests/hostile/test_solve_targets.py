"""solve under hostile targets (issue: trust at the edges, round two, items 15 and 16)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from convinspect.api import run_solve
from convinspect.core.layer import arithmetic
from convinspect.core.layer.spec import parse_spec


def test_an_unknown_batch_cannot_become_a_known_one(cli: Any) -> None:
    result = cli("solve", "--layer", "conv2d", "--input", "?,12,12,3", "--target", "1,6,6,8")
    assert result.exit_code == 2
    assert result.stderr == ("convinspect: error: --target: a conv layer keeps the batch: the input's is ?, the "
                             "target's 1 (give ? as the target's batch for any)\n")  # fmt: skip
    assert cli("solve", "--layer", "conv2d", "--input", "?,12,12,3", "--target", "?,6,6,8").exit_code == 0


HINT = re.compile(r"(?P<t>\d+) needs (?P<parts>.*) with padding (?P<padding>\w+)")


@pytest.mark.parametrize(
    ("layer", "n", "t"),
    [("conv1d", 100, 1), ("conv1d", 64, 1), ("conv1d", 200, 3), ("conv2d", 90, 1), ("depthwise-conv1d", 100, 1),
     ("separable-conv1d", 100, 1), ("conv1d-transpose", 3, 200)],
)  # fmt: skip
def test_every_hint_is_a_setting_keras_accepts_and_reaches_the_target(layer: str, n: int, t: int) -> None:
    rank = 2 if layer == "conv2d" else 1
    shape = [1, *([n] * rank), 3]
    target = [1, *([t] * rank), 8 if "depthwise" not in layer else None]
    options: dict[str, Any] = {"layer": layer, "input": ",".join(map(str, shape))}
    result = run_solve(options, ",".join("?" if d is None else str(d) for d in target))
    if result.solutions:
        return  # within the bounds already
    hints = [near.hint for near in result.nearest if near.hint and " needs " in near.hint]
    assert hints or (layer, n, t) != ("conv1d", 100, 1), result.nearest  # the reported case has one
    for hint in hints:
        match = HINT.search(hint)
        assert match, hint
        values = dict(part.split(" ")[:2] for part in match["parts"].split(", ") if " " in part)
        spec = parse_spec({
            "layer": layer, "input": shape, "padding": match["padding"],
            **({} if "depthwise" in layer else {"filters": 8}),
            **{"kernel": values.get("kernel", 1), "strides": values.get("strides", 1),
               "dilation": values.get("dilation", 1)},
        })  # fmt: skip
        out = arithmetic.output_shape(spec)  # Keras' rules: raises if it would refuse the setting
        assert spec.data_format.spatial(out)[0] == t, (hint, out)
