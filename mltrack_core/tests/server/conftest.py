"""Real server processes for the tests of the metadata service and its REST client.

Each server runs the code of ``mltrack server`` on a free loopback port, over
a fresh store of the kind the ``store_kind`` fixture names: memory and SQLite
always; PostgreSQL too when MLTRACK_TEST_POSTGRESQL_URI names a test server
and psycopg is installed (those tests carry the ``postgresql`` marker:
``pytest mltrack_core/tests/server -m postgresql``).
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from rest_servers import ServerProcess, Zygote

POSTGRESQL_VARIABLE = "MLTRACK_TEST_POSTGRESQL_URI"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: the REST server in front of a PostgreSQL store")


@pytest.fixture(scope="session")
def zygote() -> Iterator[Zygote]:
    """Forks servers from a process that imported them once (a fresh server then costs milliseconds)."""
    forker = Zygote()
    yield forker
    forker.close()


@pytest.fixture
def start_server(tmp_path: Path, zygote: Zygote) -> Iterator:
    """Starts servers for the test and kills them after it.

    ``start_server(store_uri, *arguments, env=None, port=0, own_process=False)``: forked by the zygote,
    or (``own_process=True``) a ``python -m mltrack_core.server`` child whose exit status can be read.
    """
    started: list[ServerProcess] = []

    def start(
        store_uri: str, *arguments: str, env: dict[str, str] | None = None, port: int = 0, own_process: bool = False
    ) -> ServerProcess:
        log = tmp_path / f"server-{len(started)}.log"
        if own_process:
            server = ServerProcess(store_uri, log, *arguments, env=env)
        else:
            server = ServerProcess(store_uri, log, *arguments, env=env, spawn=zygote.spawn)
        started.append(server)
        return server.start(port)

    yield start
    for server in started:
        server.kill()


def _store_kinds(*, memory: bool = True) -> list:
    kinds = [pytest.param("memory", id="memory")] if memory else []
    kinds.append(pytest.param("sqlite", id="sqlite"))
    # PostgreSQL when a test server is named and its driver is installed (the PostgreSQL session), so a
    # session without the driver (the core one) runs memory and SQLite even inside .ci/postgresql.sh run.
    if os.environ.get(POSTGRESQL_VARIABLE) and importlib.util.find_spec("psycopg") is not None:
        kinds.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql))
    return kinds


@pytest.fixture(params=_store_kinds())
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which kind of store the server serves: memory, sqlite, or postgresql when a test server is given."""
    return request.param


@pytest.fixture(scope="module", params=_store_kinds(memory=False))
def durable_store_kind(request: pytest.FixtureRequest) -> str:
    """For a whole module: sqlite, then postgresql when a test server is given (the stores that hit a database)."""
    return request.param


class _FreshStores:
    """URIs of new, empty stores of each kind; PostgreSQL schemas are dropped at the end of the session."""

    def __init__(self, folder_factory: pytest.TempPathFactory) -> None:
        self._folders = folder_factory
        self._schemas: list[str] = []

    def new(self, kind: str) -> str:
        if kind == "memory":
            return "memory://"
        if kind == "sqlite":
            return f"sqlite:///{self._folders.mktemp('served')}/store.db"
        import psycopg  # installed in the PostgreSQL session (mltrack-core[postgresql])

        server_uri = os.environ[POSTGRESQL_VARIABLE]
        schema = f"rest_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(server_uri, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {schema}")
        self._schemas.append(schema)
        separator = "&" if "?" in server_uri else "?"
        return f"{server_uri}{separator}options={quote(f'-csearch_path={schema}', safe='')}"

    def drop(self) -> None:
        if not self._schemas:
            return
        import psycopg

        with psycopg.connect(os.environ[POSTGRESQL_VARIABLE], autocommit=True) as connection:
            for schema in self._schemas:
                connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


class _ServerPool:
    """Servers over fresh stores, forked by the zygote: a fresh server per test costs milliseconds."""

    def __init__(self, stores: _FreshStores, folder: Path, zygote: Zygote) -> None:
        self._stores = stores
        self._folder = folder
        self._zygote = zygote
        self._started: list[ServerProcess] = []

    def take(self, kind: str) -> ServerProcess:
        log = self._folder / f"server-{len(self._started)}.log"
        server = ServerProcess(self._stores.new(kind), log, spawn=self._zygote.spawn)
        self._started.append(server)
        return server.start()

    def close(self) -> None:
        for server in self._started:
            server.kill()


@pytest.fixture(scope="session")
def fresh_stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_FreshStores]:
    stores = _FreshStores(tmp_path_factory)
    yield stores
    stores.drop()


@pytest.fixture(scope="session")
def server_pool(
    fresh_stores: _FreshStores, tmp_path_factory: pytest.TempPathFactory, zygote: Zygote
) -> Iterator[_ServerPool]:
    pool = _ServerPool(fresh_stores, tmp_path_factory.mktemp("server-logs"), zygote)
    yield pool
    pool.close()


@pytest.fixture
def server(store_kind: str, server_pool: _ServerPool) -> Iterator[ServerProcess]:
    """A server without tokens over a fresh store of ``store_kind``; killed after the test."""
    server = server_pool.take(store_kind)
    yield server
    server.kill()
