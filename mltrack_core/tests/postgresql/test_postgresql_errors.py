"""Opening and using a store that cannot be reached, logged into or read: clear, typed errors."""

from __future__ import annotations

import socket
import sys
import time
import uuid

import psycopg
import pytest
from postgresql_uris import password_of, with_database, with_login, with_parameter

import mltrack_core as mt
from mltrack_core import (
    MissingDependencyError,
    NotFoundError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
    StoreVersionError,
)
from mltrack_core.backends import postgresql
from mltrack_core.backends.postgresql import PostgresqlStore
from mltrack_core.store import Point


def a_closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def test_a_server_that_is_down_is_unavailable(server_uri: str) -> None:
    uri = f"postgresql://mltrack:secret@127.0.0.1:{a_closed_port()}/mltrack"
    with pytest.raises(StoreUnavailableError, match=r"cannot reach the PostgreSQL store .*Connection refused") as error:
        mt.connect(uri)
    assert isinstance(error.value, ConnectionError)
    assert "secret" not in str(error.value)


def test_a_wrong_password_is_a_login_error(server_uri: str) -> None:
    uri = with_login(server_uri, "mltrack", "not-the-password")
    with pytest.raises(StoreError, match=r"refused the login.*password authentication failed.*Check the user") as error:
        mt.connect(uri)
    assert not isinstance(error.value, StoreUnavailableError)  # retrying will not help
    assert "not-the-password" not in str(error.value)


def test_an_unknown_user_is_a_login_error(server_uri: str) -> None:
    with pytest.raises(StoreError, match=r"refused the login.*nobody_here"):
        mt.connect(with_login(server_uri, "nobody_here", password_of(server_uri)))


def test_a_missing_database_is_named(server_uri: str) -> None:
    with pytest.raises(StoreError, match=r'database "no_such_db" does not exist.*createdb') as error:
        mt.connect(with_database(server_uri, "no_such_db"))
    assert not isinstance(error.value, StoreUnavailableError)


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql://u:secret@127.0.0.1:99999/db",
        "postgresql://u:secret@127.0.0.1/db?no_such_option=1",
        "postgresql://u:secret@[::1/db",
    ],
    ids=["bad-port", "unknown-parameter", "bad-host"],
)
def test_a_malformed_uri_is_explained_without_its_password(uri: str) -> None:
    with pytest.raises(StoreError, match="PostgreSQL URI") as error:
        mt.connect(uri)
    assert not isinstance(error.value, StoreUnavailableError)  # retrying will not help
    assert "secret" not in str(error.value)


def test_both_schemes_open_the_store(store_uri: str) -> None:
    for uri in (store_uri, "postgres" + store_uri.removeprefix("postgresql")):
        with mt.connect(uri) as tracker:
            assert isinstance(tracker.store, PostgresqlStore)


def test_without_the_driver_the_error_names_the_extra(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what an environment without psycopg looks like
    with pytest.raises(MissingDependencyError, match=r"pip install 'mltrack-core\[postgresql\]'"):
        mt.connect(store_uri)


def test_connections_the_server_dropped_are_replaced(store_uri: str, admin: psycopg.Connection) -> None:
    name = f"mltrack-{uuid.uuid4().hex[:12]}"
    with mt.connect(with_parameter(store_uri, "application_name", name)) as tracker:
        dataset = tracker.track_dataset(name="before")
        terminated = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()[0]
        assert terminated >= 1
        assert tracker.get(dataset.id) == dataset
        tracker.track_dataset(name="after")
        assert tracker.count("dataset") == 2


def test_points_of_an_unknown_run_are_refused(store_uri: str) -> None:
    with mt.connect(store_uri) as tracker:
        with pytest.raises(NotFoundError, match="run-nope"):
            tracker.store.append_points([Point("run-nope", "loss", 1.0, None, None, 0)])
        assert tracker.points("run-nope") == []


def test_a_closed_store_says_so(store_uri: str) -> None:
    tracker = mt.connect(store_uri)
    tracker.close()
    with pytest.raises(StoreError, match="was closed; connect again"):
        tracker.store.get(["anything"])


def test_the_driver_options_of_the_uri_are_used(store_uri: str, admin: psycopg.Connection) -> None:
    with mt.connect(with_parameter(store_uri, "application_name", "my-trainer")) as tracker:
        tracker.track_dataset(name="d")
        names = admin.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
        assert ("my-trainer",) in names


def test_a_server_refusing_connections_while_in_use_is_unavailable_until_it_is_back(
    database: str, admin: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgresql, "WAIT_FOR_CONNECTION_SECONDS", 1.0)
    name = database.rpartition("/")[2]
    with mt.connect(database) as tracker:
        dataset = tracker.track_dataset(name="before")
        admin.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")  # as if the server went away
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        with pytest.raises(StoreUnavailableError, match=r"got no connection .* within 1 s"):
            tracker.find("dataset")  # a query: the tracker answers reads of stored ids from its cache
        admin.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")
        deadline = time.monotonic() + 30
        while True:
            try:
                assert tracker.find("dataset") == [dataset]
                break
            except StoreUnavailableError:
                assert time.monotonic() < deadline, "the store did not reconnect"
        assert tracker.track_dataset(name="after").name == "after"


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql://u:secret@127.0.0.1/db%00",
        "postgresql://u:sec\x00ret@127.0.0.1/db",
        "postgresql://u:s%ffecret@h/db",
    ],
    ids=["encoded-nul", "nul", "not-utf-8"],
)
def test_a_uri_with_nul_or_bytes_that_are_not_utf8_is_explained_without_its_password(uri: str) -> None:
    with pytest.raises(StoreError, match="cannot read the PostgreSQL URI") as error:
        mt.connect(uri)
    assert "secret" not in str(error.value) and "s%ffecret" not in str(error.value)


