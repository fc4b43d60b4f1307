"""Fixtures of the core's tests: the shared ones (an isolated mltrack home per test, an in-memory tracker)."""

pytest_plugins = ["mltrack_core.testing.fixtures"]
