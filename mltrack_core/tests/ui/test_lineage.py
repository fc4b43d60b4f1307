"""The lineage page: the entities tracker.lineage reaches at the chosen depth, drawn and listed, each linked."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

import mltrack_core as mt
from mltrack_core.schema import Entity, Prediction, TrainingRun, TrainingState, Transform, TypedColumn
from mltrack_core.ui.pages import lineage as lineage_page

HOSTILE = "<script>alert(1)</script>"
PAGE_OF = {"dataset": "datasets", "model": "models", "run": "runs"}


def page_data(page: str, element_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    assert found is not None, f"no page data {element_id!r}"
    return json.loads(found.group(1))


def href_of(entity: Entity) -> str:
    return f"/ui/{PAGE_OF.get(entity.KIND, 'entities')}/{entity.id}"


def experiment(tracker: mt.Tracker, *, transforms: int = 2, data_name: str = "iris") -> dict[str, Any]:
    """raw -> train/test splits -> model (with transforms) -> run, prediction, evaluation."""
    raw = tracker.track_dataset(name=data_name, location="file:///data/iris.csv")
    train = tracker.track_dataset(name="iris-train", derived_from=[raw.id], derivation="split 70%")
    test = tracker.track_dataset(name="iris-test", derived_from=[raw.id], derivation="split 30%")
    steps: list[Transform] = []
    for index in range(transforms):
        steps.append(
            Transform(
                name=f"step{index}",
                operator="StandardScaler",
                input=[TypedColumn(name="x")],
                output=[TypedColumn(name="x")],
                input_transforms=[steps[-1].id] if steps else [],
            )
        )
    tracker.write(steps)
    model = tracker.track_model(
        name="iris-model", learning_algorithm="LogisticRegression", trained_on=train, transforms=steps
    )
    run = TrainingRun(
        name="fit", state=TrainingState.FINISHED, start_time=1, end_time=2, for_model=model.id, trained_on=train.id
    )
    prediction = Prediction(computed_by=model.id, on_dataset=test.id, location="file:///predictions.csv")
    tracker.write([run, prediction])
    evaluation = tracker.track_evaluation(
        {"accuracy": 0.95}, computed_by=model, on_dataset=test, for_prediction=prediction
    )
    tracker.flush()
    return {"raw": raw, "train": train, "test": test, "model": model, "run": run, "prediction": prediction,
            "evaluation": evaluation, "transforms": steps}  # fmt: skip


def expected(tracker: mt.Tracker, root: str, depth: int, directions: tuple[str, ...]) -> tuple[set[str], set]:
    nodes: set[str] = set()
    edges: set[tuple[str, str, str]] = set()
    for direction in directions:
        lineage = tracker.lineage(root, direction, depth)
        nodes |= set(lineage.nodes)
        edges |= {(edge.source, edge.target, edge.relation) for edge in lineage.edges}
    return nodes, edges


def drawn(graph: dict[str, Any]) -> tuple[set[str], set]:
    return {node["id"] for node in graph["nodes"]}, {(e["source"], e["target"], e["label"]) for e in graph["edges"]}


def test_nodes_are_the_lineage_both_ways_each_linked_to_its_page(tracker: mt.Tracker, client: TestClient) -> None:
    made = experiment(tracker)
    model = made["model"]
    answer = client.get(f"/ui/lineage/{model.id}")
    assert answer.status_code == 200
    page = answer.text
    graph = page_data(page, "lineage-graph")
    assert drawn(graph) == expected(tracker, model.id, 3, ("upstream", "downstream"))
    everything = {
        entity.id: entity for value in made.values() for entity in (value if isinstance(value, list) else [value])
    }
    # all of it is within 3 steps, but the test split: it is upstream of something downstream of the model
    assert {node["id"] for node in graph["nodes"]} == set(everything) - {made["test"].id}
    for node in graph["nodes"]:
        assert node["href"] == href_of(everything[node["id"]])
        assert node["kind"] == everything[node["id"]].KIND
        assert f'data-entity-id="{node["id"]}"' in page  # the table lists the same entities
        assert f'href="{node["href"]}"' in page
    root = next(node for node in graph["nodes"] if node["id"] == model.id)
    assert root["class"] == "model root" and graph["root"] == model.id
    assert {"trained_on", "derived_from", "computed_by", "for_model", "for_prediction", "transforms",
            "input_transforms"} == {edge[2] for edge in drawn(graph)[1]}  # fmt: skip
    # the depth control keeps the view in the URL
    assert 'name="depth" min="0" max="20" value="3"' in page
    assert f'href="/ui/lineage/{model.id}?depth=4&amp;direction=both"' in page
    assert f'href="/ui/lineage/{model.id}?depth=2&amp;direction=both"' in page
    assert '<option value="both" selected>' in page


def test_depth_and_direction_from_the_url(tracker: mt.Tracker, client: TestClient) -> None:
    made = experiment(tracker)
    evaluation = made["evaluation"]
    for depth, direction, directions in (
        (1, "both", ("upstream", "downstream")),
        (2, "upstream", ("upstream",)),
        (5, "upstream", ("upstream",)),
        (0, "downstream", ("downstream",)),
    ):
        page = client.get(f"/ui/lineage/{evaluation.id}", params={"depth": depth, "direction": direction}).text
        graph = page_data(page, "lineage-graph")
        assert drawn(graph) == expected(tracker, evaluation.id, depth, directions), (depth, direction)
        assert f'value="{depth}"' in page and f'<option value="{direction}" selected>' in page
    one_step = page_data(client.get(f"/ui/lineage/{evaluation.id}", params={"depth": 1}).text, "lineage-graph")
    assert {node["id"] for node in one_step["nodes"]} == {
        evaluation.id,
        made["model"].id,
        made["test"].id,
        made["prediction"].id,
    }
    train = made["train"]
    downstream = page_data(
        client.get(f"/ui/lineage/{train.id}", params={"direction": "downstream", "depth": 2}).text, "lineage-graph"
    )
    assert {node["id"] for node in downstream["nodes"]} == {
        train.id,
        made["model"].id,
        made["run"].id,
        made["prediction"].id,
        made["evaluation"].id,
    }


def test_many_transforms_are_one_group_vertex_until_asked(tracker: mt.Tracker, client: TestClient) -> None:
    made = experiment(tracker, transforms=7)
    model = made["model"]
    page = client.get(f"/ui/lineage/{model.id}", params={"depth": 2}).text
    graph = page_data(page, "lineage-graph")
    ids = {node["id"] for node in graph["nodes"]}
    assert not ids & {t.id for t in made["transforms"]}
    group = next(node for node in graph["nodes"] if node["id"] == "transforms/")
    assert group["label"] == "7 transforms"
    assert group["href"] == f"/ui/lineage/{model.id}?depth=2&direction=both&transforms=all"
    assert (model.id, "transforms/", "transforms") in drawn(graph)[1]
    assert all(t.id in page for t in made["transforms"])  # the table still lists each one
    every = page_data(
        client.get(f"/ui/lineage/{model.id}", params={"depth": 2, "transforms": "all"}).text, "lineage-graph"
    )
    assert drawn(every) == expected(tracker, model.id, 2, ("upstream", "downstream"))


def test_hostile_names_are_escaped(tracker: mt.Tracker, client: TestClient) -> None:
    made = experiment(tracker, data_name=HOSTILE)
    raw = made["raw"]
    page = client.get(f"/ui/lineage/{raw.id}").text
    assert HOSTILE not in page
    assert html.escape(HOSTILE, quote=False) in page
    assert "\\u003cscript\\u003e" in page
    graph = page_data(page, "lineage-graph")
    assert any(node["label"] == f"dataset {HOSTILE}" for node in graph["nodes"])


def test_unknown_entity_and_bad_depth_are_html_errors(tracker: mt.Tracker, client: TestClient) -> None:
    made = experiment(tracker)
    answer = client.get("/ui/lineage/no-such-entity")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "no-such-entity" in answer.text
    for params in ({"depth": 21}, {"depth": -1}, {"direction": "sideways"}):
        answer = client.get(f"/ui/lineage/{made['model'].id}", params=params)
        assert answer.status_code == 422, params
        assert answer.headers["content-type"].startswith("text/html")


def test_a_lineage_too_large_to_draw_is_listed(
    tracker: mt.Tracker, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = experiment(tracker)
    monkeypatch.setattr(lineage_page, "MAX_DRAWN_VERTICES", 5)  # a small limit stands for thousands of entities
    page = client.get(f"/ui/lineage/{made['model'].id}").text
    assert 'id="lineage-graph"' not in page
    assert "More than 5 entities are too many to draw" in page
    for entity in (made["raw"], made["train"], made["run"], made["evaluation"]):
        assert f'data-entity-id="{entity.id}"' in page
