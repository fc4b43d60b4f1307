"""Downsampling, the caches of ended runs, stores without the optional series methods, the schema migration."""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import mltrack_core as mt
from mltrack_core.backends import sqlite as sqlite_backend
from mltrack_core.backends.sqlite import SqliteStore
from mltrack_core.errors import SchemaError
from mltrack_core.series import (
    Bucket,
    LruCache,
    bucket_bounds,
    downsample,
    series_from_buckets,
    series_of_points,
)
from mltrack_core.store import Point
from mltrack_core.tracker import Tracker

# ---------------------------------------------------------------- downsampling


def test_downsampling_keeps_every_spike_in_x_order() -> None:
    generator = random.Random(14)
    values = [generator.gauss(0.0, 1.0) for _ in range(100_000)]
    spikes = {12_345: 80.0, 12_346: -70.0, 99_999: 55.0, 0: -60.0}
    for x, value in spikes.items():
        values[x] = value
    data = downsample(list(enumerate(values)), 1_000)
    assert data.total == 100_000 and data.downsampled and len(data.x) <= 1_000
    assert data.x == sorted(data.x) and len(set(data.x)) == len(data.x)
    kept = dict(zip(data.x, data.y, strict=True))
    assert all(kept[x] == value for x, value in spikes.items())
    assert all(values[x] == y for x, y in kept.items())  # only real points, at their own x


def test_a_short_series_is_returned_whole_with_gaps_for_nan_and_infinities() -> None:
    data = downsample([(0, 1.0), (1, math.nan), (2, math.inf), (2, 3.0), (5, -math.inf)], 5)
    assert data == (5, [0, 1, 2, 2, 5], [1.0, None, None, 3.0, None], False)


def test_gaps_never_break_the_extremes_nor_the_budget() -> None:
    values = [math.nan if x % 3 == 0 else float(x % 17) for x in range(10_000)]
    values[500] = math.inf
    for max_points in (2, 3, 7, 100, 1_000):
        data = downsample(list(enumerate(values)), max_points)
        assert len(data.x) <= max_points and data.x == sorted(data.x)
        finite = [y for y in data.y if y is not None]
        assert all(0.0 <= y <= 16.0 for y in finite)
    many = downsample(list(enumerate(values)), 1_000)
    assert None in many.y and max(y for y in many.y if y is not None) == 16.0


def test_a_series_of_nothing_but_nan_is_all_gaps() -> None:
    data = downsample([(x, math.nan) for x in range(50)], 10)
    assert data.total == 50 and len(data.x) <= 10 and set(data.y) == {None}


def test_buckets_cover_the_range_exactly_even_beyond_floats() -> None:
    for low, high, count in ((0, 9, 4), (5, 5, 3), (0, 2**63 - 1, 500), (10**15, 10**15 + 999_999, 500)):
        bounds = bucket_bounds(low, high, count)
        assert bounds[0][0] == low and bounds[-1][1] == high + 1 and len(bounds) == count
        assert all(first <= past for first, past in bounds)
        assert all(bounds[i][1] == bounds[i + 1][0] for i in range(count - 1))
        span = high - low + 1
        for first, past in bounds:
            if first < past:  # the integer rule that the SQL stores apply
                assert (first - low) * count // span == (past - 1 - low) * count // span


