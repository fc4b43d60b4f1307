"""The store's tables: creation, migration from an older version, refusal of a newer one, privileges."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from postgresql_uris import in_schema, password_of, with_login

import mltrack_core as mt
from mltrack_core import Dataset, StoreCorruptError, StoreError, StoreReadOnlyError, StoreVersionError
from mltrack_core.backends import postgresql
from mltrack_core.store import Point, record_of


def test_a_new_store_gets_the_current_schema(store_uri: str, schema_connection: psycopg.Connection) -> None:
    mt.connect(store_uri).close()
    assert schema_connection.execute("SELECT version FROM mltrack_version").fetchall() == [(postgresql.SCHEMA_VERSION,)]
    tables = schema_connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
    ).fetchall()
    assert [name for (name,) in tables] == [
        "batches",
        "entities",
        "labels",
        "links",
        "mltrack_version",
        "points",
        "ranking",
        "ranking_counts",
        "run_metrics",
        "scores",
    ]


def test_a_version_5_store_is_migrated_and_its_ranking_backfilled(
    store_uri: str, schema_connection: psycopg.Connection
) -> None:
    with mt.connect(store_uri) as tracker:
        dataset = tracker.track_dataset(name="d", target="y", fingerprint="sha256:" + "ef" * 32)
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
        for index, procedure in enumerate(("nul\x00fold", "back\\slash", None, "nul\x00fold", "nul\x00fold")):
            tracker.track_evaluation(
                {"accuracy": index / 10, "log\x00loss": 1.0}, computed_by=model, on_dataset=dataset, procedure=procedure
            )
        expected = tracker.leaderboard(dataset, "accuracy").to_json()
    with schema_connection.transaction():  # what a version 5 store holds: no ranking
        schema_connection.execute("DROP TABLE ranking, ranking_counts")
        schema_connection.execute("UPDATE mltrack_version SET version = 5")
    with mt.connect(store_uri) as tracker:
        board = tracker.leaderboard(dataset, "accuracy")
        assert board.to_json() == expected and board.procedure == "nul\x00fold" and board.total == 3
        assert board.metrics == ("accuracy", "log\x00loss")
        assert [reason for _, reason in board.excluded] == [
            "procedure None, not 'nul\\x00fold'",
            "procedure 'back\\\\slash', not 'nul\\x00fold'",
        ]
    assert schema_connection.execute("SELECT version FROM mltrack_version").fetchall() == [(postgresql.SCHEMA_VERSION,)]


def test_a_version_1_store_is_migrated_and_its_labels_backfilled(
    store_uri: str, schema_connection: psycopg.Connection
) -> None:
    tagged = Dataset(name="old", tags={"source": "uci", "nul\x00key": "back\\slash"}, annotations={"owner": "ana"})
    with schema_connection.transaction():  # what a version 1 store holds: no labels table
        schema_connection.execute("CREATE TABLE mltrack_version (version integer NOT NULL)")
        schema_connection.execute("INSERT INTO mltrack_version VALUES (1)")
        postgresql.MIGRATIONS[0](schema_connection)
        record = record_of(tagged)
        schema_connection.execute(
            "INSERT INTO entities (id, kind, name, created, content_hash, document) VALUES (%s, %s, %s, %s, %s, %s)",
            (record.id, record.kind, record.name, record.created, record.content_hash, record.document),
        )
    with mt.connect(store_uri) as tracker:
        assert tracker.find("dataset", tags={"source": "uci"}) == [tagged]
        assert tracker.find(tags={"nul\x00key": "back\\slash"}) == [tagged]
        assert tracker.find(annotations={"owner": "ana"}) == [tagged]
        assert tracker.find(tags={"source": "kaggle"}) == []
    assert schema_connection.execute("SELECT version FROM mltrack_version").fetchall() == [(postgresql.SCHEMA_VERSION,)]


def test_a_version_2_store_is_migrated_to_remember_batch_ids(
    store_uri: str, schema_connection: psycopg.Connection
) -> None:
    with schema_connection.transaction():  # what a version 2 store holds: no batches table
        schema_connection.execute("CREATE TABLE mltrack_version (version integer NOT NULL)")
        schema_connection.execute("INSERT INTO mltrack_version VALUES (2)")
        for step in postgresql.MIGRATIONS[:2]:
            step(schema_connection)
    with mt.connect(store_uri) as tracker:
        run = tracker.track_training(name="fit")
        point = Point(run.id, "loss", 1.0, None, 0, 1_000)
        assert tracker.store.append_points([point], batch_id="b-1")
        assert not tracker.store.append_points([point], batch_id="b-1")
        assert tracker.points(run.id) == [point]
        run.finish()
    assert schema_connection.execute("SELECT count(*) FROM batches").fetchone() == (0,)  # forgotten at the end
    assert schema_connection.execute("SELECT version FROM mltrack_version").fetchall() == [(postgresql.SCHEMA_VERSION,)]


def test_a_version_3_store_is_migrated_to_index_points_by_metric(
    store_uri: str, schema_connection: psycopg.Connection
) -> None:
    with schema_connection.transaction():  # what a version 3 store holds: no index of points by metric
        schema_connection.execute("CREATE TABLE mltrack_version (version integer NOT NULL)")
        schema_connection.execute("INSERT INTO mltrack_version VALUES (3)")
        for step in postgresql.MIGRATIONS[:3]:
            step(schema_connection)
    with mt.connect(store_uri) as tracker:
        run = tracker.track_training(name="fit")
        tracker.store.append_points([Point(run.id, "loss", 1.0 / (s + 1), None, s, 1_000 + s) for s in range(50)])
        run.finish()
        series = tracker.series(run.id, "loss", max_points=10)
        assert series.total == 50 and series.y[0] == 1.0 and len(series.x) <= 10
    assert schema_connection.execute("SELECT version FROM mltrack_version").fetchall() == [(postgresql.SCHEMA_VERSION,)]
    assert schema_connection.execute("SELECT to_regclass('points_by_metric') IS NOT NULL").fetchone() == (True,)


def test_a_store_from_a_newer_release_is_refused_and_left_alone(
    store_uri: str, schema_connection: psycopg.Connection
) -> None:
    with mt.connect(store_uri) as tracker:
        dataset = tracker.track_dataset(name="kept")
    newer, current = postgresql.SCHEMA_VERSION + 1, postgresql.SCHEMA_VERSION
    schema_connection.execute("UPDATE mltrack_version SET version = %s", (newer,))
    with pytest.raises(
        StoreVersionError, match=rf"schema version {newer}.*up to version {current}.*upgrade mltrack-core"
    ):
        mt.connect(store_uri)
    schema_connection.execute("UPDATE mltrack_version SET version = %s", (current,))
    with mt.connect(store_uri) as tracker:
        assert tracker.get(dataset.id) == dataset


def test_tables_of_another_application_are_not_taken_over(
    store_uri: str, schema_connection: psycopg.Connection
) -> None:
    schema_connection.execute("CREATE TABLE entities (name text)")
    with pytest.raises(StoreError, match=r"table named entities that mltrack did not create.*search_path"):
        mt.connect(store_uri)
    assert schema_connection.execute("SELECT to_regclass('mltrack_version')").fetchone() == (None,)


def test_a_search_path_without_an_existing_schema_is_explained(server_uri: str) -> None:
    with pytest.raises(StoreError, match=r"no schema of the search path.*CREATE SCHEMA"):
        mt.connect(in_schema(server_uri, "no_such_schema"))


def test_missing_tables_are_reported_as_a_corrupt_store(store_uri: str, schema_connection: psycopg.Connection) -> None:
    with mt.connect(store_uri) as tracker:
        run = tracker.track_training(name="fit")
        run.fail()  # ended first: ending a run reads its points (to keep their summaries)
        schema_connection.execute("DROP TABLE points")
        with pytest.raises(StoreCorruptError, match=r'relation "points" does not exist.*backup'):
            tracker.points(run.id)


def test_an_empty_version_table_is_reported_as_a_corrupt_store(
    store_uri: str, schema_connection: psycopg.Connection
) -> None:
    mt.connect(store_uri).close()
    schema_connection.execute("DELETE FROM mltrack_version")
    with pytest.raises(StoreCorruptError, match="mltrack_version is empty"):
        mt.connect(store_uri)


@pytest.fixture
def reader(admin: psycopg.Connection, server_uri: str, schema: str) -> Iterator[str]:
    """The URI of a new role that may read the fresh schema's tables but not write or create them."""
    role, password = f"reader_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    admin.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}")
    yield in_schema(with_login(server_uri, role, password), schema)
    admin.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE SELECT ON TABLES FROM {role}")
    admin.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}")
    admin.execute(f"REVOKE USAGE ON SCHEMA {schema} FROM {role}")
    admin.execute(f"DROP ROLE {role}")


def test_a_user_who_may_only_read_can_read_but_not_write(store_uri: str, reader: str) -> None:
    with mt.connect(store_uri) as owner:
        dataset = owner.track_dataset(name="readable")
    with mt.connect(reader) as tracker:
        assert tracker.get(dataset.id) == dataset
        with pytest.raises(StoreReadOnlyError, match="cannot be written by this user"):
            tracker.track_dataset(name="refused")
        assert tracker.count() == 1


def test_a_user_who_may_not_create_tables_cannot_open_an_empty_store(reader: str) -> None:
    with pytest.raises(StoreReadOnlyError, match=r"needs its tables created or migrated.*open it once as the owner"):
        mt.connect(reader)


def test_the_password_is_not_in_the_store_uri(server_uri: str, store_uri: str) -> None:
    password = password_of(server_uri)
    assert password
    with mt.connect(store_uri) as tracker:
        assert password not in tracker.uri
        assert password not in repr(tracker)
    assert quote(password) not in postgresql.without_password(f"postgresql:///db?user=u&password={password}")
