"""Request and response bodies of the REST API (pydantic models, for validation and the OpenAPI document).

Entity documents are validated by :func:`mltrack_core.schema.entity_from_json`,
not by pydantic, so the server applies exactly the schema's rules; their
OpenAPI schemas (one per kind, selected by ``kind``) are generated from the
schema's dataclasses by :func:`entity_component_schemas`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, TypeAdapter, WithJsonSchema

from mltrack_core.schema import KINDS, MAX_ID_LENGTH

__all__ = [
    "ENTITY_MARK",
    "MAX_IDS_PER_REQUEST",
    "CountOut",
    "EndRunIn",
    "EndRunOut",
    "EntitiesIn",
    "EntitiesOut",
    "ErrorOut",
    "IdsIn",
    "IdsOut",
    "LinksIn",
    "LinksOut",
    "ListOut",
    "PointsIn",
    "PointsOut",
    "QueryIn",
    "RunPointsOut",
    "ScoresIn",
    "ScoresOut",
    "WriteOut",
    "entity_component_schemas",
    "with_entity_references",
]

MAX_IDS_PER_REQUEST = 100_000
"""Most ids (or entities) one request may name."""

ENTITY_MARK = "x-mltrack-entity"
"""Marks where an entity document goes in the generated OpenAPI schemas (replaced by a reference to Entity)."""

Id = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Text = Annotated[StrictStr, Field(min_length=1)]
Count = Annotated[StrictInt, Field(ge=0)]
EntityDocument = Annotated[dict[str, Any], WithJsonSchema({"type": "object", ENTITY_MARK: True})]
Kind = Literal["dataset", "model", "transform", "run", "prediction", "evaluation"]
PointRow = tuple[Id, Text, StrictFloat, Count | None, Count | None, Count]
"""A metric point: run id, metric, value, epoch, step, timestamp (ms since 1970)."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """Every error answer: the error's type, a message naming the offending id, field or value, the status."""

    error: str = Field(examples=["DanglingReferenceError"])
    message: str
    status: int


class EntitiesIn(_Body):
    """Entities to store in one transaction; they may refer to each other."""

    entities: list[EntityDocument] = Field(min_length=1, max_length=MAX_IDS_PER_REQUEST)


class WriteOut(BaseModel):
    """Which ids were newly stored and which were already stored with identical content."""

    written: list[str]
    unchanged: list[str]


class IdsIn(_Body):
    """Ids to look up."""

    ids: list[Id] = Field(max_length=MAX_IDS_PER_REQUEST)


class EntitiesOut(BaseModel):
    """Stored documents by id (unknown ids are left out); training runs come without their points."""

    entities: dict[str, EntityDocument]


class ListOut(BaseModel):
    """One page of entities, newest first."""

    total: int
    offset: int
    limit: int
    entities: list[EntityDocument]


class QueryIn(_Body):
    """Conditions that must all hold, as in :class:`mltrack_core.store.Query`."""

    kind: Kind | None = None
    name: Text | None = None
    experiment: Text | None = None
    fingerprint: Text | None = None
    state: Literal["TRAINING", "FINISHED", "FAILED"] | None = None
    links: list[tuple[Text, Id]] = Field(default=[], description="(relation, target id) pairs, e.g. trained_on")
    labels: list[tuple[Literal["tag", "annotation"], Text, StrictStr]] = Field(default=[])
    created_after: Count | None = None
    created_before: Count | None = None
    limit: Count | None = None
    offset: Count = 0


class IdsOut(BaseModel):
    """Ids of matching entities, newest first."""

    ids: list[str]


class CountOut(BaseModel):
    """How many entities match."""

    count: int


class LinksIn(_Body):
    """Lineage edges leaving (``out``) or entering (``in``) these ids."""

    ids: list[Id] = Field(max_length=MAX_IDS_PER_REQUEST)
    direction: Literal["out", "in"]


class LinksOut(BaseModel):
    """Edges as (source, relation, target): source names target in its relation field."""

    links: list[tuple[str, str, str]]


class ScoresIn(_Body):
    """Evaluations on these datasets with a scalar score of ``metric``."""

    datasets: list[Id] = Field(max_length=MAX_IDS_PER_REQUEST)
    metric: Text


class ScoresOut(BaseModel):
    """(evaluation id, value) pairs."""

    scores: list[tuple[str, float]]


class EndRunIn(_Body):
    """The run as it ended: state FINISHED or FAILED, end time, model link, fields it was started without."""

    run: EntityDocument


class EndRunOut(BaseModel):
    """The ended run; ``changed`` is false when the run had already ended with this very content (a retry)."""

    run: EntityDocument
    changed: bool


class PointsIn(_Body):
    """Metric points of one or more training runs, appended in order in one transaction."""

    points: list[PointRow] = Field(min_length=1)


class PointsOut(BaseModel):
    """How many points were appended."""

    appended: int


class RunPointsOut(BaseModel):
    """The points of a run in the order they were appended (only the last ``tail`` when asked)."""

    run: str
    total: int
    points: list[tuple[str, str, float | None, int | None, int | None, int]]


def with_entity_references(node: Any) -> Any:
    """``node`` (a generated schema) with every entity mark replaced by a reference to ``Entity``."""
    if isinstance(node, dict):
        if node.get(ENTITY_MARK):
            return {"$ref": "#/components/schemas/Entity"}
        return {key: with_entity_references(value) for key, value in node.items()}
    if isinstance(node, list):
        return [with_entity_references(item) for item in node]
    return node


def entity_component_schemas() -> dict[str, Any]:
    """OpenAPI component schemas of every entity kind, and ``Entity``: one of them, selected by ``kind``."""
    components: dict[str, Any] = {}
    mapping = {}
    for kind, cls in KINDS.items():
        schema = TypeAdapter(cls).json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        id_field = schema["properties"]["id"]
        id_field.pop("default", None)  # not null: a fresh id is made when it is left out
        id_field["description"] = "Made by the server when left out; give one so that a retry is a no-op."
        schema["properties"] = {"kind": {"const": kind, "type": "string"}, **schema.get("properties", {})}
        schema["required"] = ["kind", *schema.get("required", [])]
        components[cls.__name__] = schema
        mapping[kind] = f"#/components/schemas/{cls.__name__}"
    components["Entity"] = {
        "description": "An entity document, as mltrack_core.schema's to_json() writes it; 'kind' selects the schema.",
        "oneOf": [{"$ref": reference} for reference in mapping.values()],
        "discriminator": {"propertyName": "kind", "mapping": mapping},
    }
    return components
