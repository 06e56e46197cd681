"""convinspect solve: the layer settings that turn an input shape into a target shape.

Each spatial axis is searched on its own (its output length depends on its own kernel,
stride, dilation and output padding, and on the layer's one padding), then the axes are
combined, best first, and every combination is judged by the same rules as `build`
(core/layer/arithmetic.py): strides with dilation, output_padding below strides, groups, and the
even-kernel transposed `same` case that TensorFlow refuses.

Ranking, the way a person chooses (RANKING, the one wording of it): a kernel that covers its
stride beats one that skips input cells (a 1×1 kernel with stride 2 skips three in four), and
`same` comes before `valid`, then causal. Settings Keras accepts but TensorFlow's CPU kernels
refuse (the even-kernel transposed `same` case) are solutions too, marked, and on the tensorflow
backend they come after all that run everywhere.
"""

from __future__ import annotations

from convinspect.core.commands.solve.arguments import MAX_LIMIT, SOLVE_BACKENDS, parse_target, run
from convinspect.core.commands.solve.results import (
    RANKING,
    REFUSING_BACKEND,
    RUNS_INSTEAD,
    SOLVE_SCHEMA,
    Axis,
    Bounds,
    Fixed,
    Nearest,
    Solution,
    SolveResult,
)
from convinspect.core.commands.solve.search import MAX_AXIS_SEARCH, solve
from convinspect.core.commands.solve.text import command, keras_call

__all__ = [
    "MAX_AXIS_SEARCH", "MAX_LIMIT", "RANKING", "REFUSING_BACKEND", "RUNS_INSTEAD", "SOLVE_BACKENDS", "SOLVE_SCHEMA",
    "Axis", "Bounds", "Fixed", "Nearest", "Solution", "SolveResult", "command", "keras_call", "parse_target", "run",
    "solve",
]  # fmt: skip
