"""A whole model: its graph, the rules that size each layer class and the walk. Imports layer/ and the vocabulary."""
