"""The OpenLineage export of scikit-learn models: valid events whose column lineage is the stored transforms'.

The demo's scikit-learn experiment (a grid search over a ColumnTransformer
with a PCA branch, a random forest, a baseline) and a pipeline with a one-hot
encoded text column are recorded into an in-memory store and exported; every
event is validated against the OpenLineage schemas, and each model's
``columnLineage`` facet is compared with the lineage recomputed here from the
stored transforms (each learner's input columns, followed back through the
``column_lineage`` of the transforms that output them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import mltrack_core as mt
from mltrack_core.exporters.openlineage import run_events, run_id_of
from mltrack_core.schema import Model, Transform
from mltrack_core.testing.openlineage import validate_openlineage_event
from mltrack_sklearn.demo import run_demo
from mltrack_sklearn.tracked import TrackedPipeline


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, wine: Any) -> Iterator[mt.Tracker]:
    with mt.connect("memory://", artifacts=tmp_path_factory.mktemp("artifacts")) as tracker:
        run_demo(tracker, tmp_path_factory.mktemp("demo"), lambda line: None)
        X, y = wine
        features = ColumnTransformer(
            [("num", StandardScaler(), ["alcohol", "malic_acid"]), ("cat", OneHotEncoder(), ["strength"])]
        )
        pipeline = TrackedPipeline([("features", features), ("classify", LogisticRegression())], tracker=tracker)
        pipeline.set_params(classify__max_iter=2000).fit(X, y)
        yield tracker


@pytest.fixture(scope="module")
def events(store: mt.Tracker) -> list[dict[str, Any]]:
    from openlineage.client.serde import Serde

    return [Serde.to_dict(event) for event in run_events(store)]


def _expected_lineage(transforms: list[Transform]) -> dict[str, set[str]]:
    """Each learner input column -> the data columns it comes from, through the producing transforms' lineage."""
    outputs = {transform.id: set(transform.column_lineage) for transform in transforms}
    by_id = {transform.id: transform for transform in transforms}

    def data_columns(column: str, consumer: Transform) -> set[str]:
        producer = next((up for up in consumer.input_transforms if column in outputs.get(up, ())), None)
        if producer is None:
            return {column}
        return {
            found for source in by_id[producer].inputs_of(column) for found in data_columns(source, by_id[producer])
        }

    expected: dict[str, set[str]] = {}
    for learner in (transform for transform in transforms if not transform.output):
        for column in learner.input:
            expected.setdefault(column.name, set()).update(data_columns(column.name, learner))
    return expected


def _model_output(events: list[dict[str, Any]], model: Model, store: mt.Tracker) -> dict[str, Any]:
    runs = store.find("run", for_model=model.id)
    run_id = run_id_of("train", runs[0].id if runs else model.id)
    (complete,) = [event for event in events if event["run"]["runId"] == run_id and event["eventType"] == "COMPLETE"]
    (output,) = complete["outputs"]
    assert output["facets"]["mltrack"]["id"] == model.id
    return output


def test_every_event_validates(events):
    assert events
    for event in events:
        validate_openlineage_event(event)


def test_each_model_column_lineage_is_the_stored_transforms(store, events):
    checked = 0
    for model in store.find("model", limit=1_000):
        transforms = [store.get(id_) for id_ in model.transforms]
        expected = _expected_lineage(transforms)
        output = _model_output(events, model, store)
        if not expected:
            assert "columnLineage" not in output["facets"]
            continue
        fields = output["facets"]["columnLineage"]["fields"]
        assert {
            column: {item["field"] for item in value["inputFields"]} for column, value in fields.items()
        } == expected
        training_columns = {column.name for column in store.get(model.trained_on).schema}
        assert set().union(*expected.values()) <= training_columns  # traced all the way to the training data
        checked += 1
    assert checked >= 5  # the demo's three pipelines with transforms, the refit search, the one-hot pipeline


def test_one_hot_columns_come_from_their_source_column_through_the_encoder(store, events):
    model = next(model for model in store.find("model") if "strength" in {column.name for column in model.input})
    fields = _model_output(events, model, store)["facets"]["columnLineage"]["fields"]
    one_hot = {column: value for column, value in fields.items() if column.startswith("cat__")}
    assert set(one_hot) == {"cat__strength_light", "cat__strength_strong"}
    for value in one_hot.values():
        (source,) = value["inputFields"]
        assert source["field"] == "strength"
        assert source["transformations"] == [
            {"type": "DIRECT", "subtype": "TRANSFORMATION", "description": "OneHotEncoder, ColumnTransformer"}
        ]


def test_a_pca_component_comes_from_every_column_of_its_branch(store, events):
    pcas = {transform.id: transform for transform in store.find("transform") if transform.operator == "PCA"}
    model = next(model for model in store.find("model") if set(model.transforms) & set(pcas))
    fields = _model_output(events, model, store)["facets"]["columnLineage"]["fields"]
    (pca,) = [pcas[id_] for id_ in model.transforms if id_ in pcas]
    branch_inputs = {column.name for column in pca.input}
    pca0 = next(column for column in fields if column.endswith("pca0"))  # worst__pca0, or with the search's prefix
    assert {item["field"] for item in fields[pca0]["inputFields"]} == branch_inputs
    assert len(branch_inputs) == 10