def test_merged_buckets_keep_the_extremes_and_the_first_gap() -> None:
    buckets = [Bucket(), Bucket(), Bucket()]
    for x, value in ((0, 1.0), (1, math.nan), (2, 5.0), (3, -2.0), (4, math.inf), (5, 0.5)):
        buckets[x // 2].add(x, value)
    x, y = series_from_buckets(buckets, 3)
    assert (x, y) == ([1, 2, 3], [None, 5.0, -2.0])


def test_the_series_arguments_are_checked(tmp_path: Path) -> None:
    with mt.connect(f"sqlite:///{tmp_path / 's.db'}") as tracker:
        run = tracker.track_training(name="fit")
        with pytest.raises(SchemaError, match="axis: expected one of step, epoch, time"):
            tracker.series(run.id, "loss", axis="steps")
        with pytest.raises(SchemaError, match="max_points: expected an int from 2 to 10000"):
            tracker.series(run.id, "loss", max_points=True)
        with pytest.raises(SchemaError, match="count"):
            tracker.points_since(run.id, -1)
        with pytest.raises(SchemaError, match="at most 1000 runs"):
            tracker.metric_summaries([run.id] * 1_001)
        with pytest.raises(SchemaError, match="list of strings"):
            tracker.metric_summaries(run.id)


# ---------------------------------------------------------------- caches: ended runs cannot change


class CountingStore(SqliteStore):
    """The SQLite store, counting how often the tracker asks it for series and summaries."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.series_reads = 0
        self.summary_reads = 0

    def metric_series(self, *arguments: object) -> object:
        self.series_reads += 1
        return super().metric_series(*arguments)  # type: ignore[arg-type]

    def metric_summaries(self, run_ids: Sequence[str], metrics: Sequence[str] | None) -> dict:
        self.summary_reads += 1
        return super().metric_summaries(run_ids, metrics)


@pytest.fixture
def counting(tmp_path: Path) -> Iterator[tuple[Tracker, CountingStore]]:
    store = CountingStore(tmp_path / "store.db")
    tracker = Tracker(store)
    yield tracker, store
    tracker.close()


def test_a_training_run_is_read_again_and_an_ended_one_comes_from_the_cache(counting) -> None:
    tracker, store = counting
    run = tracker.track_training(name="live")
    run.log("loss", 1.0, step=0)
    run.flush()
    first = tracker.series(run.id, "loss")
    run.log("loss", 0.5, step=1)
    run.flush()
    second = tracker.series(run.id, "loss")
    assert (first.y, second.y) == ([1.0], [1.0, 0.5]) and not second.ended
    assert store.series_reads == 2  # a training run's series is never cached
    run.finish()
    ended = tracker.series(run.id, "loss")
    assert ended.ended and ended.y == [1.0, 0.5] and store.series_reads == 3
    assert tracker.series(run.id, "loss") is ended and store.series_reads == 3  # served from the cache
    assert tracker.series(run.id, "loss", max_points=500).y == [1.0, 0.5] and store.series_reads == 4  # other key
    summaries = tracker.metric_summaries([run.id])
    assert tracker.metric_summaries([run.id]) == summaries and store.summary_reads == 1
    tracker.metric_summaries([run.id], ["loss"])
    assert store.summary_reads == 2  # another metric selection is another key


def test_summaries_of_training_runs_are_read_again(counting) -> None:
    tracker, store = counting
    run = tracker.track_training(name="live")
    run.log("loss", 1.0, step=0)
    run.flush()
    assert tracker.run_metrics(run.id)["loss"].count == 1
    run.log("loss", 2.0, step=1)
    run.flush()
    assert tracker.run_metrics(run.id)["loss"].count == 2 and store.summary_reads == 2
    run.finish()


def test_the_cache_is_bounded_by_its_size() -> None:
    cache = LruCache(10)
    for key in range(5):
        cache.put(key, f"value {key}", size=3)
    assert len(cache) == 3 and cache.get(0) is None and cache.get(4) == "value 4"
    cache.put("huge", "too big", size=11)
    assert cache.get("huge") is None


# ---------------------------------------------------------------- a store without the optional methods


class PlainStore:
    """A store plugin that implements only the Store protocol (here on top of an SQLite file)."""

    def __init__(self, path: Path) -> None:
        self._inner = SqliteStore(path)
        self.uri = self._inner.uri
        for method in ("put", "get", "find", "count", "links", "scores", "update_run", "append_points", "points"):
            setattr(self, method, getattr(self._inner, method))

    def close(self) -> None:
        self._inner.close()


def test_a_store_without_the_optional_methods_gives_the_same_answers(tmp_path: Path) -> None:
    values = [math.cos(step / 40) for step in range(4_000)]
    values[99] = math.nan
    with mt.connect(f"sqlite:///{tmp_path / 'built-in.db'}") as built_in:
        plain = Tracker(PlainStore(tmp_path / "plain.db"))
        assert not hasattr(plain.store, "metric_series")
        for tracker in (built_in, plain):
            run = tracker.track_training(name="fit", id="run-shared")
            tracker.store.append_points(
                [Point(run.id, "loss", value, step // 500, step, 1_000 + step) for step, value in enumerate(values)]
            )
            run.finish()
        for arguments in ({}, {"axis": "epoch", "max_points": 5}, {"start": 90, "end": 110}, {"axis": "time"}):
            expected = built_in.series("run-shared", "loss", **arguments)
            assert plain.series("run-shared", "loss", **arguments) == expected
        assert repr(plain.metric_summaries(["run-shared"])) == repr(built_in.metric_summaries(["run-shared"]))
        assert plain.points_since("run-shared", 3_998) == built_in.points_since("run-shared", 3_998)
        plain.close()


# ---------------------------------------------------------------- the SQLite schema


def test_a_version_3_store_gets_the_points_index_and_the_summaries_of_its_ended_runs(tmp_path: Path) -> None:
    path = tmp_path / "version3.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    for step in sqlite_backend.MIGRATIONS[:3]:  # the release before the points index
        step(connection)
    connection.execute("PRAGMA user_version = 3")
    connection.execute(
        "INSERT INTO entities VALUES ('run-old', 'run', 'old', NULL, 1, 'h', NULL, 'FINISHED', "
        '\'{"kind": "run", "id": "run-old", "name": "old", "state": "FINISHED", '
        '"creation_time": 1, "start_time": 1, "end_time": 2}\')'
    )
    connection.executemany(
        "INSERT INTO points VALUES ('run-old', 'loss', ?, NULL, ?, ?)",
        [(1.0 / (s + 1), s, 1_000 + s) for s in range(50)],
    )
    connection.close()
    with mt.connect(f"sqlite:///{path}") as tracker:
        series = tracker.series("run-old", "loss", max_points=10)
        assert series.total == 50 and series.y[0] == 1.0 and len(series.x) <= 10
        assert tracker.run_metrics("run-old")["loss"].minimum == 1 / 50
    migrated = sqlite3.connect(path)
    assert migrated.execute("PRAGMA user_version").fetchone()[0] == sqlite_backend.SCHEMA_VERSION
    assert migrated.execute("SELECT 1 FROM sqlite_master WHERE name = 'points_by_metric'").fetchone() == (1,)
    kept = migrated.execute("SELECT metric, count, first, last FROM run_metrics WHERE run_id = 'run-old'").fetchall()
    assert kept == [("loss", 50, 1.0, 1 / 50)]  # the ended run's summary was backfilled
    migrated.close()


def test_a_version_4_store_gets_the_summaries_table(tmp_path: Path) -> None:
    path = tmp_path / "version4.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    for step in sqlite_backend.MIGRATIONS[:4]:
        step(connection)
    connection.execute("PRAGMA user_version = 4")
    connection.close()
    with mt.connect(f"sqlite:///{path}") as tracker:
        run = tracker.track_training(name="fit")
        run.log("loss", 0.5, step=0)
        run.finish()
        assert tracker.run_metrics(run.id)["loss"].last == 0.5
    migrated = sqlite3.connect(path)
    assert migrated.execute("SELECT metric, count FROM run_metrics").fetchall() == [("loss", 1)]
    migrated.close()


def test_the_summaries_of_a_run_are_kept_when_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with mt.connect(f"sqlite:///{path}") as tracker:
        run = tracker.track_training(name="fit")
        for step in range(100):
            run.log("loss", 1.0 / (step + 1), step=step)
            run.log("accuracy", math.nan if step == 99 else step / 100, step=step)
        run.flush()
        kept = sqlite3.connect(path)
        assert kept.execute("SELECT count(*) FROM run_metrics").fetchone() == (0,)  # a training run's points grow
        while_training = tracker.run_metrics(run.id)
        run.finish()
        rows = kept.execute("SELECT metric, count, minimum, maximum FROM run_metrics ORDER BY metric").fetchall()
        assert rows == [("accuracy", 100, 0.0, 0.98), ("loss", 100, 0.01, 1.0)]
        kept.close()
        with mt.connect(f"sqlite:///{path}") as reader:  # another process's view: no cache
            assert repr(reader.run_metrics(run.id)) == repr(while_training)


def test_a_long_history_is_charted_from_the_overview_kept_when_its_run_ends(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    steps = 3 * sqlite_backend.OVERVIEW_POINTS
    with mt.connect(f"sqlite:///{path}") as tracker:
        run = tracker.track_training(name="long fit")
        for step in range(steps):
            run.log("loss", 100.0 if step == 4321 else 1.0 / (step + 1), step=step)
            run.log("gap", math.nan if step == 777 else 0.5, step=step)
        run.log("short", 0.25, step=0)
        run.finish()
        expected = {metric: tracker.series(run.id, metric, start=0, max_points=600) for metric in ("loss", "gap")}
    database = sqlite3.connect(path)
    kept = dict(database.execute("SELECT metric, overview IS NOT NULL FROM run_metrics").fetchall())
    assert kept == {"loss": 1, "gap": 1, "short": 0}  # only histories longer than an overview keep one
    with database:
        database.execute("DELETE FROM points")  # from now on, only the overview can answer
    database.close()
    with mt.connect(f"sqlite:///{path}", read_only=True) as reader:
        loss = reader.series(run.id, "loss", max_points=600)
        gap = reader.series(run.id, "gap", max_points=600)
        zoomed = reader.series(run.id, "loss", start=0, end=steps, max_points=600)
    assert loss.total == steps and loss.downsampled and len(loss.x) <= 600
    assert max(loss.y) == 100.0 and loss.x[loss.y.index(100.0)] == 4321  # the spike, where it was
    assert min(loss.y) == min(expected["loss"].y) and loss.x[0] == 0 and loss.x[-1] == steps - 1
    assert None in gap.y and gap.x[gap.y.index(None)] == 777  # the gap too
    assert zoomed.total == 0  # a zoom reads the points (deleted here): the overview serves only the whole history


def test_series_by_step_read_the_covering_index(tmp_path: Path) -> None:
    """The bucket statements of a metric with steps search the index: no table rows, no sorting."""
    with mt.connect(f"sqlite:///{tmp_path / 's.db'}") as tracker:
        connection = tracker.store._connection()
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT step, MIN(value), COUNT(*) FROM points "
            "WHERE run_id = ? AND metric = ? AND step >= ? AND step < ?",
            ("run-x", "loss", 0, 10),
        ).fetchall()
    assert any("COVERING INDEX points_by_metric" in row[-1] for row in plan), plan


def test_the_reference_series_puts_stepless_points_at_their_position() -> None:
    points = [Point("run-x", "loss", float(i), None, None if i % 2 else i * 10, i) for i in range(6)]
    data = series_of_points(points, "loss", "step", None, None, 100)
    assert data.x == [0, 1, 3, 5, 20, 40] and data.y == [0.0, 1.0, 3.0, 5.0, 2.0, 4.0]
