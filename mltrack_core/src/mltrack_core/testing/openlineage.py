"""Validate OpenLineage run events against the OpenLineage specification's JSON schemas, offline.

The schemas are vendored next to this module (``openlineage_spec/``: the core
``OpenLineage.json``, 2-0-2, and the standard facets; see its README). An event
is checked against the core schema's ``RunEvent``; then every facet (run, job,
dataset, input and output facets) against the schema its ``_schemaURL`` names,
with every ``$ref`` resolved from the vendored files (nothing is fetched).

- A ``_schemaURL`` under ``https://openlineage.io/spec/`` must name a vendored
  schema and version: a standard facet that is not vendored, or another version
  of it, is an error (the export would claim a schema nobody checked).
- Any other ``_schemaURL`` is a custom facet (mltrack's own ``mltrack`` facets,
  see :mod:`mltrack_core.exporters.openlineage`): its schema cannot be fetched,
  so it is checked for shape only, by the core schema (an object with
  ``_producer`` and ``_schemaURL``).

Needs ``jsonschema`` (4.18 or later), which is in the ``test`` extra.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mltrack_core.errors import SchemaError

__all__ = ["CORE_SCHEMA_ID", "OpenLineageValidationError", "validate_openlineage_event", "vendored_schema_ids"]

SPEC_FOLDER = Path(__file__).with_name("openlineage_spec")
CORE_SCHEMA_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
STANDARD_PREFIX = "https://openlineage.io/spec/"
_FACET_PLACES = (
    ("run", "facets"),
    ("job", "facets"),
)
_DATASET_FACET_PLACES = (("inputs", ("facets", "inputFacets")), ("outputs", ("facets", "outputFacets")))


class OpenLineageValidationError(SchemaError):
    """An OpenLineage event that its schemas reject; the message starts with the path of the first error."""


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    """The vendored schemas by ``$id``."""
    files = [SPEC_FOLDER / "OpenLineage.json", *sorted((SPEC_FOLDER / "facets").glob("*.json"))]
    schemas = {}
    for path in files:
        schema = json.loads(path.read_text(encoding="utf-8"))
        schemas[schema["$id"]] = schema
    return schemas


def vendored_schema_ids() -> list[str]:
    """The ``$id`` of every vendored schema (core first)."""
    return list(_schemas())


@functools.cache
def _registry() -> Any:
    from referencing import Registry, Resource

    return Registry().with_resources(
        (schema_id, Resource.from_contents(schema)) for schema_id, schema in _schemas().items()
    )


@functools.cache
def _validator(schema_url: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        {"$ref": schema_url}, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def validate_openlineage_event(document: dict[str, Any]) -> None:
    """Check a run event (as JSON, a dict) against the core schema, then each facet against its own schema.

    Args:
        document: The event, as parsed from the JSON a client sent.

    Raises:
        OpenLineageValidationError: the first error, prefixed with its path in the event
            (``outputs[0].facets.columnLineage.fields.age``), or a ``_schemaURL`` naming a standard
            facet (or version) that is not vendored.
    """
    _check(document, f"{CORE_SCHEMA_ID}#/$defs/RunEvent", "")
    for path, facet in _facets(document):
        schema_url = facet.get("_schemaURL")
        if not isinstance(schema_url, str) or not schema_url.startswith(STANDARD_PREFIX):
            continue  # a custom facet: the core schema checked its shape
        base, _, pointer = schema_url.partition("#")
        if base not in _schemas():
            known = ", ".join(sorted(schema_id.rpartition("/spec/")[2] for schema_id in _schemas()))
            raise OpenLineageValidationError(
                f"{path}._schemaURL: {schema_url!r} names a standard schema that is not vendored "
                f"(another facet or version); vendored: {known}"
            )
        _check(facet, schema_url if pointer else base, path)


def _check(instance: Any, schema_url: str, where: str) -> None:
    from jsonschema.exceptions import best_match
    from referencing.exceptions import Unresolvable

    try:
        validator = _validator(schema_url)
        error = best_match(validator.iter_errors(instance))  # descends into anyOf to the error that explains
    except Unresolvable as problem:  # a pointer that names nothing in the vendored schema
        raise OpenLineageValidationError(f"{where or '<event>'}: cannot resolve {schema_url!r}: {problem}") from None
    if error is not None:
        path = _joined(where, error.absolute_path)
        raise OpenLineageValidationError(f"{path or '<event>'}: {error.message[:500]}")


def _joined(where: str, steps: Any) -> str:
    path = where
    for step in steps:
        path = f"{path}[{step}]" if isinstance(step, int) else (f"{path}.{step}" if path else str(step))
    return path


def _facets(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, facet) of every facet of the event that is a JSON object."""
    for owner, key in _FACET_PLACES:
        yield from _named_facets(document.get(owner), f"{owner}.{key}", key)
    for owner, keys in _DATASET_FACET_PLACES:
        datasets = document.get(owner)
        for index, dataset in enumerate(datasets if isinstance(datasets, list) else ()):
            for key in keys:
                yield from _named_facets(dataset, f"{owner}[{index}].{key}", key)


def _named_facets(owner: Any, path: str, key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    facets = owner.get(key) if isinstance(owner, dict) else None
    for name, facet in (facets or {}).items() if isinstance(facets, dict) else ():
        if isinstance(facet, dict):
            yield f"{path}.{name}", facet
