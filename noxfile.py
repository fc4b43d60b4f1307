"""Sessions for every package of mltrack; ``nox`` alone runs the default set (lint and all tests).

Each package's session installs only that package, its framework and its test
needs, so each can run on its own: ``nox -s core``.
"""

from __future__ import annotations

import os
import sys

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True
nox.needs_version = ">=2025.2.9"

CORE = "./mltrack_core"
SKLEARN = "./mltrack_sklearn"
SPARK = "./mltrack_spark"
MXNET = "./mltrack_mxnet"
# Apache MXNet 1.9.1 (its last release) breaks with numpy 1.24, whose predecessors have wheels up to Python 3.11.
MXNET_PINS = ("mxnet==1.9.1", "numpy<1.24", "scipy<1.16", "scikit-learn<1.8")
COMPILE_BYTECODE = {"UV_COMPILE_BYTECODE": "1"}  # uv writes no .pyc by default: import mxnet would take 2-3 s
MXNET_RUNS_HERE = sys.version_info < (3, 12)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common mistakes with ruff, and that every docstring is Google style (pydoclint)."""
    session.install("ruff>=0.8", "pydoclint[flake8]>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # ruff's Google convention does not notice reST fields (":param x:", ":raises E:") in a docstring
    session.run(
        "flake8", "--select=DOC003", "--style=google", "--check-style-mismatch=True", "--extend-exclude=.nox,.venv", "."
    )


@nox.session
def core(session: nox.Session) -> None:
    """Tests of mltrack-core: schema, tracker, stores, lineage, CLI, export, the metadata server and its client.

    The server and its REST client run in front of memory and SQLite stores here; in front of
    PostgreSQL in the ``postgresql`` session.
    """
    session.install(f"{CORE}[test,server]")
    session.run(
        "pytest",
        "mltrack_core/tests",
        "--ignore=mltrack_core/tests/postgresql",
        "--ignore=mltrack_core/tests/consumers",
        "--ignore=mltrack_core/tests/browser",  # the ui session's: a real browser over the demo's store
        "--ignore=mltrack_core/tests/interop",  # the interop session's: MLflow, OpenLineage and PROV installed
        "-m",
        "not postgresql",  # the server's PostgreSQL tests run in the postgresql session
        *session.posargs,
    )


@nox.session
def consumers(session: nox.Session) -> None:
    """Tests of the core's consumers: regression checks (pytest plugin, mltrack regress), email digests, imports."""
    session.install(f"{CORE}[test,openml]", "scikit-learn")  # scikit-learn: the sample project the plugin is tested on
    session.run("pytest", "mltrack_core/tests/consumers", *session.posargs)


@nox.session
def interop(session: nox.Session) -> None:
    """Import from MLflow (stores MLflow itself writes in the tests), export to OpenLineage and W3C PROV."""
    session.install(f"{CORE}[test,mlflow,openlineage,prov]", "scikit-learn")  # sklearn: MLflow's autolog in tests
    session.run("pytest", "mltrack_core/tests/interop", *session.posargs)


# Debian's chromium package: Playwright's own browser download cannot reach its host from here (nor from CI).
CHROMIUM = os.environ.get("MLTRACK_CHROMIUM", "/usr/bin/chromium")


