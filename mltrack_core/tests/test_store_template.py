"""The write algorithm every built-in store shares (store.BaseStore) and the SQL backends' shared helpers."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator

import pytest

import mltrack_core as mt
from mltrack_core.backends.memory import MemoryStore
from mltrack_core.backends.sql import Dialect, check_schema_version, migrate
from mltrack_core.backends.sqlite import SqliteStore
from mltrack_core.errors import ConflictError, DanglingReferenceError, NotFoundError, RunStateError, StoreVersionError
from mltrack_core.store import BaseStore, Point, Query, record_of


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[BaseStore]:
    opened = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "store.db")
    yield opened
    opened.close()


def test_a_batch_writes_only_what_is_not_stored_yet(store) -> None:
    dataset, other = mt.Dataset(name="d"), mt.Dataset(name="other")
    assert store.put([record_of(dataset)]) == [dataset.id]
    assert store.put([record_of(dataset), record_of(other), record_of(other)]) == [other.id]
    assert store.count(Query(kind="dataset")) == 2


def test_an_id_given_twice_with_other_content_in_one_batch_writes_nothing(store) -> None:
    dataset = mt.Dataset(name="d")
    changed = dataclasses.replace(dataset, name="changed")
    with pytest.raises(ConflictError, match=dataset.id):
        store.put([record_of(mt.Dataset(name="new")), record_of(dataset), record_of(changed)])
    assert store.count(Query()) == 0


def test_points_of_several_runs_are_refused_together_when_one_has_ended(store) -> None:
    training, ended = mt.TrainingRun(name="training"), mt.TrainingRun(name="ended")
    store.put([record_of(training), record_of(ended)])
    store.update_run(record_of(dataclasses.replace(ended, state=mt.TrainingState.FINISHED)))
    with pytest.raises(RunStateError, match=ended.id):
        store.append_points([loss_of(training.id), loss_of(ended.id)])
    with pytest.raises(NotFoundError, match="run-unknown"):
        store.append_points([loss_of(training.id), loss_of("run-unknown")])
    assert store.points(training.id) == []


def test_a_run_written_again_with_its_points_is_a_retry_that_writes_nothing(store) -> None:
    run = mt.TrainingRun(name="imported", state=mt.TrainingState.FINISHED, start_time=1, end_time=9)
    points = [loss_of(run.id), loss_of(run.id)]
    assert store.put([record_of(run)], points) == [run.id]
    assert store.put([record_of(run)], points) == []
    assert store.points(run.id) == points
    assert store.find(Query(state="FINISHED")) == [run.id]


def test_points_written_with_entities_are_refused_with_them(store) -> None:
    run = mt.TrainingRun(name="imported", state=mt.TrainingState.FINISHED, start_time=1, end_time=9)
    broken = mt.Model(name="m", learning_algorithm="lr", trained_on="ds-missing")
    with pytest.raises(DanglingReferenceError, match="ds-missing"):
        store.put([record_of(run), record_of(broken)], [loss_of(run.id)])
    assert store.count(Query()) == 0 and store.points(run.id) == []


def loss_of(run_id: str) -> Point:
    return Point(run_id, "loss", 1.0, None, 0, 0)


def test_a_run_update_with_a_dangling_reference_changes_nothing(store) -> None:
    dataset = mt.Dataset(name="d")
    run = mt.TrainingRun(name="fit", trained_on=dataset)
    store.put([record_of(dataset), record_of(run)])
    with pytest.raises(DanglingReferenceError, match="md-missing"):
        store.update_run(record_of(dataclasses.replace(run, state=mt.TrainingState.FINISHED, for_model="md-missing")))
    assert store.find(Query(state="TRAINING")) == [run.id]
    assert [link.target for link in store.links([run.id], "out")] == [dataset.id]
    store.update_run(record_of(dataclasses.replace(run, state=mt.TrainingState.FINISHED)))
    assert store.find(Query(state="FINISHED")) == [run.id]


def test_only_training_runs_can_be_updated(store) -> None:
    dataset = mt.Dataset(name="d")
    store.put([record_of(dataset)])
    with pytest.raises(NotFoundError, match=f"no training run '{dataset.id}'"):
        store.update_run(record_of(mt.TrainingRun(name="fit", id=dataset.id)))


# ---------------------------------------------------------------- how much SQLite work a write takes


def selects_of(store: SqliteStore, write) -> int:
    """How many SELECT statements ``write`` runs on the store's connection."""
    statements: list[str] = []
    connection = store._connection()
    connection.set_trace_callback(statements.append)
    try:
        write()
    finally:
        connection.set_trace_callback(None)
    return sum(statement.lstrip().upper().startswith("SELECT") for statement in statements)


