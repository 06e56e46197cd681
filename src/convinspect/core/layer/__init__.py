"""One conv layer: kinds, families, specs and every figure of a layer. Imports the vocabulary only."""
