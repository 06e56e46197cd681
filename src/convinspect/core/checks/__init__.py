"""Expectations, spec files and check runs over layers and models."""
