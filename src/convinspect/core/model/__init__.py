"""A whole model: its graph, the sizing of each layer class and the walk. Imports layer/ and the vocabulary."""
