"""What the embedded SQLite store promises beyond the contract suite."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import mltrack_core as mt
from mltrack_core.backends import sqlite as sqlite_backend
from mltrack_core.schema import canonical_json
from mltrack_core.store import Point


def uri(path: Path) -> str:
    return f"sqlite:///{path}"


def test_a_new_store_is_in_wal_mode_at_the_current_schema_version(tmp_path):
    path = tmp_path / "nested" / "folder" / "store.db"
    mt.connect(uri(path)).close()
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA user_version").fetchone()[0] == sqlite_backend.SCHEMA_VERSION


def test_data_survives_reopening(tmp_path):
    with mt.connect(uri(tmp_path / "s.db")) as tracker:
        dataset = tracker.track_dataset(name="kept")
    with mt.connect(uri(tmp_path / "s.db")) as tracker:
        assert tracker.get(dataset.id) == dataset


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sqlite:///relative/store.db", (Path("relative/store.db"), False)),
        ("sqlite:////absolute/store.db", (Path("/absolute/store.db"), False)),
        ("sqlite:////absolute/store.db?mode=ro", (Path("/absolute/store.db"), True)),
        ("sqlite:///~/store.db", (Path.home() / "store.db", False)),
        ("sqlite:///with%20space.db", (Path("with space.db"), False)),
    ],
)
def test_uris_follow_sqlalchemys_convention(text, expected):
    assert sqlite_backend.parse_uri(text) == expected


@pytest.mark.parametrize(
    "text", ["sqlite://", "sqlite://host/x.db", "sqlite:///x.db?mode=fast", "sqlite:///x.db?cache=1"]
)
def test_malformed_uris_are_explained(text):
    with pytest.raises(mt.StoreError, match="sqlite:///"):
        mt.connect(text)


RACE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import mltrack_core as mt

    store, start, worker = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    while not start.exists():
        time.sleep(0.001)
    with mt.connect(store) as tracker:
        dataset = tracker.track_dataset(name=f"data-{worker}")
        for index in range(40):
            tracker.track_model(name=f"m-{worker}-{index}", learning_algorithm="lr", trained_on=dataset)
        with tracker.track_training(name=f"run-{worker}", trained_on=dataset) as run:
            for step in range(500):
                run.log("loss", 1.0 / (step + 1), step=step)
    print("ok")
    """
)


def test_processes_racing_to_create_a_store_all_succeed(tmp_path):
    store = uri(tmp_path / "raced.db")
    start = tmp_path / "start"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE_SCRIPT, store, str(start), str(worker)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(4)
    ]
    time.sleep(0.5)  # let every process reach the starting line
    start.touch()
    results = [worker.communicate(timeout=120) for worker in workers]
    for (stdout, stderr), worker in zip(results, workers, strict=True):
        assert worker.returncode == 0, stderr
        assert stdout.strip() == "ok"
        assert "locked" not in stderr
    with mt.connect(store) as tracker:
        assert tracker.count("dataset") == 4
        assert tracker.count("model") == 160
        runs = tracker.find("run")
        assert len(runs) == 4 and all(run.state is mt.TrainingState.FINISHED for run in runs)
        assert all(len(tracker.points(run.id)) == 500 for run in runs)


def test_a_file_that_is_not_a_store_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database " * 100)
    with pytest.raises(mt.StoreCorruptError, match="not a readable mltrack store"):
        mt.connect(uri(path))
    assert path.read_text().startswith("these are my notes")


def test_a_read_only_store_answers_queries_and_refuses_writes(tmp_path):
    path = tmp_path / "s.db"
    with mt.connect(uri(path)) as tracker:
        dataset = tracker.track_dataset(name="d")
    with mt.connect(uri(path) + "?mode=ro") as reader:
        assert reader.get(dataset.id) == dataset
        with pytest.raises(mt.StoreReadOnlyError, match="read-only"):
            reader.track_dataset(name="new")
        assert reader.count() == 1


def test_opening_a_missing_store_read_only_is_an_error(tmp_path):
    with pytest.raises(mt.StoreError, match="no SQLite store"):
        mt.connect(uri(tmp_path / "missing.db") + "?mode=ro")


