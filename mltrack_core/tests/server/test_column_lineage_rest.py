"""The compact column lineage ("*": every input column) through the REST API, stored as it is by every store."""

from __future__ import annotations

import jsonschema
import requests

import mltrack_core as mt
from mltrack_core.schema import ALL_INPUTS, Transform, TypedColumn


def test_the_marker_is_served_as_stored_and_as_the_document_describes(server) -> None:
    inputs = [TypedColumn(name=f"c{i}") for i in range(300)]
    transform = Transform(
        name="pca",
        input=inputs,
        output=[TypedColumn(name=f"pca{i}") for i in range(20)],
        column_lineage={**{f"pca{i}": ALL_INPUTS for i in range(19)}, "pca19": ["c0", "c1"]},
    )
    with mt.connect(server.url) as tracker:
        tracker.track_transform(transform)
        found = tracker.get(transform.id)
    assert found.column_lineage == transform.column_lineage
    assert found.inputs_of("pca3") == tuple(column.name for column in inputs)
    served = requests.get(f"{server.url}/v1/entities/{transform.id}", timeout=10).json()
    assert served["column_lineage"]["pca3"] == "*"
    assert served["column_lineage"]["pca19"] == ["c0", "c1"]
    document = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    schema = {"$ref": "#/components/schemas/Entity", "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(served)


def test_a_marker_without_input_columns_is_refused_by_the_server(server) -> None:
    document = {"kind": "transform", "name": "t", "column_lineage": {"out": "*"}}
    answer = requests.post(f"{server.url}/v1/entities", json={"entities": [document]}, timeout=10)
    assert answer.status_code == 422
    assert "lists no input columns" in answer.json()["message"]