# ---------------------------------------------------------------- read-only opening


def test_reading_a_database_without_a_store_creates_no_tables(
    store_uri: str, schema_connection: psycopg.Connection
) -> None:
    with pytest.raises(StoreError, match=r"there is no mltrack store in .*open it once for writing") as error:
        mt.connect(store_uri, read_only=True)
    assert password_of(store_uri) not in str(error.value)
    assert (
        schema_connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").fetchone()[0]
        == 0
    )


def test_a_store_opened_read_only_reads_in_read_only_sessions(store_uri: str) -> None:
    with mt.connect(store_uri) as writer:
        dataset = writer.track_dataset(name="kept")
    with mt.connect(store_uri, read_only=True) as reader:
        assert reader.find("dataset") == [dataset]
        with pytest.raises(StoreReadOnlyError, match="opened read-only") as refused:
            reader.track_dataset(name="new")
        assert reader.store.uri not in str(refused.value)
        assert reader.store._read("SHOW default_transaction_read_only") == [("on",)]  # the server refuses writes too
    with mt.connect(store_uri) as writer:
        assert writer.count("dataset") == 1
        assert writer.store._read("SHOW default_transaction_read_only") == [("off",)]


def test_a_store_of_an_older_release_is_not_migrated_by_reading(
    store_uri: str, schema_connection: psycopg.Connection
) -> None:
    with schema_connection.transaction():  # what a version 1 store holds: no labels table
        schema_connection.execute("CREATE TABLE mltrack_version (version integer NOT NULL)")
        schema_connection.execute("INSERT INTO mltrack_version VALUES (1)")
        postgresql.MIGRATIONS[0](schema_connection)
    with pytest.raises(
        StoreVersionError, match=r"schema version 1, made by an older mltrack.*Open it once for writing"
    ):
        mt.connect(store_uri, read_only=True)
    assert schema_connection.execute("SELECT version FROM mltrack_version").fetchall() == [(1,)]
    assert schema_connection.execute("SELECT to_regclass('labels')").fetchone()[0] is None


# ---------------------------------------------------------------- errors after opening do not say where the store is


def test_errors_about_data_do_not_name_the_database(store_uri: str) -> None:
    with mt.connect(store_uri) as tracker:
        dataset = tracker.track_dataset(name="d", id="ds-1")
        failures = [
            lambda: tracker.get("ds-unknown"),
            lambda: tracker.store.append_points([Point("run-unknown", "loss", 1.0, None, None, 1)]),
            lambda: tracker.track_dataset(name="other", id=dataset.id),
            lambda: tracker.track_model(name="m", learning_algorithm="lr", trained_on="ds-unknown"),
            lambda: tracker.leaderboard("ds-unknown", "acc"),
        ]
        for failure in failures:
            with pytest.raises(mt.MltrackError) as raised:
                failure()
            assert tracker.uri.partition("?")[0] not in str(raised.value)
