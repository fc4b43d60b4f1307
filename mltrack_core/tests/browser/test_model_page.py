"""The model page in a browser: the drawn DAG against what the store holds.

scikit-learn and Spark models: the column-level DAG (columns are vertices, operators are edges). MXNet models:
the network layout (operators with their types and output shapes), collapsed by name prefix when large.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mltrack_core.schema import Transform
from mltrack_core.ui.pages.model import column_vertex_id, drawn_count, name_separator

GRAPH = "#model-dag"
SKLEARN_MODEL = "breast cancer grid search (refit best)"
SPARK_MODEL = "tickets-text-tabular-cv"
MXNET_MODEL = "digits-cnn"


def stored_transforms(tracker: Any, model: Any) -> list[Transform]:
    """The model's transforms as stored, with the input transforms they name (the page draws those too)."""
    found = tracker.get_many(list(model.transforms), with_scores=False)
    upstream = {id_ for transform in found.values() for id_ in transform.input_transforms} - set(found)
    found.update(tracker.get_many(sorted(upstream), with_scores=False))
    return [entity for entity in found.values() if isinstance(entity, Transform)]


def expected_column_vertices(transforms: list[Transform]) -> set[str]:
    """The vertices of the column DAG the paper describes, from the stored transforms.

    Each column a transform reads (as output by the input transform that makes it, or as a column of the training
    data), each column a transform writes, and each transform that writes no column (a learner) as a vertex.
    """
    outputs = {transform.id: {column.name for column in transform.output} for transform in transforms}

    def producer(transform: Transform, column: str) -> str | None:
        return next((id_ for id_ in transform.input_transforms if column in outputs.get(id_, ())), None)

    vertices = set()
    for transform in transforms:
        vertices |= {column_vertex_id(producer(transform, column.name), column.name) for column in transform.input}
        vertices |= {column_vertex_id(transform.id, column.name) for column in transform.output}
        if not transform.output:
            vertices.add(transform.id)
    return vertices


def drawn_graph(page: Any) -> dict[str, Any]:
    """The vertices (id -> their full text) and edges (source, target) drawn in the model page's SVG."""
    page.wait_for_selector(f'{GRAPH}[data-drawn="true"]', state="attached")
    return page.evaluate(
        """(graph) => ({
            nodes: Object.fromEntries([...document.querySelectorAll(graph + ' svg g.node')].map(
                (node) => [node.getAttribute('data-id'), node.querySelector('title').textContent])),
            edges: [...document.querySelectorAll(graph + ' svg g.edge')].map(
                (edge) => [edge.getAttribute('data-source'), edge.getAttribute('data-target')]),
        })""",
        GRAPH,
    )


@pytest.mark.parametrize(
    ("model_name", "screenshot", "data_columns"),
    [
        pytest.param(SKLEARN_MODEL, "model-sklearn-column-dag", ["mean radius", "worst symmetry"], id="scikit-learn"),
        pytest.param(SPARK_MODEL, "model-spark-column-dag", ["ticket", "channel", "wait_minutes"], id="spark"),
    ],
)
def test_the_column_dag_draws_one_vertex_per_stored_column(
    page: Any,
    demo_store: Any,
    demo_server: str,
    screenshots: Any,
    model_name: str,
    screenshot: str,
    data_columns: list[str],
) -> None:
    model = demo_store.model_named(model_name)
    transforms = stored_transforms(demo_store.tracker, model)
    expected = expected_column_vertices(transforms)

    page.goto(f"{demo_server}/ui/models/{model.id}")
    drawn = drawn_graph(page)

    assert len(drawn["nodes"]) == len(expected)
    assert set(drawn["nodes"]) == expected
    for column in data_columns:  # the training data's columns are the DAG's sources
        assert drawn["nodes"][column_vertex_id(None, column)].startswith(column)
    assert drawn["edges"], "a column DAG without edges"
    assert {end for edge in drawn["edges"] for end in edge} <= expected, "an edge to a vertex that is not drawn"
    sinks = [transform for transform in transforms if not transform.output]
    for sink in sinks:  # a learner is fed by the columns it reads
        assert any(target == sink.id for _, target in drawn["edges"]), f"nothing feeds {sink.name}"
    screenshots(page, screenshot, url=f"{demo_server}/ui/models/{model.id}?fit=width", focus="section.dag")


def test_the_network_layout_shows_each_operators_type_and_output_shape(
    page: Any, demo_store: Any, demo_server: str, screenshots: Any
) -> None:
    model = demo_store.model_named(MXNET_MODEL)
    transforms = stored_transforms(demo_store.tracker, model)

    page.goto(f"{demo_server}/ui/models/{model.id}")
    drawn = drawn_graph(page)

    assert set(drawn["nodes"]) == {transform.id for transform in transforms}
    for transform in transforms:
        shape = next(parameter.value for parameter in transform.parameters if parameter.name == "output_shape")
        text = drawn["nodes"][transform.id]
        assert transform.name in text and transform.operator in text
        assert "×".join(str(dimension) for dimension in shape) in text, f"{transform.name}: no shape in {text!r}"
    # data flows from the first operator to the output: every operator but the first is fed by another
    fed = {target for _, target in drawn["edges"]}
    assert len(fed) == len(transforms) - 1
    screenshots(page, "model-mxnet-layout", focus="section.dag")


def test_a_large_network_collapses_by_name_prefix_as_the_server_counts(
    page: Any, demo_store: Any, demo_server: str
) -> None:
    model = demo_store.tracker.get(demo_store.resnet)
    names = [transform.name for transform in stored_transforms(demo_store.tracker, model)]
    separator = name_separator(names)
    assert separator is not None and len(names) > 60

    page.goto(f"{demo_server}/ui/models/{model.id}")
    opened = drawn_graph(page)
    everything = len(names)
    assert len(opened["nodes"]) < everything, "a network of 60+ operators opens collapsed"

    # Each depth of the collapse control draws as many vertices as the server's rule counts (graph.js and
    # mltrack_core.ui.pages.model group alike); depth 0 draws every operator.
    depths = page.eval_on_selector_all(
        'select[data-graph-control="collapse"] option', "options => options.map(o => o.value)"
    )
    assert depths[0] == "0" and len(depths) > 2
    for depth in depths:
        page.select_option('select[data-graph-control="collapse"]', depth)
        expected = drawn_count(names, separator, int(depth)) if depth != "0" else everything
        page.wait_for_function(
            "([graph, count]) => document.querySelectorAll(graph + ' svg g.node').length === count",
            arg=[GRAPH, expected],
        )
        assert parse_qs(urlsplit(page.url).query)["collapse"] == [depth]

    # Clicking a group opens it one level deeper; the opened group is in the URL, so a reload shows the same view.
    page.select_option('select[data-graph-control="collapse"]', depths[1])
    collapsed = len(drawn_graph(page)["nodes"])
    group = page.locator(f"{GRAPH} svg g.node.group").first
    prefix, members = group.get_attribute("data-prefix"), int(group.get_attribute("data-members"))
    group.click()
    page.wait_for_function(
        "([graph, count]) => document.querySelectorAll(graph + ' svg g.node').length > count", arg=[GRAPH, collapsed]
    )
    assert parse_qs(urlsplit(page.url).query)["expand"] == [prefix]
    expanded = len(drawn_graph(page)["nodes"])
    assert collapsed < expanded <= collapsed - 1 + members
    page.reload()
    assert len(drawn_graph(page)["nodes"]) == expanded
