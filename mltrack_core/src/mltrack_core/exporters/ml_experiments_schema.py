"""Export to the JSON schema published with the paper (ml-experiments-schema).

``export(tracker, directory)`` writes one JSON document per entity, valid
against the published definitions, into one folder per kind::

    datasets/<id>.json        DatasetMetadata
    models/<id>.json          ModelMetadata (its transforms embedded)
    transforms/<id>.json      Transform
    training_runs/<id>.json   TrainingRun (its transforms embedded)
    predictions/<id>.json     PredictionMetadata
    evaluations/<id>.json     Evaluation

An id that is not a plain lowercase file name (for example ``Run-1`` or, from
a store written before ids were restricted, ``../x``) is written under a
readable prefix and a digest of the id (see
:func:`mltrack_core.artifacts.safe_file_name`): no file is ever written
outside ``directory``. The documents are standard JSON: non-finite numbers
are written as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.

The published schema stores values as text and has no place for some of
mltrack's fields (fingerprints, several ``derived_from`` links, experiments,
parameter defaults, run state, ...). So that nothing is lost, every document
also carries the entity's complete mltrack JSON under the extra property
``"mltrack"`` (the schema allows extra properties). A training run that never
got a model cannot be a valid TrainingRun document (``forModelId`` is
required); such runs are written as mltrack JSON to ``mltrack-only/``.

A Transform's ``name`` is its place in the DAG (``preprocess__num__scale``);
the schema has no field for what it is, so every transform document, embedded
ones included, says it in the extra property ``"operator"`` (the class or
operator, ``StandardScaler``), when known.

The schema file (Apache-2.0, see the LICENSE and NOTICE files next to it) is
shipped with this package; :func:`load_schema` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.artifacts import safe_file_name
from mltrack_core.errors import MltrackError
from mltrack_core.exporters._reading import stored_entities
from mltrack_core.schema import (
    ConfusionMatrix,
    Dataset,
    Entity,
    Evaluation,
    Histogram,
    Model,
    Parameter,
    Prediction,
    Score,
    TrainingRun,
    Transform,
    TypedColumn,
    dumps,
)

if TYPE_CHECKING:
    from mltrack_core.tracker import Tracker

__all__ = ["DEFINITIONS", "FOLDERS", "ExportSummary", "export", "load_schema", "to_spec_document"]

SCHEMA_FILE = Path(__file__).with_name("ml-experiments-schema.json")
FOLDERS = {
    "dataset": "datasets",
    "model": "models",
    "transform": "transforms",
    "run": "training_runs",
    "prediction": "predictions",
    "evaluation": "evaluations",
}
DEFINITIONS = {
    "dataset": "DatasetMetadata",
    "model": "ModelMetadata",
    "transform": "Transform",
    "run": "TrainingRun",
    "prediction": "PredictionMetadata",
    "evaluation": "Evaluation",
}
UNEXPRESSIBLE_FOLDER = "mltrack-only"
EXTENSION = "mltrack"
OPERATOR = "operator"
"""The extra Transform property saying what a transform is (``StandardScaler``); ``name`` is its place in the DAG."""


def load_schema() -> dict[str, Any]:
    """The published schema as a dict of definitions (its license comment stripped)."""
    text = SCHEMA_FILE.read_text()
    return json.loads(text[text.index("*/") + 2 :])


@dataclass
class ExportSummary:
    """What :func:`export` wrote: documents per folder."""

    directory: Path
    written: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.written.values())


def export(tracker: Tracker, directory: str | Path, *, on_document: Callable[[], None] | None = None) -> ExportSummary:
    """Write every stored entity to ``directory`` as published-schema documents.

    Args:
        tracker: the tracker whose store is exported.
        directory: the folder to write into (created when missing).
        on_document: called after each document (for progress display).

    Returns:
        how many documents were written to each folder.

    Raises:
        MltrackError: a document's place resolves outside ``directory`` (a folder in it is a link leading out).
        OSError: ``directory`` cannot be created or written.
    """
    directory = Path(directory)
    summary = ExportSummary(directory)
    for entity in stored_entities(tracker, FOLDERS, with_scores=True):
        folder = FOLDERS[entity.KIND]
        if isinstance(entity, TrainingRun) and entity.for_model is None:
            folder, document = UNEXPRESSIBLE_FOLDER, entity.to_json()
        else:
            document = to_spec_document(entity, _embedded_transforms(tracker, entity))
        target = _place_of(directory, folder, entity.id)
        target.write_text(dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        summary.written[folder] = summary.written.get(folder, 0) + 1
        if on_document is not None:
            on_document()
    return summary


def _place_of(directory: Path, folder: str, entity_id: str) -> Path:
    """The file of an entity's document, checked to be inside ``directory`` once links are resolved."""
    target = directory / folder / safe_file_name(entity_id, ".json")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.resolve().is_relative_to(directory.resolve()):
        raise MltrackError(
            f"the export of {entity_id!r} would be written to {target.resolve()}, outside {directory}: "
            f"{target} or its folder is a link leading out; export to a fresh folder"
        )
    return target


def _embedded_transforms(tracker: Tracker, entity: Entity) -> list[Transform]:
    ids = getattr(entity, "transforms", ())
    if not ids:
        return []
    found = tracker.get_many(list(ids))
    return [found[id_] for id_ in ids if isinstance(found.get(id_), Transform)]  # type: ignore[misc]


# ---------------------------------------------------------------- entity -> document


def to_spec_document(entity: Entity, transforms: list[Transform] | None = None) -> dict[str, Any]:
    """The published-schema document of ``entity`` (``transforms``: the ones it names, to embed)."""
    convert = _CONVERTERS[entity.KIND]
    document = convert(entity, transforms or [])
    document[EXTENSION] = entity.to_json()
    return {key: value for key, value in document.items() if value not in (None, [], {}, "")}