@nox.session(python="3.11")
def ui(session: nox.Session) -> None:
    """End-to-end tests of the dashboard in headless Chromium, over the store ``mltrack demo`` records.

    The demo's scikit-learn and Spark models (column DAGs) and MXNet networks (layouts) need their frameworks here.
    ``nox -s ui -- --screenshots=docs/screenshots`` also saves the README's screenshots of the pages.
    """
    if not os.access(CHROMIUM, os.X_OK):
        session.error(
            f"no Chromium at {CHROMIUM}: the dashboard's browser tests drive Debian's chromium package. Install it "
            "with: apt-get install chromium (.ci/run does so when run as root), or name another build's executable "
            "in MLTRACK_CHROMIUM"
        )
    session.install(
        f"{CORE}[server,test]",
        f"{SKLEARN}[instruments]",
        f"{SPARK}[instruments]",
        f"{MXNET}[instruments]",
        *MXNET_PINS,
        "playwright>=1.45",  # its Python package only: the browser is Debian's (Playwright's download is unreachable)
    )  # no COMPILE_BYTECODE: compiling every file installed costs more than the modules the demo imports compile once
    session.run("pytest", "mltrack_core/tests/browser", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package tests: entry points with a separately installed backend plugin, contract suite on it."""
    session.install(f"{CORE}[test]", "./tests/plugins/mltrack-test-backend")
    session.run("pytest", "tests", *session.posargs)


@nox.session
@nox.parametrize(
    "framework",
    [
        # numpy 1.23 is what the MXNet environment pins: the oldest release is tested with it
        nox.param(("scikit-learn==1.4.2", "numpy==1.23.5", "scipy<1.12", "pandas<2.3"), id="oldest-1.4"),
        nox.param(("scikit-learn==1.9.*",), id="newest-1.9"),
    ],
)
def sklearn(session: nox.Session, framework: tuple[str, ...]) -> None:
    """Tests of mltrack-sklearn on the oldest (1.4, with numpy 1.23) and newest (1.9) supported scikit-learn."""
    session.install(f"{CORE}[openlineage]", f"{SKLEARN}[instruments,test]", *framework)  # openlineage: the export test
    session.run("pytest", "mltrack_sklearn/tests", *session.posargs)


NEWEST_PYSPARK = ">=4,<5"


@nox.session
@nox.parametrize("pyspark", [nox.param(">=3.5,<3.6", id="pyspark-3.5"), nox.param(NEWEST_PYSPARK, id="pyspark-4")])
def spark(session: nox.Session, pyspark: str) -> None:
    """Tests of mltrack-spark on PySpark 3.5 and 4.x (Java 17): schema replay, column DAG, statistics."""
    session.install(f"{CORE}[openlineage]", f"{SPARK}[instruments,test]", f"pyspark[ml]{pyspark}")  # the export test
    # The gallery (Spark's example programs as subprocesses, a JVM each: minutes) runs on the newest PySpark;
    # what it records is tested on every version by test_autolog*.py.
    gallery = () if pyspark == NEWEST_PYSPARK else ("--ignore=mltrack_spark/tests/test_gallery.py",)
    session.run("pytest", "mltrack_spark/tests", *gallery, *session.posargs)


@nox.session
def postgresql(session: nox.Session) -> None:
    """Tests of the postgresql:// backend against the server MLTRACK_TEST_POSTGRESQL_URI names.

    ``./dev test`` starts a throwaway server around the whole run; on its own:
    ``.ci/postgresql.sh run -- .venv/bin/nox -s postgresql``.
    """
    if not os.environ.get("MLTRACK_TEST_POSTGRESQL_URI"):
        session.error(
            "MLTRACK_TEST_POSTGRESQL_URI is not set. Run: .ci/postgresql.sh run -- .venv/bin/nox -s postgresql "
            "(starts a throwaway PostgreSQL server on 127.0.0.1, installing it from Debian's packages "
            "when missing, and stops it afterwards)"
        )
    session.install(f"{CORE}[test,server,postgresql]")
    session.run("pytest", "mltrack_core/tests/postgresql", *session.posargs)
    session.run("pytest", "mltrack_core/tests/server", "-m", "postgresql", *session.posargs)


@nox.session(python="3.11")
def mxnet(session: nox.Session) -> None:
    """Tests of mltrack-mxnet on MXNet 1.9.1: layouts and shapes, live runs from Module.fit and Gluon."""
    session.install(CORE, f"{MXNET}[instruments,test]", *MXNET_PINS, env=COMPILE_BYTECODE)
    session.run("pytest", "mltrack_mxnet/tests", *session.posargs)


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """Run ``mltrack demo`` on the embedded default store (~/.mltrack/store.db unless MLTRACK_URI is set).

    The environment has the dashboard too (the server extra): ``./dev ui`` serves it from here.
    """
    packages = [f"{CORE}[server]", f"{SKLEARN}[instruments]", f"{SPARK}[instruments]"]
    if MXNET_RUNS_HERE:
        packages += [f"{MXNET}[instruments]", *MXNET_PINS]
    else:
        session.log("MXNet 1.9.1 needs Python <= 3.11: its part of the demo is skipped")
    session.install(*packages, env=COMPILE_BYTECODE)
    session.run("mltrack", "demo", *session.posargs, env={"MLTRACK_DEMO_COMMAND": "./dev"})


@nox.session(default=False)
def benchmarks(session: nox.Session) -> None:
    """Print the speed figures: core, scikit-learn overhead, consumers, interop, server, dashboard, recommend."""
    session.install(
        f"{CORE}[server,postgresql,mlflow,openlineage,prov]",
        f"{SKLEARN}[instruments]",
        f"{SPARK}[instruments]",
        "pytest",
        "playwright>=1.45",  # drives Debian's chromium for ui_bench.py (no browser download)
        "liac-arff",  # reads the OpenML ARFF files in scikit-learn's wheel for recommend_bench.py
        env=COMPILE_BYTECODE,
    )
    session.run("python", "benchmarks/core_bench.py", *session.posargs)
    session.run("python", "benchmarks/sklearn_overhead.py")
    session.run("python", "benchmarks/consumers_bench.py")
    session.run("python", "benchmarks/mlflow_import_bench.py")
    session.run("python", "benchmarks/export_bench.py")
    session.run("python", "benchmarks/spark_bench.py")
    server_bench = ("python", "benchmarks/server_bench.py", "--quick")  # the full run (1M-evaluation stores): 25 min
    session.run(".ci/postgresql.sh", "run", "--durable", "--", *server_bench, external=True)
    session.run("python", "benchmarks/ui_bench.py")
    session.run("python", "benchmarks/recommend_bench.py", "--quick")  # the full run: about 13 minutes


@nox.session(python="3.11", default=False)
def benchmarks_mxnet(session: nox.Session) -> None:
    """Print mltrack-mxnet's speed figures: resnet50_v1 layout extraction, per-batch cost of the fit callbacks."""
    session.install(CORE, f"{MXNET}[instruments,test]", *MXNET_PINS, env=COMPILE_BYTECODE)
    session.run("python", "benchmarks/mxnet_bench.py", *session.posargs)
