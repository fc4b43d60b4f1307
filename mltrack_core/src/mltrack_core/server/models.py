"""Request and response bodies of the REST API (pydantic models, for validation and the OpenAPI document).

Entity documents are validated by :func:`mltrack_core.schema.entity_from_json`,
not by pydantic, so the server applies exactly the schema's rules; their
OpenAPI schemas (one per kind, selected by ``kind``) are generated from the
schema's dataclasses by :func:`entity_component_schemas`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    WithJsonSchema,
)

from mltrack_core.schema import KINDS, MAX_COUNT, MAX_ID_LENGTH, MAX_TIME, NON_FINITE, float_from_json
from mltrack_core.series import MAX_SUMMARY_RUNS

__all__ = [
    "ENTITY_MARK",
    "MAX_IDS_PER_REQUEST",
    "ComparableOut",
    "CountOut",
    "DiffOut",
    "EndRunIn",
    "EndRunOut",
    "EntitiesIn",
    "EntitiesOut",
    "ErrorOut",
    "HealthOut",
    "IdsIn",
    "IdsOut",
    "LeaderboardOut",
    "LineageOut",
    "LinksIn",
    "LinksOut",
    "ListOut",
    "MetricSummaryOut",
    "PointsIn",
    "PointsOut",
    "QueryIn",
    "RunMetricsOut",
    "RunPointsOut",
    "ScoresIn",
    "ScoresOut",
    "SeriesOut",
    "SummariesIn",
    "SummariesOut",
    "WriteOut",
    "entity_component_schemas",
    "with_entity_references",
    "with_exact_integer_bounds",
]

MAX_IDS_PER_REQUEST = 100_000
"""Most ids (or entities) one request may name."""

ENTITY_MARK = "x-mltrack-entity"
"""Marks where an entity document goes in the generated OpenAPI schemas (replaced by a reference to Entity)."""

NUMBER_SCHEMA = {"anyOf": [{"type": "number"}, {"enum": list(NON_FINITE)}]}
"""A float in standard JSON: a number, or NaN and the infinities spelled as strings (``mltrack_core.schema.dumps``)."""


Id = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Text = Annotated[StrictStr, Field(min_length=1)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
"""Counts, epochs, steps, limits and offsets: what a store's 64-bit integer columns hold."""
Time = Annotated[StrictInt, Field(ge=0, le=MAX_TIME, description="ms since 1970, at most the end of year 9999")]
Number = Annotated[StrictFloat, BeforeValidator(float_from_json), WithJsonSchema(NUMBER_SCHEMA)]
"""A float; NaN and the infinities may be written "NaN", "Infinity", "-Infinity" (standard JSON)."""
EntityDocument = Annotated[dict[str, Any], WithJsonSchema({"type": "object", ENTITY_MARK: True})]
Kind = Literal["dataset", "model", "transform", "run", "prediction", "evaluation"]
Order = Annotated[
    Literal["-created", "created", "name", "-name"],
    Field(
        description="-created: newest first (the default); created: oldest first; name, -name: by name "
        "(unnamed entities last, ties newest first)"
    ),
]
PointRow = tuple[Id, Text, Number, Count | None, Count | None, Time]
"""A metric point: run id, metric, value, epoch, step, timestamp (ms since 1970)."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Answer(BaseModel):
    # Declared closed ("additionalProperties": false), so a field the server adds without declaring it here
    # makes its answers fail the schema-driven tests: the document keeps describing the real answers.
    model_config = ConfigDict(extra="forbid")


class ErrorOut(_Answer):
    """Every error answer: the error's type, a message naming the offending id, field or value, the status."""

    error: str = Field(examples=["DanglingReferenceError"])
    message: str
    status: int = Field(ge=400, le=599)


class HealthOut(_Answer):
    """The server and its store answer."""

    status: Literal["ok"]
    api: str


class EntitiesIn(_Body):
    """Entities to store in one transaction; they may refer to each other."""

    entities: list[EntityDocument] = Field(min_length=1, max_length=MAX_IDS_PER_REQUEST)


class WriteOut(_Answer):
    """Which ids were newly stored and which were already stored with identical content."""

    written: list[str]
    unchanged: list[str]


class IdsIn(_Body):
    """Ids to look up."""

    ids: list[Id] = Field(max_length=MAX_IDS_PER_REQUEST)


class EntitiesOut(_Answer):
    """Stored documents by id (unknown ids are left out); training runs come without their points."""

    entities: dict[str, EntityDocument]


