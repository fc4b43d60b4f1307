"""The lineage page: the lineage graph of any entity, upstream and downstream, to a chosen depth.

Vertices are the entities reached (each linking to its page), edges the relations between
them (``trained_on``, ``derived_from``, ``computed_by``, ...), pointing from the entity that
names another to the named one. The URL keeps the view: ``depth=N``,
``direction=both|upstream|downstream`` and ``transforms=all`` (a model's many transforms are
otherwise drawn as one group vertex).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from mltrack_core.errors import NotFoundError
from mltrack_core.lineage import Lineage
from mltrack_core.schema import Entity
from mltrack_core.server.app import Reader
from mltrack_core.store import Link
from mltrack_core.ui.templating import entity_url, page_url, render

__all__ = ["DEFAULT_DEPTH", "MAX_DEPTH", "MAX_DRAWN_VERTICES", "MAX_TRANSFORM_VERTICES", "lineage_graph", "router"]

router = APIRouter()

DEFAULT_DEPTH = 3
MAX_DEPTH = 20
MAX_TRANSFORM_VERTICES = 6
"""More transforms than this (a pipeline's stages, a network's operators) are drawn as one group vertex unless
``transforms=all``: the model page draws them as its DAG, and here they would hide the data and the evaluations."""
MAX_DRAWN_VERTICES = 500
"""A lineage with more vertices than this (a dataset behind thousands of evaluations) is listed, not drawn."""
TRANSFORMS_GROUP = "transforms/"
"""The id of the group vertex of the transforms (ids never hold ``/``: no entity has it)."""


@router.get("/lineage/{entity_id}", response_class=HTMLResponse, name="lineage")
def lineage_page(
    entity_id: str,
    request: Request,
    principal: Reader,
    depth: Annotated[int, Query(ge=0, le=MAX_DEPTH)] = DEFAULT_DEPTH,
    direction: Literal["both", "upstream", "downstream"] = "both",
    transforms: Literal["group", "all"] = "group",
) -> Response:
    """The lineage graph of ``entity_id``, with a table of the same entities below it.

    Args:
        entity_id: The entity at the root.
        request: The request being answered.
        principal: Who asks (a reader).
        depth: How many relations away from the root to go.
        direction: ``upstream`` (what it was derived from), ``downstream`` (what was derived from it) or both.
        transforms: ``all`` draws every transform; ``group`` (default) draws many transforms as one vertex.

    Returns:
        The HTML page.
    """
    tracker = request.app.state.tracker
    root = tracker.get_many([entity_id], with_scores=False).get(entity_id)  # a run's points are not needed
    if root is None:
        raise NotFoundError(f"no entity with id {entity_id!r:.600} in this store")
    directions = ("upstream", "downstream") if direction == "both" else (direction,)
    lineages = [tracker.lineage(root.id, way, depth) for way in directions]
    nodes, edges, depth_of = merge_lineages(lineages)

    def href(entity: Entity) -> str:
        return entity_url(request, entity.KIND, entity.id)

    def view_url(**changes: Any) -> str:
        query = {"depth": depth, "direction": direction, "transforms": transforms, **changes}
        if query["transforms"] == "group":
            del query["transforms"]
        return page_url(request, "lineage", query=query, entity_id=root.id)

    graph = lineage_graph(
        root.id, nodes, edges, href, group_transforms=transforms == "group", group_href=view_url(transforms="all")
    )
    too_many = len(graph["nodes"]) > MAX_DRAWN_VERTICES
    rows = sorted(
        nodes.values(), key=lambda entity: (min(step for _, step in depth_of[entity.id]), entity.KIND, entity.id)
    )
    return render(
        request,
        "lineage.html",
        root=root,
        graph=None if too_many else graph,
        drawn_limit=MAX_DRAWN_VERTICES,
        rows=rows,
        depth_of=depth_of,
        depth=depth,
        direction=direction,
        transforms=transforms,
        edges=edges,
        relations_of=_relations_of(edges),
        view_url=view_url,
        max_depth=MAX_DEPTH,
    )


def _relations_of(edges: Iterable[Link]) -> dict[str, Counter[str]]:
    """The relations each entity names others by, with how many it names that way."""
    relations: dict[str, Counter[str]] = {}
    for edge in edges:
        relations.setdefault(edge.source, Counter())[edge.relation] += 1
    return relations


def merge_lineages(
    lineages: Iterable[Lineage],
) -> tuple[dict[str, Entity], list[Link], dict[str, list[tuple[str, int]]]]:
    """The union of lineages of one root: entities, edges (each once) and each entity's (direction, depth)s."""
    nodes: dict[str, Entity] = {}
    edges: dict[Link, None] = {}
    depth_of: dict[str, list[tuple[str, int]]] = {}
    for lineage in lineages:
        nodes.update(lineage.nodes)
        edges.update(dict.fromkeys(lineage.edges))
        for id_, step in lineage.depth_of.items():
            if id_ in lineage.nodes:
                depth_of.setdefault(id_, []).append((lineage.direction, step))
    return nodes, [edge for edge in edges if edge.source in nodes and edge.target in nodes], depth_of


def lineage_graph(
    root: str,
    nodes: dict[str, Entity],
    edges: list[Link],
    href: Callable[[Entity], str],
    *,
    group_transforms: bool = True,
    group_href: str | None = None,
) -> dict[str, Any]:
    """The page data graph.js draws: one vertex per entity, one labelled edge per relation.

    Args:
        root: The root entity's id (highlighted).
        nodes: The entities, by id.
        edges: The relations between them.
        href: The page of an entity.
        group_transforms: Draw more than :data:`MAX_TRANSFORM_VERTICES` transforms as one vertex.
        group_href: Where the group vertex links to (the page with every transform drawn).

    Returns:
        ``{"nodes": [...], "edges": [...], "root": root}``.
    """
    transform_ids = {id_ for id_, entity in nodes.items() if entity.KIND == "transform" and id_ != root}
    grouped = group_transforms and len(transform_ids) > MAX_TRANSFORM_VERTICES
    drawn_as = dict.fromkeys(transform_ids, TRANSFORMS_GROUP) if grouped else {}
    vertices = []
    for id_, entity in nodes.items():
        if id_ in drawn_as:
            continue
        classes = [entity.KIND] + (["root"] if id_ == root else [])
        vertices.append(
            {
                "id": id_,
                "label": f"{entity.KIND} {entity.name}" if entity.name else entity.KIND,
                "sub": id_,
                "class": " ".join(classes),
                "href": href(entity),
                "kind": entity.KIND,
                "name": entity.name or "",
            }
        )
    if grouped:
        vertices.append(
            {
                "id": TRANSFORMS_GROUP,
                "label": f"{len(transform_ids)} transforms",
                "sub": "click to draw each one",
                "class": "transform group",
                "href": group_href,
                "kind": "transform",
                "name": "",
            }
        )
    drawn_edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    for edge in edges:
        source = drawn_as.get(edge.source, edge.source)
        target = drawn_as.get(edge.target, edge.target)
        if source == target:
            continue
        drawn_edges.setdefault(
            (source, edge.relation, target), {"source": source, "target": target, "label": edge.relation}
        )
    return {"nodes": vertices, "edges": list(drawn_edges.values()), "root": root, "rankdir": "RL"}
