"""NUL characters in ids and query values: PostgreSQL answers exactly what SQLite answers, never an error.

PostgreSQL text cannot hold NUL. Ids cannot contain it (the schema refuses
them), so asking for such an id finds nothing; names, experiments,
fingerprints and labels may contain it and are found as on
SQLite (see the escaping in the postgresql backend).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrack_core as mt
from mltrack_core.store import Point, Query

NUL_TEXTS = ["\x00", "a\x00b", "\\0", "a\\0b"]


def fill(tracker: mt.Tracker) -> None:
    """The same entities, with the same ids, in every store compared."""
    for index, text in enumerate(NUL_TEXTS):
        with tracker.experiment(f"exp{text}"):
            dataset = tracker.track_dataset(
                id=f"ds-{index}", name=text, fingerprint=text, tags={text: text}, annotations={"note": text}
            )
        model = tracker.track_model(id=f"model-{index}", name=f"m{text}", learning_algorithm="lr", trained_on=dataset)
        tracker.track_evaluation({"acc": 0.5}, id=f"ev-{index}", computed_by=model, on_dataset=dataset)


@pytest.fixture
def stores(store_uri: str, tmp_path: Path) -> Iterator[tuple[mt.Tracker, mt.Tracker]]:
    """A PostgreSQL and an SQLite store holding the same entities."""
    with mt.connect(store_uri) as postgresql, mt.connect(f"sqlite:///{tmp_path / 'store.db'}") as sqlite:
        fill(postgresql)
        fill(sqlite)
        yield postgresql, sqlite


QUERIES = [
    *(Query(**{field: text}) for field in ("name", "experiment", "fingerprint") for text in NUL_TEXTS),
    *(Query(name=f"m{text}") for text in NUL_TEXTS),
    *(Query(labels=(("tag", text, text),)) for text in NUL_TEXTS),
    *(Query(labels=(("annotation", "note", text),)) for text in NUL_TEXTS),
    Query(kind="data\x00set"),
    Query(kind="\x00"),
    Query(state="TRAINING\x00"),
    Query(links=(("trained_on", "ds-\x00"),)),
    Query(links=(("trained\x00on", "ds-0"),)),
    Query(labels=(("tag\x00", "\x00", "\x00"),)),
    Query(kind="dataset", name="\x00", limit=5),
]


def test_queries_with_nul_find_what_sqlite_finds(stores: tuple[mt.Tracker, mt.Tracker]) -> None:
    postgresql, sqlite = stores
    for query in QUERIES:
        assert postgresql.store.find(query) == sqlite.store.find(query), query
        assert postgresql.store.count(query) == sqlite.store.count(query), query
    assert sqlite.store.find(Query(name="a\x00b")) == ["ds-1"]  # the comparison compares something


@pytest.mark.parametrize("id_", ["\x00", "ds-0\x00", "\x00ds-0"], ids=["nul", "nul-after", "nul-before"])
def test_ids_with_nul_find_nothing(stores: tuple[mt.Tracker, mt.Tracker], id_: str) -> None:
    for tracker in stores:
        assert tracker.store.get([id_, "ds-0"]).keys() == {"ds-0"}
        assert tracker.store.links([id_], "in") == []
        assert tracker.store.links([id_], "out") == []
        assert tracker.store.points(id_) == []
        assert tracker.store.scores([id_], "\x00") == []
        assert tracker.get_many([id_]) == {}
        assert tracker.store.scores(["ds-0", id_], "acc") == [("ev-0", 0.5)]
        assert tracker.store.scores(["ds-0"], "acc\x00") == []


def test_points_for_a_run_id_with_nul_are_refused_as_unknown(stores: tuple[mt.Tracker, mt.Tracker]) -> None:
    for tracker in stores:
        with pytest.raises(mt.NotFoundError, match=r"no training run 'run\\x00'"):
            tracker.store.append_points([Point("run\x00", "loss", 1.0, None, None, 1)])
