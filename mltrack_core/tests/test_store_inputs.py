"""What a store is asked: queries out of range, ids no store can hold, and errors that keep the store's location."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrack_core as mt
from mltrack_core.schema import MAX_COUNT
from mltrack_core.store import Point, Query, record_of


@pytest.fixture(params=["memory", "sqlite"])
def tracker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[mt.Tracker]:
    """A tracker over a fresh memory or SQLite store."""
    uri = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'hidden-folder' / 'store.db'}"
    with mt.connect(uri) as tracker:
        yield tracker


# ---------------------------------------------------------------- queries


@pytest.mark.parametrize("field", ["limit", "offset", "created_after", "created_before"])
@pytest.mark.parametrize(
    "value", [2**63, 2**64, -1, True, 1.5, "5"], ids=["2**63", "2**64", "-1", "True", "1.5", "str"]
)
def test_a_query_number_beyond_64_bits_negative_or_not_an_int_is_refused(field, value):
    with pytest.raises(mt.SchemaError, match=rf"query {field}: expected an int from 0 to {MAX_COUNT}"):
        Query(**{field: value})


def test_the_largest_query_numbers_are_answered_by_every_store(tracker):
    dataset = tracker.track_dataset(name="d")
    largest = Query(limit=MAX_COUNT, offset=0, created_after=0, created_before=MAX_COUNT)
    assert tracker.store.find(largest) == [dataset.id]
    assert tracker.store.count(largest) == 1
    assert tracker.store.find(Query(offset=MAX_COUNT)) == []


def test_the_tracker_refuses_a_limit_beyond_64_bits(tracker):
    with pytest.raises(mt.SchemaError, match="query limit"):
        tracker.find("dataset", limit=2**64)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "\ud800"}, r"query name: str '\\ud800' is not UTF-8 text"),
        ({"kind": 5}, "query kind: expected a string, got int 5"),
        ({"labels": (("tag", "key"),)}, "query labels: expected tuples of 3 strings"),
        ({"links": (("trained_on", None),)}, "query links: expected a string, got NoneType"),
    ],
)
def test_query_text_no_store_can_compare_is_refused(fields, message):
    with pytest.raises(mt.SchemaError, match=message):
        Query(**fields)


def test_nul_in_query_text_is_an_ordinary_character(tracker):
    dataset = tracker.track_dataset(name="a\x00b", tags={"k\x00": "v\x00"})
    assert tracker.find(name="a\x00b") == [dataset]
    assert tracker.find(tags={"k\x00": "v\x00"}) == [dataset]
    assert tracker.store.find(Query(kind="data\x00set")) == []
    assert tracker.store.find(Query(links=(("trained_on", "ds-\x00"),))) == []


# ---------------------------------------------------------------- ids that cannot be stored


@pytest.mark.parametrize("id_", ["\ud800", "ds-\x00", "ds-\udcff-x"], ids=["surrogate", "nul", "surrogate-inside"])
def test_reading_an_id_no_store_can_hold_finds_nothing(tracker, id_):
    dataset = tracker.track_dataset(name="d")
    store = tracker.store
    assert store.get([id_, dataset.id]) == store.get([dataset.id])
    assert store.links([id_], "in") == []
    assert store.links([id_], "out") == []
    assert store.points(id_) == []
    assert store.scores([id_], "acc") == []
    assert store.scores([dataset.id], "\ud800") == []


# ---------------------------------------------------------------- errors about data never say where the store is


def where_the_store_is(tracker: mt.Tracker) -> list[str]:
    path = getattr(tracker.store, "path", None)
    return [tracker.uri] + ([str(path), str(Path(path).parent)] if path is not None else [])


def test_errors_about_data_do_not_name_the_store(tracker):
    dataset = tracker.track_dataset(name="d", id="ds-1")
    with tracker.track_training(name="fit", trained_on=dataset) as run:
        run.log("loss", 1.0)
    unknown_run = mt.TrainingRun(id="run-unknown", name="r", state=mt.TrainingState.TRAINING, start_time=1)
    failures = {
        "unknown id": lambda: tracker.get("ds-unknown"),
        "unknown run's points": lambda: tracker.store.append_points([Point("run-unknown", "loss", 1.0, None, None, 1)]),
        "unknown run ended": lambda: tracker.store.update_run(record_of(unknown_run)),
        "ended run": lambda: tracker.store.append_points([Point(run.id, "loss", 1.0, None, None, 1)]),
        "conflict": lambda: tracker.track_dataset(name="other", id="ds-1"),
        "dangling": lambda: tracker.track_model(name="m", learning_algorithm="lr", trained_on="ds-unknown"),
        "leaderboard": lambda: tracker.leaderboard("ds-unknown", "acc"),
    }
    for what, failure in failures.items():
        with pytest.raises(mt.MltrackError) as raised:
            failure()
        for place in where_the_store_is(tracker):
            assert place not in str(raised.value), f"{what}: {raised.value}"
