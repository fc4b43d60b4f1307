"""Many writers at once: processes, threads, racing on one id, racing to create the tables."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

import mltrack_core as mt
from mltrack_core import ConflictError, Dataset, RunStateError, TrainingState
from mltrack_core.backends import postgresql
from mltrack_core.backends.postgresql import SCHEMA_VERSION, PostgresqlStore
from mltrack_core.store import Point, Record, record_of

WRITER = Path(__file__).with_name("writer_process.py")


def run_writers(uri: str, mode: str, count: int) -> list[dict]:
    """Start ``count`` writer processes, let them go at once, and return what each reports."""
    processes = [
        subprocess.Popen(
            [sys.executable, str(WRITER), uri, mode, str(worker)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(count)
    ]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready", process.stderr.read()
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for process in processes:
            output, errors = process.communicate(timeout=120)
            assert process.returncode == 0, errors
            assert errors == "", errors  # no warning either
            results.append(json.loads(output))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_processes_write_at_once(store_uri: str) -> None:
    results = run_writers(store_uri, "models", 4)
    with mt.connect(store_uri) as tracker:
        assert tracker.count("dataset") == 1  # everyone's identical "ds-shared" is stored once
        models = tracker.find("model")
        assert {m.id for m in models} == {id_ for result in results for id_ in result["models"]}
        assert len(models) == 120
        assert all(m.trained_on == "ds-shared" for m in models)
        for result in results:
            run = tracker.get(result["run"])
            assert run.state is TrainingState.FINISHED
            assert [point.step for point in run.scores_over_time] == list(range(300))


def test_processes_racing_on_one_id_with_different_content(store_uri: str) -> None:
    results = run_writers(store_uri, "claim", 4)
    winners = [worker for worker, result in enumerate(results) if result["won"]]
    assert len(winners) == 1
    assert all("ds-contested" in result["error"] for result in results if not result["won"])
    with mt.connect(store_uri) as tracker:
        assert tracker.get("ds-contested").name == f"written by {winners[0]}"


def test_processes_racing_to_create_the_tables_of_an_empty_database(database: str) -> None:
    results = run_writers(database, "open", 6)
    with mt.connect(database) as tracker:
        assert {d.id for d in tracker.find("dataset")} == {result["dataset"] for result in results}
    with psycopg.connect(database) as connection:
        assert connection.execute("SELECT version FROM mltrack_version").fetchall() == [(SCHEMA_VERSION,)]


def test_threads_racing_to_create_the_tables(store_uri: str, schema_connection: psycopg.Connection) -> None:
    stores: list[PostgresqlStore] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_store() -> None:
        barrier.wait()
        try:
            stores.append(PostgresqlStore(store_uri))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert len(stores) == 8
    assert schema_connection.execute("SELECT version FROM mltrack_version").fetchall() == [(SCHEMA_VERSION,)]


def race(count: int, action) -> tuple[list, list[BaseException]]:
    """Run ``action(index)`` in ``count`` threads released at once; return results and errors."""
    results: list = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def work(index: int) -> None:
        barrier.wait()
        try:
            results.append(action(index))
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_threads_writing_one_id_with_the_same_content_store_it_once(tracker_on_store: mt.Tracker) -> None:
    record = record_of(Dataset(name="same"))
    results, errors = race(8, lambda _: tracker_on_store.store.put([record]))
    assert errors == []
    assert sorted(results) == [[]] * 7 + [[record.id]]  # exactly one writer reports it as new


def test_threads_writing_one_id_with_other_content_one_wins(tracker_on_store: mt.Tracker) -> None:
    base = Dataset(name="contested")
    records = [record_of(dataclasses.replace(base, location=f"file:///{index}.csv")) for index in range(8)]
    results, errors = race(8, lambda index: (index, tracker_on_store.store.put([records[index]])))
    assert len(results) == 1
    assert len(errors) == 7
    assert all(isinstance(error, ConflictError) and base.id in str(error) for error in errors)
    winner = results[0][0]
    assert tracker_on_store.get(base.id).location == f"file:///{winner}.csv"


def insert_row(connection: psycopg.Connection, record: Record) -> None:
    """Insert ``record``'s entity row as another writer would (in the caller's transaction)."""
    connection.execute(
        "INSERT INTO entities (id, kind, name, created, content_hash, document) VALUES (%s, %s, %s, %s, %s, %s)",
        (record.id, record.kind, record.name, record.created, record.content_hash, record.document),
    )


def wait_until_blocked(admin: psycopg.Connection, waiting: int = 1) -> None:
    """Wait until ``waiting`` sessions of the test database wait for a lock."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        blocked = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()[0]
        if blocked >= waiting:
            return
        time.sleep(0.01)
    raise AssertionError("the writer never waited for the other transaction")


