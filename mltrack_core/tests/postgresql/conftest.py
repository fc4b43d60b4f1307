"""Fixtures for the tests of the postgresql:// backend: a server from the environment, a fresh schema per test.

The server is named by MLTRACK_TEST_POSTGRESQL_URI; its user must be allowed to
create schemas, databases and roles (.ci/postgresql.sh makes such a server).
Without the variable every test here fails, saying how to run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from postgresql_uris import in_schema, with_database

URI_VARIABLE = "MLTRACK_TEST_POSTGRESQL_URI"
HOW_TO_RUN = (
    ".ci/postgresql.sh run -- nox -s postgresql (or start a server with "
    'eval "$(.ci/postgresql.sh start)" and run pytest mltrack_core/tests/postgresql)'
)


@pytest.fixture(scope="session")
def server_uri() -> str:
    """The URI of the test server's database (from MLTRACK_TEST_POSTGRESQL_URI)."""
    uri = os.environ.get(URI_VARIABLE)
    if not uri:
        pytest.fail(
            f"{URI_VARIABLE} is not set, and the postgresql:// backend is tested against a real server. "
            f"Run these tests with {HOW_TO_RUN}",
            pytrace=False,
        )
    return uri


@pytest.fixture(scope="session")
def admin(server_uri: str) -> Iterator[psycopg.Connection]:
    """A connection to the test database for setting up and inspecting stores."""
    with psycopg.connect(server_uri, autocommit=True) as connection:
        yield connection


@pytest.fixture
def schema(admin: psycopg.Connection) -> Iterator[str]:
    """A new, empty schema, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin.execute(f"CREATE SCHEMA {name}")
    yield name
    admin.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def store_uri(server_uri: str, schema: str) -> str:
    """A store URI whose tables go into a fresh schema."""
    return in_schema(server_uri, schema)


@pytest.fixture
def schema_connection(server_uri: str, schema: str) -> Iterator[psycopg.Connection]:
    """A connection whose search path is the fresh schema, to look at a store's tables."""
    with psycopg.connect(in_schema(server_uri, schema), autocommit=True) as connection:
        yield connection


@pytest.fixture
def database(admin: psycopg.Connection, server_uri: str) -> Iterator[str]:
    """The URI of a new, empty database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin.execute(f"CREATE DATABASE {name}")
    yield with_database(server_uri, name)
    admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
