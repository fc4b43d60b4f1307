"""Values PostgreSQL cannot hold as they are (NUL, NaN, long index keys) round-trip and stay queryable."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrack_core as mt
from mltrack_core import Dataset, Model, Parameter, Score
from mltrack_core.schema import MAX_ID_LENGTH


@pytest.fixture
def tracker(store_uri: str, tmp_path: Path) -> Iterator[mt.Tracker]:
    with mt.connect(store_uri, artifacts=tmp_path / "artifacts") as tracker:
        yield tracker


def test_nan_and_infinities_round_trip(tracker: mt.Tracker) -> None:
    dataset = tracker.track_dataset(name="d")
    model = tracker.track_model(
        name="m",
        learning_algorithm="lr",
        trained_on=dataset,
        hyperparameters=[Parameter.of("nan", math.nan), Parameter.of("inf", math.inf), Parameter.of("ninf", -math.inf)],
    )
    values = [parameter.value for parameter in tracker.get(model.id).hyperparameters]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf]
    evaluation = tracker.track_evaluation([Score(metric="odd", value=math.nan)], computed_by=model, on_dataset=dataset)
    assert math.isnan(tracker.get(evaluation.id).scores[0].value)
    with tracker.track_training(name="fit", trained_on=dataset) as run:
        for value in (math.nan, math.inf, -math.inf, 5e-324, 1.7976931348623157e308):
            run.log("loss", value)
    stored = [point.value for point in tracker.get(run.id).scores_over_time]
    assert math.isnan(stored[0])
    assert stored[1:] == [math.inf, -math.inf, 5e-324, 1.7976931348623157e308]


TEXTS = ["nul\x00inside", "back\\slash", "back\\0slash", "\\", "\x00", "Müller-数据 ✓ 🧪", "שלום", "tab\there"]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_any_text_is_stored_and_found_as_it_is(tracker: mt.Tracker, text: str) -> None:
    with tracker.experiment(text):
        dataset = tracker.track_dataset(
            name=text, fingerprint=text, tags={text: text}, annotations={"note": text}, location=text
        )
    assert tracker.get(dataset.id) == dataset
    assert tracker.find("dataset", name=text) == [dataset]
    assert tracker.find(experiment=text) == [dataset]
    assert tracker.find(fingerprint=text) == [dataset]
    assert tracker.find(tags={text: text}) == [dataset]
    assert tracker.find(annotations={"note": text}) == [dataset]
    model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
    evaluation = tracker.track_evaluation({text: 0.5}, computed_by=model, on_dataset=dataset)
    assert tracker.store.scores([dataset.id], text) == [(evaluation.id, 0.5)]
    with tracker.track_training(name="fit") as run:
        run.log(text, 1.0)
    assert [point.metric for point in tracker.points(run.id)] == [text]


def test_texts_that_escape_alike_stay_apart(tracker: mt.Tracker) -> None:
    nul, written_out = tracker.track_dataset(name="a\x00b"), tracker.track_dataset(name="a\\0b")
    assert tracker.find(name="a\x00b") == [nul]
    assert tracker.find(name="a\\0b") == [written_out]
    assert tracker.find(name="a\\\\0b") == []


def test_long_names_and_labels_are_stored_and_found(tracker: mt.Tracker) -> None:
    long = "长" * 100_000  # 300 kB of UTF-8: far beyond what a btree index entry holds
    dataset = tracker.track_dataset(name=long, fingerprint=long, tags={long: long}, annotations={long: long})
    assert tracker.find(name=long) == [dataset]
    assert tracker.find(fingerprint=long) == [dataset]
    assert tracker.find(tags={long: long}) == [dataset]
    assert tracker.find(tags={long: long[:-1]}) == []
    assert tracker.find(annotations={long: long}) == [dataset]
    assert tracker.get(dataset.id).tags == {long: long}


def test_the_longest_ids_link_each_other(tracker: mt.Tracker) -> None:
    dataset = tracker.track_dataset(Dataset(id="🧪" * MAX_ID_LENGTH, name="d"))  # 2 kB of UTF-8
    derived = tracker.track_dataset(Dataset(id="📊" * MAX_ID_LENGTH, name="e", derived_from=[dataset]))
    model = tracker.track_model(Model(id="🤖" * MAX_ID_LENGTH, name="m", learning_algorithm="lr", trained_on=derived))
    assert tracker.find("model", trained_on=derived) == [model]
    assert {e.id for e in tracker.lineage(model).of_kind("dataset")} == {dataset.id, derived.id}
    assert {e.id for e in tracker.lineage(dataset, "downstream").nodes.values()} == {dataset.id, derived.id, model.id}


def test_huge_documents_round_trip(tracker: mt.Tracker) -> None:
    dataset = tracker.track_dataset(name="d")
    vocabulary = {f"wörd{i}\x00": i for i in range(100_000)}
    model = tracker.track_model(
        name="m",
        learning_algorithm="lr",
        trained_on=dataset,
        hyperparameters=[Parameter(name="vocabulary", value=vocabulary)],
    )
    assert tracker.get(model.id).hyperparameters[0].value == vocabulary
