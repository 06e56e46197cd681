"""The result of each command that is more than a report: solve, sweep, conformance."""
