"""Cross-package tests: the shared fixtures (an isolated mltrack home per test, an in-memory tracker)."""

pytest_plugins = ["mltrack_core.testing.fixtures"]
