"""The model page: what a model is, how it was trained and evaluated, and its transformation DAG.

The DAG is drawn in the browser by ``static/js/graph.js`` from the graph this module builds
(handed over as JSON page data), in one of two views:

- **columns** (scikit-learn, Spark: transforms that list their columns): the column-level DAG
  of the paper. Vertices are columns, operators are edges: an edge from each input column to
  each output column computed from it (``column_lineage``, with ``"*"`` meaning every input),
  labelled with the operator; a composition (a ColumnTransformer) passes its branches' columns
  on. A transform without output columns (the learner, a dropped branch) is a vertex of its
  own, fed by its input columns (an ensemble: by its members). See :func:`column_dag`.
- **operators** (MXNet, and any model whose transforms list no columns): the network layout.
  Operators are vertices (name, then operator type and output shape), edges follow
  ``input_transforms``; large networks are collapsed by name prefix (``collapse=N`` in the
  URL, ``collapse=0`` shows every operator; ``expand=PREFIX`` opens a group).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from mltrack_core.columns import ColumnGraph, model_transforms
from mltrack_core.schema import Evaluation, Model, Parameter, Transform
from mltrack_core.server.app import Reader
from mltrack_core.ui.templating import entity_url, render

__all__ = [
    "column_dag",
    "column_vertex_id",
    "default_collapse_depth",
    "drawn_count",
    "name_separator",
    "operator_graph",
    "prefix_of",
    "router",
]

router = APIRouter()

MAX_COLUMN_VERTICES = 2_000
"""A column DAG with more vertices (a text vectorizer's vocabulary) is shown as its operators instead."""
MAX_COLUMN_EDGES = 10_000
"""Likewise for edges (a projection of many columns draws outputs x inputs edges)."""
SEPARATORS = ("__", "/", ".", "_")
"""Name separators tried, in this order, for collapsing operators by name prefix (scikit-learn paths use ``__``)."""
SMALL_GRAPH = 60
"""Graphs of at most this many operators open with every operator shown."""
ENOUGH_VERTICES = 20
"""A collapsed graph opens at the first depth that draws at least this many vertices..."""
TOO_MANY_VERTICES = 100
"""...and at most this many (see :func:`default_collapse_depth`)."""
EVALUATIONS_SHOWN = 200
"""The model page lists this many of a model's evaluations, newest first, and says how many there are."""
NETWORK_FRAMEWORKS = frozenset({"mxnet"})
"""Frameworks whose transforms are a network's operators (drawn as the network layout)."""


@router.get("/models/{model_id}", response_class=HTMLResponse, name="model")
def model_page(
    model_id: str,
    request: Request,
    principal: Reader,
    view: Literal["columns", "operators"] | None = None,
    collapse: Annotated[int | None, Query(ge=0, le=64)] = None,
    expand: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The model ``model_id``: facts, hyperparameters, runs, evaluations and the transformation DAG.

    Args:
        model_id: The model's id.
        request: The request being answered.
        principal: Who asks (a reader).
        view: ``columns`` (the column DAG) or ``operators`` (the operator graph); by default the
            column DAG when the transforms list columns and the model is not a network.
        collapse: The name-prefix depth operators are grouped at (0: none); by default one that
            draws a few dozen vertices for a large network.
        expand: Groups (name prefixes) shown opened.

    Returns:
        The HTML page.
    """
    tracker = request.app.state.tracker
    model: Model = tracker.get(model_id, "model")
    runs = tracker.find("run", for_model=model.id)
    evaluations: list[Evaluation] = tracker.find("evaluation", computed_by=model.id, limit=EVALUATIONS_SHOWN)
    evaluation_count = (
        tracker.count("evaluation", computed_by=model.id) if len(evaluations) == EVALUATIONS_SHOWN else len(evaluations)
    )
    transforms = model_transforms(tracker, model, runs)
    related_ids = [model.trained_on, *(evaluation.on_dataset for evaluation in evaluations)]
    related = tracker.get_many(list(dict.fromkeys(related_ids)), with_scores=False)
    training_data = related.get(model.trained_on)

    def transform_href(transform_id: str) -> str:
        return entity_url(request, "transform", transform_id)

    dataset_href = entity_url(request, "dataset", model.trained_on) if training_data is not None else None
    graph, chosen_view, note = _dag(model, transforms, view, transform_href, dataset_href)
    if chosen_view == "operators" and graph["nodes"]:
        names = [node["name"] for node in graph["nodes"]]
        position = {node["id"]: index for index, node in enumerate(graph["nodes"])}
        edges = [(position[edge["source"]], position[edge["target"]]) for edge in graph["edges"]]
        separator = name_separator(names)
        default_depth = default_collapse_depth(names, separator, edges)
        deepest = max(len(name.split(separator)) - 1 for name in names) if separator else 0
        graph["collapse"] = {
            "separator": separator,
            "depth": default_depth if collapse is None else min(collapse, deepest),
            "default": default_depth,
            "deepest": deepest,
            "expanded": list(expand or []),
        }
    metrics = sorted({score.metric for evaluation in evaluations for score in evaluation.scores if score.is_scalar})
    return render(
        request,
        "model.html",
        model=model,
        runs=runs,
        evaluations=evaluations,
        evaluation_count=evaluation_count,
        related=related,
        training_data=training_data,
        transforms=transforms,
        graph=graph,
        collapse=graph.get("collapse"),
        view=chosen_view,
        view_note=note,
        views=_views_available(transforms),
        parameter_count=_parameter_count(model, transforms),
        metrics=metrics,
        network=_is_network(model, transforms),
        shape_of=_shape_text,
    )


def _is_network(model: Model, transforms: Sequence[Transform]) -> bool:
    frameworks = {model.framework, *(transform.framework for transform in transforms)}
    return bool(frameworks & NETWORK_FRAMEWORKS)


def _views_available(transforms: Sequence[Transform]) -> list[str]:
    if not transforms:
        return []
    has_columns = any(transform.input or transform.output for transform in transforms)
    return ["columns", "operators"] if has_columns else ["operators"]


def _dag(
    model: Model,
    transforms: Sequence[Transform],
    view: str | None,
    transform_href: Callable[[str], str],
    dataset_href: str | None,
) -> tuple[dict[str, Any], str, str | None]:
    """The graph to draw, the view it is, and a note when the asked-for view could not be shown."""
    available = _views_available(transforms)
    if not available:
        return {"nodes": [], "edges": []}, "operators", None
    wanted = view or ("operators" if _is_network(model, transforms) else available[0])
    note = None
    if wanted == "columns" and "columns" in available:
        vertices, edges = _column_dag_size(transforms)
        if vertices <= MAX_COLUMN_VERTICES and edges <= MAX_COLUMN_EDGES:
            return column_dag(transforms, transform_href, dataset_href), "columns", None
        note = (
            f"The column DAG has {vertices} vertices and {edges} edges, too many to draw: "
            "its operators are shown instead."
        )
    elif wanted == "columns":
        note = "These transforms list no columns: their operators are shown."
    return operator_graph(transforms, transform_href), "operators", note


# ---------------------------------------------------------------- the column DAG


def column_vertex_id(producer: str | None, column: str) -> str:
    """The id of the vertex of ``column`` as output by transform ``producer`` (None: an input of the model).

    Ids never hold ``/``, so ``producer/column`` cannot be mistaken for another vertex's id.
    """
    return f"{producer or ''}/{column}"


def _column_dag_size(transforms: Sequence[Transform]) -> tuple[int, int]:
    """An upper bound of the column DAG's vertices and its exact edge count, without building it."""
    vertices = edges = 0
    for transform in transforms:
        vertices += len(transform.input) + (len(transform.output) or 1)
        for inputs in transform.column_lineage.values():
            edges += len(transform.input) if isinstance(inputs, str) else len(inputs)
        if not transform.output:
            edges += len(transform.input)
    return vertices, edges


def column_dag(
    transforms: Sequence[Transform],
    transform_href: Callable[[str], str],
    dataset_href: str | None = None,
) -> dict[str, Any]:
    """The column-level DAG: columns as vertices, operators as edges.

    Vertices: every input column of the model (an input column of a transform that none of
    its input transforms outputs), every output column of every transform, and every transform
    without output columns (a learner: it consumes columns and makes predictions).
    A column output by a transform is its own vertex (``transform id/column``), so a scaler's
    output ``age`` is not its input ``age``; an input column is the vertex of the first input
    transform that outputs it. Edges, labelled with the operator: into each output column, one
    edge from the input transform's column it passes on (same name, or a branch's column under
    the branch's prefix), else one from each input column its column lineage names (``"*"``:
    every input column), by the rules of :mod:`mltrack_core.columns`; into a transform without
    outputs, one from each of its input columns, or from its input transforms without outputs
    (an ensemble's members).

    Args:
        transforms: The model's transforms.
        transform_href: The page of a transform, from its id.
        dataset_href: The page of the training data (where the model's input columns link to).

    Returns:
        ``{"nodes": [...], "edges": [...]}`` for graph.js.
    """
    producers = ColumnGraph(transforms)
    names = {transform.id: transform.name for transform in transforms}
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []

    def column_vertex(producer: str | None, column: str, typing: str | None) -> str:
        vertex_id = column_vertex_id(producer, column)
        if vertex_id not in nodes:
            where = names.get(producer, "") if producer else "input"
            nodes[vertex_id] = _node(
                vertex_id,
                column,
                sub=" · ".join(part for part in (where, typing) if part),
                css="column" if producer else "column source",
                href=transform_href(producer) if producer else dataset_href,
                name=column,
            )
        return vertex_id

    for transform in transforms:
        operator = transform.operator or transform.name
        input_types = {column.name: _typing(column.typing) for column in transform.input}
        inputs = {
            column.name: column_vertex(
                producers.of_input(transform, column.name), column.name, input_types[column.name]
            )
            for column in transform.input
        }
        lineage = transform.expanded_column_lineage()
        outputs = dict.fromkeys([*(column.name for column in transform.output), *lineage])
        types = {column.name: _typing(column.typing) for column in transform.output}
        for output in outputs:
            target = column_vertex(transform.id, output, types.get(output))
            passed_on = producers.of_output(transform, output)
            if passed_on is not None:
                edges.append(_edge(column_vertex_id(*passed_on), target, operator, transform.name))
                continue
            for source in lineage.get(output, ()):
                start = inputs.get(source) or column_vertex(producers.of_input(transform, source), source, None)
                edges.append(_edge(start, target, operator, transform.name))
        if not outputs:
            nodes[transform.id] = _node(
                transform.id,
                transform.name,
                sub=operator,
                css="operator sink",
                href=transform_href(transform.id),
                name=transform.name,
            )
            members = [up for up in transform.input_transforms if up in names and not producers.outputs[up]]
            starts = members or list(inputs.values())
            edges.extend(_edge(start, transform.id, operator, transform.name) for start in starts)
    return {"nodes": list(nodes.values()), "edges": edges, "rankdir": "LR"}


def _typing(typing: Any) -> str | None:
    value = getattr(typing, "value", typing)
    return None if value in (None, "UNKNOWN") else str(value)


# ---------------------------------------------------------------- the operator graph (network layout)


def operator_graph(transforms: Sequence[Transform], transform_href: Callable[[str], str]) -> dict[str, Any]:
    """Operators as vertices (name; operator type and output shape), edges from their input transforms.

    Args:
        transforms: The model's transforms.
        transform_href: The page of a transform, from its id.

    Returns:
        ``{"nodes": [...], "edges": [...]}`` for graph.js; each node also carries ``operator`` and ``shape``.
    """
    known = {transform.id for transform in transforms}
    nodes = []
    edges = []
    for transform in transforms:
        shape = _shape_text(transform)
        operator = transform.operator or ""
        node = _node(
            transform.id,
            transform.name,
            sub="  ".join(part for part in (operator, shape) if part),
            css="operator",
            href=transform_href(transform.id),
            name=transform.name,
        )
        node["operator"] = operator
        node["shape"] = shape
        nodes.append(node)
        edges.extend(
            _edge(upstream, transform.id, None, None) for upstream in transform.input_transforms if upstream in known
        )
    return {"nodes": nodes, "edges": edges, "rankdir": "TB"}


def _parameter(parameters: Iterable[Parameter], name: str) -> Any:
    return next((parameter.value for parameter in parameters if parameter.name == name), None)


def _shape_text(transform: Transform) -> str:
    """The output shape MXNet inferred (``output_shape``), as ``1×64×56×56``; empty when not recorded."""
    shape = _parameter(transform.parameters, "output_shape")
    if not isinstance(shape, tuple) or not shape:
        return ""
    text = "×".join(str(dimension) for dimension in shape)
    shapes = _parameter(transform.parameters, "output_shapes")
    more = len(shapes) - 1 if isinstance(shapes, tuple) and len(shapes) > 1 else 0
    return f"{text} (+{more} outputs)" if more else text


def _parameter_count(model: Model, transforms: Sequence[Transform]) -> int | None:
    """The learned parameters of a network: the model's ``network.parameter_count``, else the operators' sum."""
    recorded = _parameter(model.hyperparameters, "network.parameter_count")
    if isinstance(recorded, int) and not isinstance(recorded, bool):
        return recorded
    counts = [_parameter(transform.parameters, "parameter_count") for transform in transforms]
    counted = [count for count in counts if isinstance(count, int) and not isinstance(count, bool)]
    return sum(counted) if counted else None


# ---------------------------------------------------------------- collapse by name prefix (graph.js does the same)


def name_separator(names: Sequence[str]) -> str | None:
    """The separator that splits at least half of ``names`` (tried in :data:`SEPARATORS` order), or None."""
    for separator in SEPARATORS:
        if 2 * sum(separator in name for name in names) >= len(names):
            return separator
    return None


def prefix_of(name: str, separator: str, depth: int) -> str | None:
    """The group of ``name`` at ``depth``: its first ``depth`` segments, or None when it has no more segments.

    Same rule as graph.js's ``prefixOf``.
    """
    if depth <= 0:
        return None
    segments = name.split(separator)
    if len(segments) <= depth:
        return None
    return separator.join(segments[:depth]) or None


def drawn_count(names: Sequence[str], separator: str, depth: int) -> int:
    """How many vertices a graph of ``names`` draws when collapsed at ``depth`` (a group of one is its member)."""
    groups = Counter(prefix_of(name, separator, depth) for name in names)
    singles = groups.pop(None, 0)
    return singles + sum(1 if members > 1 else members for members in groups.values())


def default_collapse_depth(names: Sequence[str], separator: str | None, edges: Iterable[tuple[int, int]] = ()) -> int:
    """The depth a graph opens at: 0 (everything) when small, else one that draws a few dozen vertices.

    A depth qualifies when its collapsed graph draws from 2 to :data:`TOO_MANY_VERTICES` vertices,
    at most half as many as there are operators, and has no cycle (in MXNet's ResNets, grouping by
    stage leaves the units' ``_plus`` additions outside their group: stage -> _plus -> stage would
    be a cycle, so units are the groups).

    Args:
        names: The operators' names.
        separator: The name separator (None: no grouping).
        edges: The graph's edges as (source, target) positions in ``names``.

    Returns:
        0 for at most :data:`SMALL_GRAPH` operators, no separator or no qualifying depth; else the first
        qualifying depth that draws at least :data:`ENOUGH_VERTICES` vertices, or the qualifying one that
        draws the most.
    """
    if separator is None or len(names) <= SMALL_GRAPH:
        return 0
    edges = list(edges)
    deepest = max(len(name.split(separator)) - 1 for name in names)
    best, best_drawn = 0, 0
    for depth in range(1, deepest + 1):
        drawn = drawn_count(names, separator, depth)
        useful = 2 <= drawn <= min(TOO_MANY_VERTICES, len(names) // 2)
        if not useful or not _acyclic_when_collapsed(names, separator, depth, edges):
            continue
        if drawn >= ENOUGH_VERTICES:
            return depth
        if drawn > best_drawn:
            best, best_drawn = depth, drawn
    return best


def _acyclic_when_collapsed(names: Sequence[str], separator: str, depth: int, edges: list[tuple[int, int]]) -> bool:
    """Whether the graph collapsed at ``depth`` has no cycle (Kahn's algorithm over the drawn vertices)."""
    vertex_of = [(prefix_of(name, separator, depth), index) for index, name in enumerate(names)]
    vertex_of = [(prefix, -1) if prefix is not None else (None, index) for prefix, index in vertex_of]
    successors: dict[tuple[str | None, int], set[tuple[str | None, int]]] = {}
    incoming: Counter[tuple[str | None, int]] = Counter()
    for source, target in edges:
        start, end = vertex_of[source], vertex_of[target]
        if start != end and end not in successors.setdefault(start, set()):
            successors[start].add(end)
            incoming[end] += 1
    ready = [vertex for vertex in set(vertex_of) if incoming[vertex] == 0]
    seen = 0
    while ready:
        vertex = ready.pop()
        seen += 1
        for following in successors.get(vertex, ()):
            incoming[following] -= 1
            if incoming[following] == 0:
                ready.append(following)
    return seen == len(set(vertex_of))


# ---------------------------------------------------------------- page data


def _node(node_id: str, label: str, *, sub: str, css: str, href: str | None, name: str) -> dict[str, Any]:
    return {"id": node_id, "label": label, "sub": sub, "class": css, "href": href, "name": name}


def _edge(source: str, target: str, label: str | None, title: str | None) -> dict[str, Any]:
    edge: dict[str, Any] = {"source": source, "target": target}
    if label:
        edge["label"] = label
    if title:
        edge["title"] = title
    return edge
