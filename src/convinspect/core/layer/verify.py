"""--verify: the real layer's output against the float64 reference, as facts.

The tolerance is relative to the largest sum of absolute products an output adds (the layer on
|x| and |w|; at least the reference's largest magnitude): a few units in the last place of the
compute dtype, times the square root of the terms each output sums (rounding errors of a sum grow
like that, and with the sizes of what they add, however much of it cancels). See docs/backends.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

REFERENCE = "numpy-float64"
# The unit in the last place of each compute dtype (mixed policies compute in float16/bfloat16).
EPSILON = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}
ULPS = 2
CAP = 0.05  # however many terms: a 16-bit layer off by 5% of its largest output is wrong, not rounded


def tolerance(compute_dtype: str, terms: int) -> float:
    """The largest relative error (max |error| / the scale: max Σ|w·x|) that rounding explains."""
    return min(ULPS * EPSILON[compute_dtype] * math.sqrt(max(terms, 1)), CAP)


@dataclass(frozen=True)
class Verification:
    ok: bool | None  # None: skipped, nothing was compared
    max_abs_error: float
    max_rel_error: float  # max |error| / max(max |reference|, max Σ|w·x|)
    tolerance: float
    compute_dtype: str
    terms: int  # products summed into each output
    input_shape: tuple[int, ...]  # the input verified (a smaller probe when the real one is over the budget)
    probe: bool
    activation_checked: bool  # False: the reference stops before an activation it does not define
    finding: str | None = None  # where the error sits, when it fails
    backend: str = "tensorflow"
    skipped: str | None = None  # why nothing was compared (the backend cannot run the layer)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": REFERENCE,
            "ok": self.ok,
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
            "tolerance": self.tolerance,
            "compute_dtype": self.compute_dtype,
            "terms": self.terms,
            "input_shape": list(self.input_shape),
            "probe": self.probe,
            "activation_checked": self.activation_checked,
            "finding": self.finding,
            "backend": self.backend,
            "skipped": self.skipped,
        }