class ListOut(_Answer):
    """One page of entities, newest first."""

    total: Count
    offset: Count
    limit: Count
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
    created_after: Time | None = None
    created_before: Time | None = None
    limit: Count | None = None
    offset: Count = 0
    order: Order = "-created"


class IdsOut(_Answer):
    """Ids of matching entities, in the query's order."""

    ids: list[str]


class CountOut(_Answer):
    """How many entities match."""

    count: Count


class LinksIn(_Body):
    """Lineage edges leaving (``out``) or entering (``in``) these ids."""

    ids: list[Id] = Field(max_length=MAX_IDS_PER_REQUEST)
    direction: Literal["out", "in"]


class LinksOut(_Answer):
    """Edges as (source, relation, target): source names target in its relation field."""

    links: list[tuple[str, str, str]]


class ScoresIn(_Body):
    """Evaluations on these datasets with a scalar score of ``metric``."""

    datasets: list[Id] = Field(max_length=MAX_IDS_PER_REQUEST)
    metric: Text


class ScoresOut(_Answer):
    """(evaluation id, value) pairs."""

    scores: list[tuple[str, Number]]


class EndRunIn(_Body):
    """The run as it ended: state FINISHED or FAILED, end time, model link, fields it was started without."""

    run: EntityDocument


class EndRunOut(_Answer):
    """The ended run; ``changed`` is false when the run had already ended with this very content (a retry)."""

    run: EntityDocument
    changed: StrictBool


class PointsIn(_Body):
    """Metric points of one or more training runs, appended in order in one transaction."""

    points: list[PointRow] = Field(min_length=1)
    batch: Id | None = Field(
        default=None,
        description="the batch's id (a uuid, say): a batch whose id was applied before is not appended again",
    )


class PointsOut(_Answer):
    """How many points were appended (0: the batch id had been applied before)."""

    appended: Count


class RunPointsOut(_Answer):
    """The points of a run in the order they were appended (only the last ``tail``, or those after N, when asked)."""

    run: str
    total: Count
    points: list[tuple[str, str, Number | None, Count | None, Count | None, Time]]


class MetricSummaryOut(_Answer):
    """One metric of one run: how many points, the first and last values, the finite extremes, the last x."""

    metric: str
    count: Count
    first: Number = Field(description="the value logged first (may be NaN or infinite)")
    last: Number = Field(description="the value logged last (may be NaN or infinite)")
    minimum: Number | None = Field(description="the smallest finite value; null when there is none")
    maximum: Number | None = Field(description="the largest finite value; null when there is none")
    best: Number | None = Field(description="maximum when greater_is_better, else minimum")
    greater_is_better: StrictBool = Field(description="judged by the metric's name (loss, error, ... are lower)")
    last_step: Count | None
    last_epoch: Count | None
    last_timestamp: Time


class SeriesOut(_Answer):
    """One metric of a run along an axis, at most max_points points: x ascending, y null for NaN or infinities.

    A range holding more than max_points points is cut into max_points / 2 buckets of equal width in x;
    each keeps its smallest and largest finite value (in x order), so spikes stay visible.
    """

    run: str
    metric: str
    axis: Literal["step", "epoch", "time"]
    start: Count | None = Field(description="the smallest x asked for (inclusive); null: from the first point")
    end: Count | None = Field(description="the largest x asked for (inclusive); null: to the last point")
    total: Count = Field(description="how many points of the metric lie in the range")
    x: list[int]
    y: list[float | None]
    downsampled: StrictBool = Field(description="whether the range held more points than were returned")
    ended: StrictBool = Field(description="whether the run had ended (its series no longer changes)")


class RunMetricsOut(_Answer):
    """The run's state and the summary of each of its metrics."""

    run: str
    state: Literal["TRAINING", "FINISHED", "FAILED"]
    metrics: dict[str, MetricSummaryOut]


class SummariesIn(_Body):
    """Training runs (at most 1,000) and the metrics to summarize (null: every metric of each run)."""

    runs: list[Id] = Field(max_length=MAX_SUMMARY_RUNS)
    metrics: list[Text] | None = None


class SummariesOut(_Answer):
    """Summaries by run and metric; ids that are not training runs are left out."""

    runs: dict[str, dict[str, MetricSummaryOut]]


class LineageNode(_Answer):
    """An entity of a lineage graph and how many steps it is from the root."""

    id: str
    kind: Kind
    name: str | None
    depth: Count


class LineageEdge(_Answer):
    """``source`` names ``target`` in its ``relation`` field."""

    source: str
    relation: str
    target: str


