"""What each Keras layer class does to shapes, which variables it creates, and its MACs.

One rule per class, written from the class's `compute_output_shape()` and `build()` in
keras/src/layers/, registered with `@rule` (registry.py) in a module per layer group: conv,
dense, normalization, pooling, shapes (moves and merges), sequences (embeddings, RNNs,
attention, preprocessing). A rule takes the layer's configuration (as serialized) and its
input shapes and returns a `Sized`: output shapes, variables, MACs, and how each output axis
reads the input axes (for receptive fields). Conv layers are sized by the same code as
`convinspect build` (core/layer/arithmetic.py). A class without a rule raises `Unsizable`.

MACs are counted for the conv kinds, Dense, the RNN family and attention (conventions in
core/layer/cost.py and docs/conventions.md); normalisation, pooling, activations, merges and
resizing are free.
"""

from __future__ import annotations

# Each group registers its rules on import, in this order; a class is never registered twice.
from convinspect.core.model.rules import conv, dense, normalization, pooling, sequences, shapes  # noqa: F401
from convinspect.core.model.rules.common import Shape, Unsizable, compute_dtype
from convinspect.core.model.rules.registry import MAC_FREE, RULES, Sized, Window, size_layer

__all__ = ["MAC_FREE", "RULES", "Shape", "Sized", "Unsizable", "Window", "compute_dtype", "size_layer"]
