"""The REST protocol between the metadata server and its client, written once for both sides.

The paths the client calls, how a :class:`~mltrack_core.store.Query` travels
as JSON, and how errors travel: the server answers every error with a JSON
body ``{"error": TYPE, "message": TEXT, "status": CODE}`` where ``TYPE`` is
the name of the exception class of :mod:`mltrack_core.errors` (or
``BadRequest``, ``Unauthorized``, ... for protocol errors), so the client
raises the same class the embedded store would have raised.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from mltrack_core import errors
from mltrack_core.errors import (
    ConflictError,
    DanglingReferenceError,
    MltrackError,
    NotFoundError,
    RunStateError,
    SchemaError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from mltrack_core.store import Query

__all__ = [
    "API_VERSION",
    "COMPARABLE",
    "DIFF",
    "END_RUN",
    "ENTITIES",
    "LEADERBOARD",
    "LINEAGE",
    "LINKS",
    "LOOKUP",
    "POINTS",
    "PROTOCOL_ERRORS",
    "QUERY_COUNT",
    "QUERY_IDS",
    "RUN_EVENTS",
    "RUN_METRICS",
    "RUN_POINTS",
    "RUN_SERIES",
    "RUN_SUMMARIES",
    "SCORES",
    "error_body",
    "error_from_answer",
    "path",
    "query_from_json",
    "query_to_json",
    "status_of",
]

API_VERSION = "1"

ENTITIES = "/v1/entities"
LOOKUP = "/v1/entities/lookup"
QUERY_IDS = "/v1/query/ids"
QUERY_COUNT = "/v1/query/count"
LINKS = "/v1/links"
SCORES = "/v1/scores"
POINTS = "/v1/points"
RUN_POINTS = "/v1/runs/{run_id}/points"
END_RUN = "/v1/runs/{run_id}/end"
RUN_SERIES = "/v1/runs/{run_id}/series"
RUN_METRICS = "/v1/runs/{run_id}/metrics"
RUN_EVENTS = "/v1/runs/{run_id}/events"
RUN_SUMMARIES = "/v1/runs/summaries"
LINEAGE = "/v1/entities/{entity_id}/lineage"
COMPARABLE = "/v1/evaluations/{a}/comparable/{b}"
LEADERBOARD = "/v1/datasets/{dataset_id}/leaderboard"
DIFF = "/v1/models/{a}/diff/{b}"


def path(template: str, **ids: str) -> str:
    """``template`` with each ``{name}`` replaced by the id, quoted whole (a ``/`` in an id stays in its segment)."""
    return template.format(**{name: quote(value, safe="") for name, value in ids.items()})


# ---------------------------------------------------------------- errors

_STATUS: tuple[tuple[type[MltrackError], int], ...] = (  # most specific first
    (NotFoundError, 404),
    (DanglingReferenceError, 422),
    (SchemaError, 422),
    (ConflictError, 409),
    (RunStateError, 409),
    (StoreReadOnlyError, 403),
    (StoreUnavailableError, 503),
    (StoreError, 500),  # the server's own store is broken: not the client's fault
    (MltrackError, 400),
)

PROTOCOL_ERRORS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "ContentTooLarge",
    415: "UnsupportedMediaType",
    422: "SchemaError",
    500: "InternalServerError",
}
"""The ``error`` names of answers that do not come from an mltrack exception."""


def status_of(exc: MltrackError) -> int:
    """The HTTP status an mltrack error is answered with."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400  # unreachable: MltrackError is in the table


def error_body(error: str, message: str, status: int) -> dict[str, Any]:
    """The JSON body of every error answer."""
    return {"error": error, "message": message, "status": status}


def error_from_answer(status: int, body: bytes) -> MltrackError:
    """The exception an error answer stands for: its class by the ``error`` name, else by the status.

    Args:
        status: the answer's HTTP status.
        body: the answer's body; one that is not an error document (a proxy's HTML page, say) is quoted.
    """
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("message"), str):
        return _error_class(answer.get("error"), status)(answer["message"])
    return _error_class(None, status)(f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")


def _error_class(name: object, status: int) -> type[MltrackError]:
    found = getattr(errors, name, None) if isinstance(name, str) else None
    if isinstance(found, type) and issubclass(found, MltrackError):
        return found
    if status == 403:
        return StoreReadOnlyError
    if status == 404:
        return NotFoundError
    if status in (400, 413, 422):
        return SchemaError
    if status in (502, 503, 504):
        return StoreUnavailableError
    return StoreError


# ---------------------------------------------------------------- queries

_QUERY_FIELDS = (
    "kind",
    "name",
    "experiment",
    "fingerprint",
    "state",
    "links",
    "labels",
    "created_after",
    "created_before",
    "limit",
    "offset",
    "order",
)


def query_to_json(query: Query) -> dict[str, Any]:
    """The JSON of a query: the conditions that are set (links and labels as lists of lists).

    The default order is left out, so that servers older than ``order`` still take the query.
    """
    document = {name: getattr(query, name) for name in _QUERY_FIELDS}
    document["links"] = [list(link) for link in query.links]
    document["labels"] = [list(label) for label in query.labels]
    if query.order == "-created":
        del document["order"]
    return {name: value for name, value in document.items() if value not in (None, [])}


def query_from_json(document: Mapping[str, Any]) -> Query:
    """The query a (validated) JSON document describes."""
    fields = {name: document[name] for name in _QUERY_FIELDS if document.get(name) is not None}
    fields["links"] = tuple(tuple(link) for link in document.get("links") or ())
    fields["labels"] = tuple(tuple(label) for label in document.get("labels") or ())
    return Query(**fields)