@pytest.mark.parametrize(
    ("other_writer_ends", "expected"),
    [("commit same", []), ("rollback", ["new"]), ("commit other", ConflictError)],
    ids=["other-commits-same-content", "other-rolls-back", "other-commits-other-content"],
)
def test_a_writer_racing_on_an_id_waits_for_the_other_transaction(
    tracker_on_store: mt.Tracker,
    schema_connection: psycopg.Connection,
    admin: psycopg.Connection,
    other_writer_ends: str,
    expected: object,
) -> None:
    dataset = Dataset(name="raced")
    other = dataclasses.replace(dataset, name="raced differently") if other_writer_ends == "commit other" else dataset
    outcome: list[object] = []
    with schema_connection.transaction() as other_transaction:
        insert_row(schema_connection, record_of(other))
        writer = threading.Thread(target=lambda: outcome.append(attempt(tracker_on_store.store.put, dataset)))
        writer.start()
        wait_until_blocked(admin)
        if other_writer_ends == "rollback":
            other_transaction.force_rollback = True  # psycopg: roll back on leaving the block
    writer.join()
    if expected is ConflictError:
        assert isinstance(outcome[0], ConflictError)
        assert tracker_on_store.get(dataset.id).name == "raced differently"
    else:
        assert outcome == [[dataset.id] if expected == ["new"] else []]
        assert tracker_on_store.get(dataset.id) == dataset


def attempt(put, entity):
    """``put`` the record of ``entity``; the exception instead of raising it."""
    try:
        return put([record_of(entity)])
    except ConflictError as exc:
        return exc


@pytest.mark.parametrize("other_writer_ends", ["commit", "rollback"])
def test_a_writer_claiming_a_batch_id_waits_for_the_other_transaction_claiming_it(
    tracker_on_store: mt.Tracker,
    schema_connection: psycopg.Connection,
    admin: psycopg.Connection,
    other_writer_ends: str,
) -> None:
    store = tracker_on_store.store
    first, second = tracker_on_store.track_training(name="first"), tracker_on_store.track_training(name="second")
    outcome: list[bool] = []
    with schema_connection.transaction() as other_transaction:  # another writer claims the id for another run
        schema_connection.execute("SELECT pg_advisory_xact_lock(%s, hashtext('raced'))", (postgresql._BATCH_LOCK,))
        schema_connection.execute("INSERT INTO batches VALUES ('raced', %s)", (first.id,))
        point = Point(second.id, "loss", 1.0, None, 0, 1_000)
        writer = threading.Thread(target=lambda: outcome.append(store.append_points([point], batch_id="raced")))
        writer.start()
        wait_until_blocked(admin)
        if other_writer_ends == "rollback":
            other_transaction.force_rollback = True
    writer.join()
    assert outcome == [other_writer_ends == "rollback"]  # the batch is applied by exactly one of them
    assert len(store.points(second.id)) == (1 if other_writer_ends == "rollback" else 0)


def test_threads_racing_with_one_batch_id_apply_it_once(tracker_on_store: mt.Tracker) -> None:
    store = tracker_on_store.store
    runs = [tracker_on_store.track_training(name=f"run {index}") for index in range(6)]
    results, errors = race(
        6, lambda index: store.append_points([Point(runs[index].id, "loss", 1.0, None, 0, 1_000)], batch_id="raced")
    )
    assert errors == [] and sorted(results) == [False] * 5 + [True]
    assert sum(len(store.points(run.id)) for run in runs) == 1


def test_writers_deadlocking_on_two_ids_are_retried(
    tracker_on_store: mt.Tracker, schema_connection: psycopg.Connection, admin: psycopg.Connection
) -> None:
    first, second = Dataset(name="first"), Dataset(name="second")
    outcome: list[object] = []
    deadlocks_before = admin.execute(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()[0]
    with schema_connection.transaction():
        insert_row(schema_connection, record_of(second))
        batch = [record_of(first), record_of(second)]
        writer = threading.Thread(target=lambda: outcome.append(tracker_on_store.store.put(batch)))
        writer.start()
        wait_until_blocked(admin)  # the store holds "first" and waits for "second"
        insert_row(schema_connection, record_of(first))  # waits for "first": PostgreSQL aborts the store's attempt
    writer.join()
    assert outcome == [[]]  # the retry found both, stored by the other transaction, with the same content
    deadlocks = admin.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    assert deadlocks.fetchone()[0] > deadlocks_before


def test_no_point_is_appended_after_the_run_ended(tracker_on_store: mt.Tracker) -> None:
    store = tracker_on_store.store
    run = tracker_on_store.track_training(name="fit")
    appended: list[int] = []
    stopped: list[int] = []

    def append(index: int) -> None:
        if index == 0:
            time.sleep(0.2)  # let the others append for a while
            run.finish()
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                store.append_points([Point(run.id, f"m{index}", 1.0, None, index, 0)] * 10)
            except RunStateError:
                stopped.append(index)
                return
            appended.append(10)

    _, errors = race(6, append)
    assert errors == []
    assert sorted(stopped) == [1, 2, 3, 4, 5]  # every appender saw the run end
    assert sum(appended) > 0
    assert len(store.points(run.id)) == sum(appended)  # nothing got in after the end, nothing was lost
    with pytest.raises(RunStateError):
        store.append_points([Point(run.id, "late", 0.0, None, None, 0)])


@pytest.fixture
def tracker_on_store(store_uri: str, tmp_path: Path):
    with mt.connect(store_uri, artifacts=tmp_path / "artifacts") as tracker:
        yield tracker
