"""Recommendations over the metadata server: the same answer as on the store itself, from the store contract."""

from __future__ import annotations

import pytest

import mltrack_core as mt

CV = "5-fold cross-validation"


def _record_history(tracker: mt.Tracker) -> mt.Dataset:
    """Trees win on three small datasets, linear models on three large ones; returns a new small dataset."""
    for size, winner in ((100, "DecisionTreeClassifier"), (100_000, "LogisticRegression")):
        for index in range(3):
            statistics = [
                mt.DataStatistic(name="meta.rows", value=size + index),
                mt.DataStatistic(name="meta.features", value=5),
            ]
            data = tracker.track_dataset(mt.Dataset(name=f"{size}-{index}", statistics=statistics))
            for algorithm in ("DecisionTreeClassifier", "LogisticRegression"):
                model = tracker.track_model(mt.Model(name=algorithm, learning_algorithm=algorithm, trained_on=data.id))
                value = 0.9 if algorithm == winner else 0.7
                tracker.track_evaluation({"accuracy": value}, computed_by=model, on_dataset=data, procedure=CV)
    statistics = [mt.DataStatistic(name="meta.rows", value=120), mt.DataStatistic(name="meta.features", value=5)]
    return tracker.track_dataset(mt.Dataset(name="new", statistics=statistics))


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
def test_a_client_of_the_server_gets_the_recommendations_the_store_gives(server) -> None:
    with mt.connect(server.url) as remote:
        asked = _record_history(remote)
        found = remote.recommend(asked.id, "accuracy", k=2)
        empty = remote.recommend(asked.id, "log_loss")
    with mt.connect(server.store_uri, read_only=True) as local:
        expected = local.recommend(asked.id, "accuracy", k=2)
    assert [item.learning_algorithm for item in found.items] == ["DecisionTreeClassifier", "LogisticRegression"]
    assert found.to_json() == expected.to_json()
    assert {neighbour.name for neighbour in found.neighbours[:3]} == {f"100-{index}" for index in range(3)}
    assert len(found.neighbours) == 5  # the default number of similar datasets
    assert empty.items == () and "nothing to learn from yet" in empty.notes[0]
