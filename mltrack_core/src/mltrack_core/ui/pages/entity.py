"""Any entity by id (``GET /ui/entities/{entity_id}``): its kind's page, or the generic page.

Datasets, models and training runs have pages of their own: the answer is a redirect (307) there. Evaluations
(scores, confusion matrix, procedure, leaderboard links), predictions (model, data, location, schema) and
transforms (operator, parameters, columns, column lineage, input transforms) are shown here, each with its tags,
annotations, comments, creator and experiment, and a link to its lineage graph. An unknown id answers 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mltrack_core.errors import NotFoundError
from mltrack_core.lineage import greater_is_better
from mltrack_core.schema import ALL_INPUTS, Evaluation, Transform
from mltrack_core.server.app import Reader
from mltrack_core.ui.templating import PAGE_OF_KIND, entity_url, page_url, recorded_value, render

__all__ = ["read_entity", "router"]

router = APIRouter()

ROW_LIMIT = 500
"""At most this many columns (or column lineage rows) per table: a one-hot encoder may have thousands."""


@router.get("/entities/{entity_id}", response_class=HTMLResponse, name="entity")
def entity(entity_id: str, request: Request, principal: Reader) -> Response:
    """The entity's page: a redirect to its kind's page, or the generic page of evaluations, predictions, transforms."""
    tracker = request.app.state.tracker
    found = read_entity(tracker, entity_id)
    if found.KIND in PAGE_OF_KIND:
        return RedirectResponse(entity_url(request, found.KIND, entity_id), status_code=307)
    related = tracker.get_many(sorted(_linked_ids(found)), with_scores=False)
    lineage = _column_lineage(found) if isinstance(found, Transform) else []
    return render(
        request,
        "entity.html",
        entity=found,
        related=related,
        lineage_url=page_url(request, "lineage", entity_id=found.id),
        leaderboard_metrics=_leaderboard_metrics(found),
        column_lineage=lineage[:ROW_LIMIT],
        column_lineage_more=max(0, len(lineage) - ROW_LIMIT),
        row_limit=ROW_LIMIT,
        shown=recorded_value,
        greater_is_better=greater_is_better,
    )


def read_entity(tracker: Any, entity_id: str) -> Any:
    """The stored entity ``entity_id`` (a training run without its points: they are not shown here).

    Raises:
        NotFoundError: no entity has that id.
    """
    found = tracker.get_many([entity_id], with_scores=False).get(entity_id)
    if found is None:
        raise NotFoundError(f"no entity with id {entity_id!r:.200} in this store")
    return found


def _linked_ids(found: Any) -> set[str]:
    """The ids the page links to by name."""
    ids = {getattr(found, name, None) for name in ("computed_by", "on_dataset", "for_prediction")}
    if isinstance(found, Transform):
        ids |= set(found.input_transforms)
    return {id_ for id_ in ids if id_}


def _leaderboard_metrics(found: Any) -> list[str]:
    """The metrics of an evaluation that a leaderboard can rank (its scalar scores)."""
    if not isinstance(found, Evaluation):
        return []
    return list(dict.fromkeys(score.metric for score in found.scores if score.is_scalar))


def _column_lineage(transform: Transform) -> list[tuple[str, tuple[str, ...], bool]]:
    """(output column, the input columns it is computed from, whether that is every input) of a transform."""
    return [
        (output, transform.inputs_of(output), inputs == ALL_INPUTS)
        for output, inputs in transform.column_lineage.items()
    ]
