"""The API as other clients see it: the OpenAPI document, the provenance endpoints, the listing."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest
import requests
from openapi_spec_validator import validate

import mltrack_core as mt
from mltrack_core.testing import sample_experiment


@pytest.fixture
def recorded(server) -> dict[str, object]:
    with mt.connect(server.url) as tracker:
        return sample_experiment(tracker)


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
def test_the_openapi_document_is_valid_and_describes_every_operation(server) -> None:
    document = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    validate(document)  # OpenAPI 3 (3.1) document, checked against the specification's schema
    assert document["openapi"].startswith("3.")
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert {
        ("POST", "/v1/entities"),
        ("GET", "/v1/entities"),
        ("GET", "/v1/entities/{entity_id}"),
        ("POST", "/v1/entities/lookup"),
        ("POST", "/v1/query/ids"),
        ("POST", "/v1/query/count"),
        ("POST", "/v1/links"),
        ("POST", "/v1/scores"),
        ("POST", "/v1/points"),
        ("GET", "/v1/runs/{run_id}/points"),
        ("POST", "/v1/runs/{run_id}/end"),
        ("GET", "/v1/entities/{entity_id}/lineage"),
        ("GET", "/v1/evaluations/{a}/comparable/{b}"),
        ("GET", "/v1/datasets/{dataset_id}/leaderboard"),
        ("GET", "/v1/models/{a}/diff/{b}"),
    } <= operations
    entity = document["components"]["schemas"]["Entity"]
    assert set(entity["discriminator"]["mapping"]) == set(mt.schema.KINDS)
    assert requests.get(f"{server.url}/docs", timeout=10).headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
def test_stored_documents_match_the_published_entity_schemas(server, recorded: dict[str, object]) -> None:
    document = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    for entity in recorded.values():
        served = requests.get(f"{server.url}/v1/entities/{entity.id}", timeout=10).json()
        schema = {"$ref": "#/components/schemas/Entity", "components": document["components"]}
        jsonschema.Draft202012Validator(schema).validate(served)
    wrong = {"kind": "model", "name": "m", "learning_algorithm": 3, "trained_on": "ds-1"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(wrong)


def test_provenance_questions_are_answered_in_json(server, recorded: dict[str, object]) -> None:
    evaluation, test, model = recorded["evaluation"], recorded["test"], recorded["model"]
    lineage = requests.get(f"{server.url}/v1/entities/{evaluation.id}/lineage", timeout=10).json()
    datasets = {node["id"] for node in lineage["nodes"] if node["kind"] == "dataset"}
    assert datasets == {recorded[role].id for role in ("full", "train", "test")}
    downstream = requests.get(
        f"{server.url}/v1/entities/{recorded['full'].id}/lineage", params={"direction": "downstream", "depth": 1}
    ).json()
    assert {node["id"] for node in downstream["nodes"]} == {recorded[role].id for role in ("full", "train", "test")}
    board = requests.get(f"{server.url}/v1/datasets/{test.id}/leaderboard", params={"metric": "accuracy"}).json()
    assert [entry["evaluation"] for entry in board["entries"]] == [evaluation.id]
    assert board["greater_is_better"] is True
    same = requests.get(f"{server.url}/v1/evaluations/{evaluation.id}/comparable/{evaluation.id}").json()
    assert same == {"comparable": True, "reasons": [], "metrics": ["accuracy", "log_loss"]}
    diff = requests.get(f"{server.url}/v1/models/{model.id}/diff/{model.id}").json()
    assert diff["a"] == model.id and diff["hyperparameters"] == {}
    run = requests.get(f"{server.url}/v1/entities/{recorded['run'].id}").json()
    assert [point["value"] for point in run["scores_over_time"]] == [1.0, 0.5, 1.0 / 3]
    points = requests.get(f"{server.url}/v1/runs/{recorded['run'].id}/points", params={"tail": 2}).json()
    assert points["total"] == 3 and [row[2] for row in points["points"]] == [0.5, 1.0 / 3]


def test_listing_pages_and_filters(server, recorded: dict[str, object]) -> None:
    page = requests.get(f"{server.url}/v1/entities", params={"kind": "dataset", "limit": 2, "offset": 1}).json()
    assert page["total"] == 3 and [entity["name"] for entity in page["entities"]] == ["iris-train", "iris"]
    tagged = requests.get(f"{server.url}/v1/entities", params={"tag": "source=uci"}).json()
    assert [entity["id"] for entity in tagged["entities"]] == [recorded["full"].id]
    trained = requests.get(f"{server.url}/v1/entities", params={"trained_on": recorded["train"].id}).json()
    assert {entity["kind"] for entity in trained["entities"]} == {"model", "run"}


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
def test_the_document_declares_every_answer_a_model_and_every_error_the_error_body(server) -> None:
    document = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answers = operation["responses"]
            if "text/event-stream" in answers["200"]["content"]:  # a stream of server-sent events, not a document
                assert list(answers["200"]["content"]) == ["text/event-stream"], f"{method} {path}"
            else:
                ok = answers["200"]["content"]["application/json"]["schema"]
                assert "$ref" in ok, f"{method} {path} answers {ok}"  # a model, not {"type": "string"}
            assert answers["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorOut"
            }
    schemas = document["components"]["schemas"]
    offset = next(p for p in document["paths"]["/v1/entities"]["get"]["parameters"] if p["name"] == "offset")
    assert offset["schema"]["maximum"] == 2**63 - 1 and isinstance(offset["schema"]["minimum"], int)
    assert schemas["ScoreAtTime"]["properties"]["timestamp"]["maximum"] == 253_402_300_799_999
    assert {"enum": ["NaN", "Infinity", "-Infinity"]} in schemas["ScoreAtTime"]["properties"]["value"]["anyOf"]


def test_non_finite_scores_and_points_round_trip_through_the_server_in_standard_json(server) -> None:
    values = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "one": 1.0}
    with mt.connect(server.url) as tracker:
        dataset = tracker.track_dataset(name="d")
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
        evaluation = tracker.track_evaluation(values, computed_by=model, on_dataset=dataset)
        run = tracker.track_training(name="fit", trained_on=dataset)
        for value in values.values():
            run.log("loss", value)
        run.finish(model)
    for path in (f"/v1/entities/{evaluation.id}", f"/v1/entities/{run.id}", f"/v1/runs/{run.id}/points"):
        text = requests.get(f"{server.url}{path}", timeout=10).text
        json.loads(text, parse_constant=_not_standard)  # a strict parser reads every answer
    listing = requests.get(f"{server.url}/v1/entities", params={"kind": "evaluation"}, timeout=10).text
    assert '"NaN"' in listing and '"-Infinity"' in listing
    json.loads(listing, parse_constant=_not_standard)
    with mt.connect(server.url) as reader:
        read = {score.metric: score.value for score in reader.get(evaluation.id).scores}
        points = [point.value for point in reader.points(run.id)]
        logged = [point.value for point in reader.get(run.id).scores_over_time]
    assert _same(read, values) and _same(dict(enumerate(points)), dict(enumerate(values.values())))
    assert _same(dict(enumerate(logged)), dict(enumerate(values.values())))


def _same(found: dict, expected: dict) -> bool:
    return found.keys() == expected.keys() and all(
        (math.isnan(value) and math.isnan(found[key])) or value == found[key] for key, value in expected.items()
    )


def _not_standard(name: str) -> None:
    raise AssertionError(f"{name} is not standard JSON")
