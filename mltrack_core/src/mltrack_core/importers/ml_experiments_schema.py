"""Import documents of the schema published with the paper (ml-experiments-schema).

``import_directory(tracker, directory)`` reads every ``*.json`` document under
``directory`` into the store. Two kinds of documents are understood:

* documents written by ``mltrack export``: each carries the entity's complete
  mltrack JSON under the extra property ``"mltrack"`` (and training runs
  without a model are plain mltrack JSON in ``mltrack-only/``). They are read
  from that JSON, so export -> import is lossless, training-run points included;
* plain published-schema documents (written by another tool): the spec
  fields are mapped to mltrack's fields and the typed string values
  (parameters, scores, statistics, histogram buckets) are parsed by their
  ``typing``. Their kind is told by their folder (``datasets/``, ``models/``,
  ``transforms/``, ``training_runs/``, ``predictions/``, ``evaluations/``, as
  the exporter writes them); transforms embedded in model and training-run
  documents become transforms of their own. A document without an ``id``
  gets one derived from its content, so importing it twice is a no-op. A
  training run document names the model it produced (``forModelId``), so it
  is imported as FINISHED.

Entities are written in one transaction, in an order where everything named
is written first; re-importing identical content is a no-op and different
content under a stored id is refused (:class:`~mltrack_core.errors.ConflictError`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.errors import SchemaError
from mltrack_core.exporters.ml_experiments_schema import EXTENSION, FOLDERS, OPERATOR, UNEXPRESSIBLE_FOLDER
from mltrack_core.importers._writing import ImportSummary, write_entities
from mltrack_core.schema import (
    ConfusionMatrix,
    Dataset,
    DataStatistic,
    Entity,
    Evaluation,
    Histogram,
    Model,
    Parameter,
    Prediction,
    Score,
    ScoreAtTime,
    TrainingRun,
    TrainingState,
    Transform,
    TypedColumn,
    TypeHint,
    canonical_json,
    entity_from_json,
)

if TYPE_CHECKING:
    from mltrack_core.tracker import Tracker

__all__ = ["import_directory", "parse_typed_value", "read_directory"]

_KIND_OF_FOLDER = {folder: kind for kind, folder in FOLDERS.items()}
_WRITE_ORDER = ("dataset", "transform", "model", "run", "prediction", "evaluation")
_ARRAY_TYPES = {
    TypeHint.STRING_ARRAY,
    TypeHint.INT_ARRAY,
    TypeHint.DOUBLE_ARRAY,
    TypeHint.VECTOR,
    TypeHint.STRUCT_ARRAY,
}
_PLACEHOLDER_LOCATION = "urn:mltrack:dataset:"  # what the exporter writes for a dataset without a location


def import_directory(
    tracker: Tracker, directory: str | Path, *, on_document: Callable[[Path], None] | None = None
) -> ImportSummary:
    """Read every document under ``directory`` and store the entities in one transaction.

    Args:
        tracker: the tracker to write with.
        directory: the folder of documents (kind by subfolder: ``datasets/``, ``models/``, ...).
        on_document: called with each document's path after it was read (for progress display).

    Raises:
        SchemaError: a document is not valid JSON or does not fit the schema (the message names the file).
        ConflictError: an id is stored with other content (nothing is written).
        DanglingReferenceError: a document names an id neither stored nor imported.
    """
    directory = Path(directory)
    entities = read_directory(directory, on_document=on_document)
    summary = ImportSummary(str(directory))
    write_entities(tracker, _in_write_order(entities), summary)
    return summary


def read_directory(directory: Path, *, on_document: Callable[[Path], None] | None = None) -> list[Entity]:
    """The entities of every ``*.json`` document under ``directory`` (unordered, duplicates merged)."""
    if not directory.is_dir():
        raise SchemaError(f"{directory} is not a folder of ml-experiments-schema documents")
    paths = sorted(directory.rglob("*.json"))
    if not paths:
        raise SchemaError(f"{directory} holds no *.json documents to import")
    found: dict[str, tuple[Entity, Path]] = {}
    for path in paths:
        for entity in _entities_of(path, directory):
            _merge(found, entity, path)
        if on_document is not None:
            on_document(path)
    return [entity for entity, _ in found.values()]


def _merge(found: dict[str, tuple[Entity, Path]], entity: Entity, path: Path) -> None:
    if entity.id not in found:
        found[entity.id] = (entity, path)
        return
    earlier, earlier_path = found[entity.id]
    if earlier.content_hash() != entity.content_hash():
        raise SchemaError(f"{path} and {earlier_path} describe {entity.KIND} {entity.id!r} differently")


def _entities_of(path: Path, root: Path) -> list[Entity]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path} is not a JSON document: {exc}") from None
    if not isinstance(document, dict):
        raise SchemaError(f"{path}: expected a JSON object, got {type(document).__name__}")
    try:
        if isinstance(document.get(EXTENSION), dict):
            return [entity_from_json(document[EXTENSION])]
        if "kind" in document or path.parent.name == UNEXPRESSIBLE_FOLDER:
            return [entity_from_json(document)]
        kind = _KIND_OF_FOLDER.get(path.parent.name)
        if kind is None:
            folders = ", ".join(sorted(FOLDERS.values()))
            raise SchemaError(
                f"cannot tell which kind of entity it is: put it in one of the folders {folders} under {root}"
            )
        return _FROM_SPEC[kind](document)
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}") from None


def _in_write_order(entities: Sequence[Entity]) -> list[Entity]:
    """Kinds in dependency order; within a kind, every entity after the ones of its kind it names."""
    ordered: list[Entity] = []
    for kind in _WRITE_ORDER:
        of_kind = {entity.id: entity for entity in sorted(entities, key=_age) if kind == entity.KIND}
        named = {
            id_: [target for _, target, target_kind in entity.references() if target_kind == kind and target in of_kind]
            for id_, entity in of_kind.items()
        }
        try:
            ordered.extend(of_kind[id_] for id_ in TopologicalSorter(named).static_order())
        except CycleError as exc:
            raise SchemaError(f"these {kind} entities name each other in a cycle: {', '.join(exc.args[1])}") from None
    return ordered


def _age(entity: Entity) -> tuple[int, str]:
    return entity.creation_time, entity.id


# ---------------------------------------------------------------- typed values


def parse_typed_value(text: Any, typing: TypeHint | str, where: str) -> Any:
    """The value a published-schema document stores as text, parsed by its type hint.

    Raises:
        SchemaError: the text cannot be read as that type (the message names ``where``).
    """
    hint = _hint(typing, where)
    if not isinstance(text, str):
        raise SchemaError(f"{where}: expected the value as text, got {type(text).__name__} {text!r:.60}")
    try:
        if hint is TypeHint.STRING:
            return text
        if hint is TypeHint.BOOLEAN:
            if text.lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            return text.lower() == "true"
        if hint in (TypeHint.LONG, TypeHint.INT):
            return int(text)
        if hint in (TypeHint.FLOAT, TypeHint.DOUBLE):
            return float(text)
        if hint in _ARRAY_TYPES:
            value = json.loads(text)
            if not isinstance(value, list):
                raise ValueError("expected a JSON array")
            return value
    except ValueError as exc:
        raise SchemaError(f"{where}: cannot read {text[:80]!r} as {hint.value}: {exc}") from None
    try:  # UNKNOWN: JSON when it is JSON, else the text itself
        return json.loads(text)
    except ValueError:
        return text


def _hint(typing: Any, where: str) -> TypeHint:
    try:
        return TypeHint(typing)
    except ValueError:
        raise SchemaError(
            f"{where}: unknown typing {typing!r}; expected one of {', '.join(hint.value for hint in TypeHint)}"
        ) from None


# ---------------------------------------------------------------- spec document -> entity


def _derived_id(kind: str, document: Mapping[str, Any]) -> str:
    """A stable id for a document that has none: importing it twice must not create it twice."""
    return f"{kind}-{hashlib.sha256(canonical_json(document).encode()).hexdigest()[:32]}"


def _common(kind: str, document: Mapping[str, Any]) -> dict[str, Any]:
    fields = {
        "id": document.get("id") or _derived_id(kind, document),
        "name": document.get("name"),
        "creator": document.get("creator"),
        "creator_team": document.get("creatorTeam"),
        "comments": document.get("comments"),
        "annotations": document.get("annotations"),
    }
    if document.get("creationTime") is not None:
        fields["creation_time"] = document["creationTime"]
    return fields


def _columns(columns: Any, where: str) -> list[TypedColumn]:
    return [
        TypedColumn(name=column.get("name"), typing=_hint(column.get("typing"), f"{where}[{index}].typing"))
        for index, column in enumerate(_list(columns, where))
    ]


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SchemaError(f"{where}: expected a list of objects, got {value!r:.60}")
    return value


def _parameters(parameters: Any, where: str) -> list[Parameter]:
    converted = []
    for index, parameter in enumerate(_list(parameters, where)):
        at = f"{where}[{index}]"
        converted.append(
            Parameter(
                name=parameter.get("name"),
                value=parse_typed_value(parameter.get("value"), parameter.get("typing"), f"{at}.value"),
                typing=_hint(parameter.get("typing"), f"{at}.typing"),
                non_default=bool(parameter.get("nonDefault", False)),
                tracked_by_user=bool(parameter.get("trackedByUser", False)),
            )
        )
    return converted


def _score(score: Any, where: str) -> Score:
    if not isinstance(score, dict):
        raise SchemaError(f"{where}: expected a score object, got {score!r:.60}")
    return Score(
        metric=score.get("metric"),
        value=parse_typed_value(score.get("value"), score.get("typing"), f"{where}.value"),
        typing=_hint(score.get("typing"), f"{where}.typing"),
    )


def _transforms(document: Mapping[str, Any]) -> list[Transform]:
    return [_transform(transform) for transform in _list(document.get("transforms"), "transforms")]


def _transform(document: Mapping[str, Any]) -> Transform:
    if not document.get("id"):
        raise SchemaError("a Transform needs an id (the published schema requires it)")
    return Transform(
        id=document["id"],
        name=document.get("name"),
        operator=document.get(OPERATOR),
        framework=document.get("fromFramework"),
        framework_version=document.get("fromFrameworkVersion"),
        version=document.get("version"),
        state=document.get("state"),
        input=_columns(document.get("input"), "input"),
        output=_columns(document.get("output"), "output"),
        input_transforms=document.get("inputTransforms"),
        parameters=_parameters(document.get("parameters"), "parameters"),
    )


def _dataset(document: Mapping[str, Any]) -> list[Entity]:
    fields = _common("dataset", document)
    location = document.get("location")
    if location == f"{_PLACEHOLDER_LOCATION}{fields['id']}":
        location = None
    statistics = [
        DataStatistic(
            name=statistic.get("name"),
            value=parse_typed_value(statistic.get("value"), statistic.get("typing"), f"dataStatistics[{index}].value"),
            typing=_hint(statistic.get("typing"), f"dataStatistics[{index}].typing"),
            columns=statistic.get("columns"),
        )
        for index, statistic in enumerate(_list(document.get("dataStatistics"), "dataStatistics"))
    ]
    histograms = []
    for index, histogram in enumerate(_list(document.get("histograms"), "histograms")):
        at = f"histograms[{index}]"
        typing = _hint(histogram.get("typing"), f"{at}.typing")
        buckets = histogram.get("bucketValues")
        if not isinstance(buckets, list):
            raise SchemaError(f"{at}.bucketValues: expected a list of values, got {buckets!r:.60}")
        histograms.append(
            Histogram(
                column=histogram.get("column"),
                name=histogram.get("name"),
                typing=typing,
                bucket_values=[
                    parse_typed_value(value, typing, f"{at}.bucketValues[{i}]") for i, value in enumerate(buckets)
                ],
                bucket_labels=histogram.get("bucketLabels"),
            )
        )
    derived = document.get("derivedFromDatasetId")
    return [
        Dataset(
            **fields,
            location=location,
            version=document.get("version"),
            derived_from=[derived] if derived else [],
            schema=_columns(document.get("schema"), "schema"),
            statistics=statistics,
            histograms=histograms,
        )
    ]


def _model(document: Mapping[str, Any]) -> list[Entity]:
    transforms = _transforms(document)
    model = Model(
        **_common("model", document),
        learning_algorithm=document.get("learningAlgorithm"),
        trained_on=document.get("trainedOnDatasetId"),
        framework=document.get("fromFramework"),
        framework_version=document.get("fromFrameworkVersion"),
        version=document.get("version"),
        location=document.get("location"),
        hyperparameters=_parameters(document.get("hyperparameters"), "hyperparameters"),
        transforms=[transform.id for transform in transforms],
        input=_columns(document.get("input"), "input"),
    )
    return [*transforms, model]


def _run(document: Mapping[str, Any]) -> list[Entity]:
    transforms = _transforms(document)
    points = []
    for index, point in enumerate(_list(document.get("scoresOverTime"), "scoresOverTime")):
        score = _score(point.get("score"), f"scoresOverTime[{index}].score")
        value = score.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SchemaError(
                f"scoresOverTime[{index}].score.value: a training metric must be a finite number, got {value!r:.60}"
            )
        points.append(
            ScoreAtTime(metric=score.metric, value=value, timestamp=point.get("timestamp"), epoch=point.get("epoch"))
        )
    run = TrainingRun(
        **_common("run", document),
        state=TrainingState.FINISHED,
        for_model=document.get("forModelId"),
        start_time=document.get("startTime"),
        end_time=document.get("endTime"),
        hyperparameters=_parameters(document.get("hyperparameters"), "hyperparameters"),
        transforms=[transform.id for transform in transforms],
        environment=document.get("environment"),
        scores_over_time=points,
    )
    return [*transforms, run]


def _prediction(document: Mapping[str, Any]) -> list[Entity]:
    return [
        Prediction(
            **_common("prediction", document),
            computed_by=document.get("computedByModelId"),
            on_dataset=document.get("computedOnDatasetId"),
            location=document.get("location"),
            schema=_columns(document.get("schema"), "schema"),
        )
    ]


def _evaluation(document: Mapping[str, Any]) -> list[Entity]:
    tags = {tag.get("name"): tag.get("value") for tag in _list(document.get("tags"), "tags")}
    return [
        Evaluation(
            **_common("evaluation", document),
            computed_by=document.get("computedByModelId"),
            on_dataset=document.get("computedOnDatasetId"),
            for_prediction=document.get("forPredictionId"),
            scores=[
                _score(score, f"scores[{index}]") for index, score in enumerate(_list(document.get("scores"), "scores"))
            ],
            confusion_matrix=_confusion_matrix(document.get("confusionMatrix")),
            tags=tags,
        )
    ]


def _confusion_matrix(document: Any) -> ConfusionMatrix | None:
    if document is None:
        return None
    if not isinstance(document, dict):
        raise SchemaError(f"confusionMatrix: expected an object, got {document!r:.60}")
    size = document.get("numberOfClasses")
    values = document.get("values")
    if not isinstance(size, int) or size < 1 or not isinstance(values, list) or len(values) != size * size:
        raise SchemaError(
            f"confusionMatrix: {size!r} classes need {size}x{size} values in column-major order, "
            f"got {len(values) if isinstance(values, list) else values!r}"
        )
    labels = document.get("classLabels") or [str(index) for index in range(size)]
    rows = [[values[column * size + row] for column in range(size)] for row in range(size)]
    return ConfusionMatrix(labels=labels, matrix=rows)


_FROM_SPEC: dict[str, Callable[[Mapping[str, Any]], list[Entity]]] = {
    "dataset": _dataset,
    "model": _model,
    "transform": lambda document: [_transform(document)],
    "run": _run,
    "prediction": _prediction,
    "evaluation": _evaluation,
}
