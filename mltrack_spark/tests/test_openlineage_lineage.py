"""The OpenLineage export of Spark ML models: valid events whose column lineage is the stored stages'.

The demo's Spark experiment (a text and tabular pipeline tuned by
cross-validation, and a tabular one) is recorded into a SQLite store on the
tests' shared Spark session and exported; every event is validated against the
OpenLineage schemas, and each model's ``columnLineage`` facet is compared with
the lineage recomputed here from the stored stages: Spark columns are named
once per DataFrame, so each output column is expanded through the stage that
outputs it until only columns of the training data remain.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import mltrack_core as mt
from mltrack_core.exporters.openlineage import run_events, run_id_of
from mltrack_core.schema import Transform
from mltrack_core.testing.openlineage import validate_openlineage_event
from mltrack_spark.demo import run_demo


@pytest.fixture(scope="module")
def store(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[mt.Tracker]:
    folder = tmp_path_factory.mktemp("openlineage")
    with mt.connect(f"sqlite:///{folder / 'store.db'}") as tracker:
        assert run_demo(tracker, folder, lambda line: None) is not None  # the shared session is reused
        yield tracker


@pytest.fixture(scope="module")
def events(store: mt.Tracker) -> list[dict[str, Any]]:
    from openlineage.client.serde import Serde

    return [Serde.to_dict(event) for event in run_events(store)]


def _expected_lineage(stages: list[Transform]) -> dict[str, set[str]]:
    """The final stage's outputs -> the data columns they come from, by column name."""
    producers = {column: stage for stage in stages for column in stage.column_lineage}

    def data_columns(column: str, seen: frozenset[str] = frozenset()) -> set[str]:
        stage = producers.get(column)
        if stage is None or column in seen:
            return {column}
        return {found for source in stage.inputs_of(column) for found in data_columns(source, seen | {column})}

    consumed = {upstream for stage in stages for upstream in stage.input_transforms}
    final = [stage for stage in stages if stage.id not in consumed]
    return {column: data_columns(column) for stage in final for column in stage.column_lineage}


def test_every_event_validates(events):
    assert events
    for event in events:
        validate_openlineage_event(event)


def test_each_model_column_lineage_is_the_stored_stages(store, events):
    checked = 0
    for model in store.find("model", limit=1_000):
        if not model.transforms:
            continue  # the cross-validation candidates: a model each, no stages of their own
        stages = [store.get(id_) for id_ in model.transforms]
        runs = store.find("run", for_model=model.id)
        run_id = run_id_of("train", runs[0].id if runs else model.id)
        (complete,) = [
            event for event in events if event["run"]["runId"] == run_id and event["eventType"] == "COMPLETE"
        ]
        (output,) = complete["outputs"]
        fields = output["facets"]["columnLineage"]["fields"]
        traced = {column: {item["field"] for item in value["inputFields"]} for column, value in fields.items()}
        expected = _expected_lineage(stages)
        assert traced == expected
        assert {"prediction", "probability"} <= set(traced)
        training_columns = {column.name for column in store.get(model.trained_on).schema}
        assert set().union(*expected.values()) <= training_columns  # traced all the way to the training data
        checked += 1
    assert checked == 2  # the tuned text and tabular pipeline, the tabular one


def test_a_one_hot_encoded_column_comes_from_its_source_column_through_the_indexer(store, events):
    descriptions = {
        item["transformations"][0]["description"]
        for event in events
        for output in event["outputs"]
        for value in output["facets"].get("columnLineage", {}).get("fields", {}).values()
        for item in value["inputFields"]
        if item["field"] == "channel"
    }
    assert descriptions == {"StringIndexerModel, OneHotEncoderModel, VectorAssembler, LogisticRegressionModel"}
