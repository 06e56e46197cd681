"""The shared vocabulary: option choices, names, units and dtypes. Imports nothing else of core/."""