def test_a_store_from_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "future.db"
    mt.connect(uri(path)).close()
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {sqlite_backend.SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(mt.StoreVersionError, match="upgrade mltrack-core"):
        mt.connect(uri(path))


def test_a_store_made_by_an_older_release_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    sqlite_backend.MIGRATIONS[0](connection)  # the release before labels existed
    connection.execute("PRAGMA user_version = 1")
    dataset = mt.Dataset(name="old", tags={"stage": "gold"}, annotations={"owner": "ana"})
    document = dataset.to_json()
    connection.execute(
        "INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            dataset.id,
            "dataset",
            "old",
            None,
            dataset.creation_time,
            dataset.content_hash(),
            None,
            None,
            canonical_json(document),
        ),
    )
    connection.close()
    with mt.connect(uri(path)) as tracker:
        assert tracker.find("dataset", tags={"stage": "gold"}) == [dataset]
        assert tracker.find("dataset", annotations={"owner": "ana"}) == [dataset]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == sqlite_backend.SCHEMA_VERSION


def test_a_version_2_store_is_migrated_to_remember_batch_ids(tmp_path):
    path = tmp_path / "version2.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    for step in sqlite_backend.MIGRATIONS[:2]:  # the release before batch ids
        step(connection)
    connection.execute("PRAGMA user_version = 2")
    connection.close()
    with mt.connect(uri(path)) as tracker:
        run = tracker.track_training(name="fit")
        point = Point(run.id, "loss", 1.0, None, 0, 1_000)
        assert tracker.store.append_points([point], batch_id="b-1")
        assert not tracker.store.append_points([point], batch_id="b-1")
        assert tracker.points(run.id) == [point]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == sqlite_backend.SCHEMA_VERSION


def test_a_version_5_store_is_migrated_and_its_ranking_backfilled(tmp_path):
    path = tmp_path / "version5.db"
    with mt.connect(uri(path)) as tracker:
        dataset = tracker.track_dataset(name="d", target="y")
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
        for index, procedure in enumerate(("5-fold", "holdout", None, "5-fold", "5-fold")):
            value = float("nan") if index == 4 else index / 10
            tracker.track_evaluation({"accuracy": value}, computed_by=model, on_dataset=dataset, procedure=procedure)
        expected = tracker.leaderboard(dataset, "accuracy").to_json()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("DROP TABLE ranking")
    connection.execute("DROP TABLE ranking_counts")
    connection.execute("PRAGMA user_version = 5")  # what a version 5 store holds: no ranking
    connection.close()
    with mt.connect(uri(path)) as tracker:
        board = tracker.leaderboard(dataset, "accuracy")
        assert board.to_json() == expected and (board.procedure, board.total, board.excluded_total) == ("5-fold", 2, 3)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == sqlite_backend.SCHEMA_VERSION


def test_the_batch_ids_of_a_run_are_forgotten_when_it_ends(tmp_path):
    path = tmp_path / "store.db"
    with mt.connect(uri(path)) as tracker:
        ended, training = tracker.track_training(name="ended"), tracker.track_training(name="training")
        tracker.store.append_points([Point(ended.id, "loss", 1.0, None, 0, 1_000)], batch_id="one")
        tracker.store.append_points(
            [Point(ended.id, "loss", 1.0, None, 1, 1_001), Point(training.id, "loss", 1.0, None, 0, 1_001)],
            batch_id="both",
        )
        ended.finish()
    rows = sqlite3.connect(path).execute("SELECT batch_id, run_id FROM batches").fetchall()
    assert rows == [("both", training.id)]  # what is kept stays small: only runs still training have batch ids


def test_a_store_in_a_folder_that_cannot_exist_is_explained(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(mt.StoreError, match="cannot create the folder"):
        mt.connect(uri(blocker / "store.db"))


HOLD_LOCK_SCRIPT = textwrap.dedent(
    """
    import sqlite3, sys, time
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(1.0)
    connection.execute("COMMIT")
    """
)


def test_a_write_waits_for_another_writer_instead_of_failing(tmp_path):
    path = tmp_path / "busy.db"
    with mt.connect(uri(path)) as tracker:
        dataset = tracker.track_dataset(name="d")
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
        waited = time.monotonic() - started
        holder.communicate(timeout=30)
        assert waited >= 0.5
        assert tracker.get(model.id) == model


def test_documents_are_stored_as_canonical_json(tmp_path):
    path = tmp_path / "s.db"
    with mt.connect(uri(path)) as tracker:
        dataset = tracker.track_dataset(name="d", annotations={"b": "2", "a": "1"})
    stored = sqlite3.connect(path).execute("SELECT document FROM entities").fetchone()[0]
    assert json.loads(stored) == dataset.to_json()
    assert stored == canonical_json(dataset.to_json())
    assert os.path.getsize(path) > 0
