"""The one exception hierarchy of mltrack.

Every error mltrack raises on purpose derives from :class:`MltrackError`. Each
class also derives from the built-in exception a Python user would expect
(``ValueError`` for bad values, ``LookupError`` for unknown ids, ...), so
existing ``except`` clauses keep working. Messages name the offending id,
field or value and say what to do.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "DanglingReferenceError",
    "MissingDependencyError",
    "MissingPluginError",
    "MltrackError",
    "NotFoundError",
    "RunStateError",
    "SchemaError",
    "StoreCorruptError",
    "StoreError",
    "StoreReadOnlyError",
    "StoreUnavailableError",
    "StoreVersionError",
    "TrackingWarning",
    "UnknownSchemeError",
]


class MltrackError(Exception):
    """Base class of every error raised by mltrack."""


class SchemaError(MltrackError, ValueError):
    """An entity or value does not fit the schema (wrong type, missing field)."""


class NotFoundError(MltrackError, LookupError):
    """An id asked for is not in the store."""


class DanglingReferenceError(MltrackError, LookupError):
    """An entity refers to an id the store does not hold (or holds as another kind)."""


class ConflictError(MltrackError):
    """An id is already stored with different content; stored entities are write-once."""


class RunStateError(MltrackError):
    """A training run was asked to change in a way its life cycle forbids."""


class MissingPluginError(MltrackError, TypeError):
    """No installed plugin knows how to extract metadata from an object."""


class MissingDependencyError(MltrackError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class StoreError(MltrackError):
    """A store cannot be opened or used."""


class UnknownSchemeError(StoreError, ValueError):
    """No installed backend handles the URI scheme."""


class StoreCorruptError(StoreError):
    """The store file exists but is not a readable mltrack store."""


class StoreReadOnlyError(StoreError, PermissionError):
    """The store was opened read-only, or its file cannot be written."""


class StoreVersionError(StoreError):
    """The store was written by a newer mltrack release, or by an older one and opened read-only (not migrated)."""


class StoreUnavailableError(StoreError, ConnectionError):
    """The store cannot be reached right now (server down, database locked too long)."""


class TrackingWarning(UserWarning):
    """Implicit tracking could not record something; the user's code went on."""