def test_sqlite_writes_look_up_each_thing_once(tmp_path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    dataset, transforms = mt.Dataset(name="d"), [mt.Transform(name=f"t{i}") for i in range(3)]
    store.put([record_of(entity) for entity in (dataset, *transforms)])
    model = mt.Model(name="m", learning_algorithm="lr", trained_on=dataset, transforms=transforms)
    run = mt.TrainingRun(name="fit")
    assert selects_of(store, lambda: store.put([record_of(run)])) == 1  # is the id taken?
    assert selects_of(store, lambda: store.put([record_of(model)])) == 2  # and the kinds of all it names
    assert selects_of(store, lambda: store.put([record_of(model)])) == 1  # a retry
    points = [Point(run.id, "loss", float(step), None, step, 0) for step in range(1_000)]
    assert selects_of(store, lambda: store.append_points(points)) == 1  # the run's state
    assert selects_of(store, lambda: store.append_points(points, batch_id="b")) == 2  # and is the batch new?
    store.close()


# ---------------------------------------------------------------- the SQL helpers


def test_a_query_without_conditions_matches_everything() -> None:
    dialect = Dialect(placeholder="?", escape=str.upper, label_condition=lambda *label: ("label", label))
    assert dialect.where(Query(limit=5, offset=2)) == ("1 = 1", [])


def test_only_the_free_text_columns_are_escaped() -> None:
    dialect = Dialect(placeholder="%s", escape=str.upper, label_condition=lambda *label: ("has label", label))
    where, parameters = dialect.where(
        Query(kind="run", name="n", experiment="e", fingerprint="f", state="TRAINING", labels=(("tag", "k", "v"),))
    )
    assert where == ("kind = %s AND name = %s AND experiment = %s AND fingerprint = %s AND state = %s AND has label")
    assert parameters == ["run", "N", "E", "F", "TRAINING", "tag", "k", "v"]


def test_links_and_creation_times_become_conditions() -> None:
    dialect = Dialect(placeholder="?", escape=str, label_condition=lambda *label: ("label", label))
    where, parameters = dialect.where(Query(links=(("trained_on", "ds-1"),), created_after=1, created_before=9))
    assert where == (
        "created > ? AND created < ? AND id IN (SELECT source FROM links WHERE target = ? AND relation = ?)"
    )
    assert parameters == [1, 9, "ds-1", "trained_on"]


def test_migrating_runs_the_missing_steps_and_records_the_version() -> None:
    connection = sqlite3.connect(":memory:")
    steps = [lambda c, n=n: c.execute(f"CREATE TABLE step{n} (x)") for n in range(3)]
    recorded: list[int] = []
    assert migrate(connection, steps, 1, lambda _, version: recorded.append(version)) == 3
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert tables == {"step1", "step2"}
    assert recorded == [3]


def test_a_store_migrated_by_a_newer_release_meanwhile_is_left_alone() -> None:
    def refuse(*_) -> None:
        raise AssertionError("nothing should run")

    assert migrate(object(), [refuse, refuse], 5, refuse) == 5
    check_schema_version("sqlite:///s.db", 2, 2)
    with pytest.raises(StoreVersionError, match="schema version 5, made by a newer mltrack"):
        check_schema_version("sqlite:///s.db", 5, 2)
