"""The one place where mltrack's errors become HTTP statuses, and back.

The server answers every error with a JSON body ``{"error": TYPE, "message":
TEXT, "status": CODE}``; ``TYPE`` is the name of the exception class of
:mod:`mltrack_core.errors` (or ``BadRequest``, ``Unauthorized``, ...for
protocol errors), so the REST client raises the same class the embedded store
would have raised.
"""

from __future__ import annotations

from typing import Any

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

__all__ = ["PROTOCOL_ERRORS", "error_body", "error_class", "status_of"]

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
    """The HTTP status for an mltrack error."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400  # unreachable: MltrackError is in the table


def error_body(error: str, message: str, status: int, **extra: Any) -> dict[str, Any]:
    """The JSON body of every error answer."""
    return {"error": error, "message": message, "status": status, **extra}


def error_class(name: object, status: int) -> type[MltrackError]:
    """The exception class the client raises for an error answer (by its ``error`` name, else its status)."""
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