class LineageOut(_Answer):
    """What the root was derived from (upstream) or what was derived from it (downstream)."""

    root: str
    direction: Literal["upstream", "downstream"]
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class ComparableOut(_Answer):
    """Whether two evaluations can be compared; if not, why; the metrics they have in common."""

    comparable: StrictBool
    reasons: list[str]
    metrics: list[str]


class LeaderboardEntry(_Answer):
    """One evaluation on the leaderboard and the model it evaluated."""

    rank: Count
    value: Number
    evaluation: str
    model: str
    model_name: str | None
    learning_algorithm: str | None
    dataset: str


class LeaderboardExclusion(_Answer):
    """An evaluation left off the leaderboard, and why."""

    evaluation: str
    reason: str


class LeaderboardOut(_Answer):
    """Evaluations of the metric on the data of the dataset, best first."""

    dataset: str
    metric: str
    procedure: str | None
    greater_is_better: StrictBool
    entries: list[LeaderboardEntry]
    excluded: list[LeaderboardExclusion]
    metrics: list[str] = Field(description="every metric evaluated on the same data")
    total: int = Field(description="how many evaluations the whole ranking holds (entries are one page of it)")
    offset: int = Field(description="how many ranked evaluations come before the first entry")
    excluded_total: int = Field(description="how many evaluations were left out (excluded lists the first 100)")


class Difference(_Answer):
    """A value in model a and in model b (null where the model has none)."""

    a: Any
    b: Any


class DiffOut(_Answer):
    """Only what differs between models a and b, by section and key."""

    a: str
    b: str
    model: dict[str, Difference]
    hyperparameters: dict[str, Difference]
    transforms: dict[str, Difference]
    training_data: dict[str, Difference]
    environment: dict[str, Difference]


def with_entity_references(node: Any) -> Any:
    """``node`` (a generated schema) with every entity mark replaced by a reference to ``Entity``."""
    if isinstance(node, dict):
        if node.get(ENTITY_MARK):
            return {"$ref": "#/components/schemas/Entity"}
        return {key: with_entity_references(value) for key, value in node.items()}
    if isinstance(node, list):
        return [with_entity_references(item) for item in node]
    return node


def with_exact_integer_bounds(node: Any) -> Any:
    """``node`` (a generated document) with the bounds of integer schemas written as integers.

    FastAPI's OpenAPI model holds ``minimum`` and ``maximum`` as floats, which turns 2**63 - 1 into 2**63;
    the largest bound the API declares is :data:`~mltrack_core.schema.MAX_COUNT`, written back exactly.
    """
    if isinstance(node, list):
        return [with_exact_integer_bounds(item) for item in node]
    if not isinstance(node, dict):
        return node
    exact = {key: with_exact_integer_bounds(value) for key, value in node.items()}
    if node.get("type") == "integer":
        for bound in ("minimum", "maximum"):
            if isinstance(exact.get(bound), float):
                exact[bound] = MAX_COUNT if exact[bound] == float(MAX_COUNT) else int(exact[bound])
    return exact


def entity_component_schemas() -> dict[str, Any]:
    """OpenAPI component schemas of every entity kind, and ``Entity``: one of them, selected by ``kind``."""
    components: dict[str, Any] = {}
    mapping = {}
    for kind, cls in KINDS.items():
        schema = _as_served(TypeAdapter(cls).json_schema(ref_template="#/components/schemas/{model}"))
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


def _as_served(node: Any, name: str = "") -> Any:
    """A generated schema with the schema's rules: closed objects, integers that are times or counts, spelled floats.

    Documents have the fields of their dataclass and no other; integers are times (fields named ``*time``,
    ``timestamp``: 0 to the end of year 9999) or counts (0 to 2**63 - 1); a float is a number or one of
    ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
    """
    if isinstance(node, list):
        return [_as_served(item, name) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "integer":
        is_time = name.endswith("time") or name == "timestamp"
        return {**node, "minimum": 0, "maximum": MAX_TIME if is_time else MAX_COUNT}
    if node.get("type") == "number":
        return {**{key: value for key, value in node.items() if key != "type"}, **NUMBER_SCHEMA}
    served = {}
    for key, value in node.items():
        if key == "properties":
            served[key] = {field: _as_served(schema, field) for field, schema in value.items()}
        elif key == "$defs":
            served[key] = {definition: _as_served(schema) for definition, schema in value.items()}
        else:
            served[key] = _as_served(value, name)
    if "properties" in served:
        served.setdefault("additionalProperties", False)
    return served
