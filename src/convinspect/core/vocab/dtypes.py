"""Keras dtype policies: the variable and compute dtypes of each, and their sizes."""

from __future__ import annotations

# policy name -> (variable dtype, compute dtype)
DTYPE_POLICIES: dict[str, tuple[str, str]] = {
    "float32": ("float32", "float32"),
    "float16": ("float16", "float16"),
    "bfloat16": ("bfloat16", "bfloat16"),
    "float64": ("float64", "float64"),
    "mixed_float16": ("float32", "float16"),
    "mixed_bfloat16": ("float32", "bfloat16"),
}
# bytes per element of each dtype a variable or an activation may have
ITEMSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int8": 1, "int16": 2, "int32": 4,
            "int64": 8, "uint8": 1, "bool": 1}  # fmt: skip


def itemsize(dtype: str) -> int:
    """Bytes per element (4 for a dtype the table does not know)."""
    return ITEMSIZE.get(dtype, 4)
