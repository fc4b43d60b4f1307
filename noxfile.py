"""Sessions for every package of mltrack; ``nox`` alone runs the default set (lint and all tests).

Each package's session installs only that package, its framework and its test
needs, so each can run on its own: ``nox -s core``.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True
nox.needs_version = ">=2025.2.9"

CORE = "./mltrack_core"


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common mistakes with ruff."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def core(session: nox.Session) -> None:
    """Tests of mltrack-core: schema, tracker, memory and SQLite stores, lineage, CLI, export."""
    session.install(f"{CORE}[test]")
    session.run("pytest", "mltrack_core/tests", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package tests: entry points with a separately installed backend plugin, contract suite on it."""
    session.install(f"{CORE}[test]", "./tests/plugins/mltrack-test-backend")
    session.run("pytest", "tests", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Run ``mltrack demo`` on the embedded default store (~/.mltrack/store.db unless MLTRACK_URI is set)."""
    session.install(CORE)
    session.run("mltrack", "demo", *session.posargs)


@nox.session(default=False)
def benchmarks(session: nox.Session) -> None:
    """Print the core's speed figures (import time, metric logging, queries in a large store)."""
    session.install(CORE)
    session.run("python", "benchmarks/core_bench.py", *session.posargs)