def _common(entity: Entity) -> dict[str, Any]:
    return {
        "id": entity.id,
        "name": entity.name,
        "creationTime": entity.creation_time,
        "creator": entity.creator,
        "creatorTeam": entity.creator_team,
        "comments": entity.comments,
        "annotations": dict(entity.annotations),
    }


def _text(value: Any) -> str:
    """The schema stores values as non-empty text: strings as they are, anything else as JSON."""
    if isinstance(value, str) and value:
        return value
    return json.dumps(value)


def _columns(columns: tuple[TypedColumn, ...]) -> list[dict[str, Any]]:
    return [{"name": column.name, "typing": column.typing.value} for column in columns]


def _parameters(parameters: tuple[Parameter, ...]) -> list[dict[str, Any]]:
    return [
        {
            "name": parameter.name,
            "typing": parameter.typing.value,  # type: ignore[union-attr]
            "value": _text(parameter.value),
            "nonDefault": parameter.non_default,
            "trackedByUser": parameter.tracked_by_user,
        }
        for parameter in parameters
    ]


def _score(score: Score) -> dict[str, Any]:
    return {"metric": score.metric, "typing": score.typing.value, "value": _text(score.value)}  # type: ignore[union-attr]


def _histogram(histogram: Histogram) -> dict[str, Any]:
    return _drop_empty(
        {
            "column": histogram.column,
            "name": histogram.name,
            "typing": histogram.typing.value,  # type: ignore[union-attr]
            "bucketValues": [_text(value) for value in histogram.bucket_values],
            "bucketLabels": list(histogram.bucket_labels),
        }
    )


def _confusion_matrix(matrix: ConfusionMatrix | None) -> dict[str, Any] | None:
    if matrix is None:
        return None
    size = matrix.number_of_classes
    column_major = [matrix.matrix[row][column] for column in range(size) for row in range(size)]
    return {"numberOfClasses": size, "classLabels": list(matrix.labels), "values": column_major}


def _drop_empty(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if value not in (None, [], {}, "")}


def _transform_document(transform: Transform) -> dict[str, Any]:
    return _drop_empty(
        {
            "id": transform.id,
            "name": transform.name,
            OPERATOR: transform.operator,
            "fromFramework": transform.framework,
            "fromFrameworkVersion": transform.framework_version,
            "version": transform.version,
            "state": transform.state,
            "input": _columns(transform.input),
            "output": _columns(transform.output),
            "inputTransforms": list(transform.input_transforms),
            "parameters": _parameters(transform.parameters),
        }
    )


def _dataset(dataset: Dataset, _: list[Transform]) -> dict[str, Any]:
    return {
        **_common(dataset),
        "location": dataset.location or f"urn:mltrack:dataset:{dataset.id}",
        "version": dataset.version,
        "derivedFromDatasetId": dataset.derived_from[0] if dataset.derived_from else None,
        "schema": _columns(dataset.schema),
        "dataStatistics": [
            _drop_empty(
                {
                    "name": statistic.name,
                    "typing": statistic.typing.value,  # type: ignore[union-attr]
                    "value": _text(statistic.value),
                    "columns": list(statistic.columns),
                }
            )
            for statistic in dataset.statistics
        ],
        "histograms": [_histogram(histogram) for histogram in dataset.histograms],
    }


def _model(model: Model, transforms: list[Transform]) -> dict[str, Any]:
    return {
        **_common(model),
        "learningAlgorithm": model.learning_algorithm,
        "trainedOnDatasetId": model.trained_on,
        "fromFramework": model.framework,
        "fromFrameworkVersion": model.framework_version,
        "version": model.version,
        "location": model.location,
        "hyperparameters": _parameters(model.hyperparameters),
        "transforms": [_transform_document(transform) for transform in transforms],
        "input": _columns(model.input),
    }


def _transform(transform: Transform, _: list[Transform]) -> dict[str, Any]:
    return _transform_document(transform)


def _run(run: TrainingRun, transforms: list[Transform]) -> dict[str, Any]:
    return {
        **_common(run),
        "forModelId": run.for_model,
        "startTime": run.start_time,
        "endTime": run.end_time,
        "hyperparameters": _parameters(run.hyperparameters),
        "transforms": [_transform_document(transform) for transform in transforms],
        "environment": dict(run.environment),
        "scoresOverTime": [
            _drop_empty(
                {
                    "epoch": point.epoch,
                    "timestamp": point.timestamp,
                    "score": {"metric": point.metric, "typing": "DOUBLE", "value": _text(point.value)},
                }
            )
            for point in run.scores_over_time
        ],
    }


def _prediction(prediction: Prediction, _: list[Transform]) -> dict[str, Any]:
    return {
        **_common(prediction),
        "computedByModelId": prediction.computed_by,
        "computedOnDatasetId": prediction.on_dataset,
        "location": prediction.location,
        "schema": _columns(prediction.schema),
    }


def _evaluation(evaluation: Evaluation, _: list[Transform]) -> dict[str, Any]:
    return {
        **_common(evaluation),
        "computedByModelId": evaluation.computed_by,
        "computedOnDatasetId": evaluation.on_dataset,
        "forPredictionId": evaluation.for_prediction,
        "scores": [_score(score) for score in evaluation.scores],
        "confusionMatrix": _confusion_matrix(evaluation.confusion_matrix),
        "tags": [{"name": key, "value": value} for key, value in evaluation.tags.items()],
    }


_CONVERTERS: dict[str, Callable[[Any, list[Transform]], dict[str, Any]]] = {
    "dataset": _dataset,
    "model": _model,
    "transform": _transform,
    "run": _run,
    "prediction": _prediction,
    "evaluation": _evaluation,
}
