"""Engines turn a LayerSpec into a Report: `analytic` (core only) and `keras` (real layers)."""
