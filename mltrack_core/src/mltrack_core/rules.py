"""The rules of the schema that a single entity cannot check by itself, written once.

The tracker applies them to everything it writes, whether a user's
``track_*`` call or a request the metadata server received, so an embedded
store and a server can never disagree (ML Metadata's one rule engine behind
both transports). Rules that need only the entity itself live in
:mod:`mltrack_core.schema`; write-once and references are checked atomically
by the store (:mod:`mltrack_core.store`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from mltrack_core.errors import RunStateError, SchemaError
from mltrack_core.schema import (
    MAX_COUNT,
    MAX_TIME,
    Entity,
    Evaluation,
    Prediction,
    TrainingRun,
    TrainingState,
    metric_name,
)

__all__ = [
    "FIXED_AT_START",
    "SET_WHEN_ENDING",
    "check_points",
    "check_predictions_match",
    "check_run_end",
    "check_run_ended",
]

FIXED_AT_START = ("id", "creation_time", "start_time")
"""Fields of a training run that never change."""
SET_WHEN_ENDING = ("state", "end_time", "for_model", "scores_over_time")
"""Fields of a training run that ending it sets (its points are appended separately)."""


def check_predictions_match(entities: Sequence[Entity], lookup: Callable[[list[str]], Mapping[str, Entity]]) -> None:
    """An evaluation made for a prediction must name the prediction's model and dataset.

    Args:
        entities: the entities of one write; a prediction may be among them.
        lookup: reads stored entities by id (unknown ids left out), for predictions stored before.

    Raises:
        SchemaError: naming the evaluation, the prediction and what differs.
    """
    evaluations = [e for e in entities if isinstance(e, Evaluation) and e.for_prediction is not None]
    if not evaluations:
        return
    in_write = {entity.id: entity for entity in entities}
    stored = lookup([e.for_prediction for e in evaluations if e.for_prediction not in in_write])  # type: ignore[misc]
    for evaluation in evaluations:
        prediction = in_write.get(evaluation.for_prediction) or stored.get(evaluation.for_prediction)  # type: ignore[arg-type]
        if isinstance(prediction, Prediction) and (
            prediction.computed_by != evaluation.computed_by or prediction.on_dataset != evaluation.on_dataset
        ):
            raise SchemaError(
                f"evaluation {evaluation.id!r} is for prediction {prediction.id!r}, which model "
                f"{prediction.computed_by!r} computed on dataset {prediction.on_dataset!r}; the evaluation names "
                f"model {evaluation.computed_by!r} and dataset {evaluation.on_dataset!r}"
            )


def check_run_ended(run: TrainingRun) -> None:
    """An ended run has the state FINISHED or FAILED and an end time.

    Raises:
        RunStateError: the run is still TRAINING or has no end time.
    """
    if run.state is TrainingState.TRAINING or run.end_time is None:
        raise RunStateError(f"training run {run.id!r}: an ended run needs state FINISHED or FAILED and an end_time")


def check_run_end(started: TrainingRun, ended: TrainingRun) -> None:
    """What may change when a run ends: its end (:data:`SET_WHEN_ENDING`), fields it started without, new annotations.

    Args:
        started: the run as it was stored when it started.
        ended: the run as it is to be stored now.

    Raises:
        RunStateError: naming the field that may not change.
    """
    for spec in dataclasses.fields(TrainingRun):
        name = spec.name
        before, after = getattr(started, name), getattr(ended, name)
        if name in SET_WHEN_ENDING or name == "annotations" or before == after:
            continue
        if name in FIXED_AT_START:
            raise RunStateError(f"training run {started.id!r}: {name} cannot change when the run ends")
        if before not in (None, (), {}):
            raise RunStateError(
                f"training run {started.id!r}: {name} was recorded when the run started and cannot change; "
                "only fields left empty then can be filled in at the end"
            )
    changed = sorted(key for key, value in started.annotations.items() if ended.annotations.get(key) != value)
    if changed:
        raise RunStateError(f"training run {started.id!r}: annotation(s) {', '.join(changed)} are already set")


def check_points(points: Sequence[tuple]) -> None:
    """Every metric point fits the schema: ``(run_id, metric, value, epoch, step, timestamp)`` of the right types.

    Cheap enough for every batch a store appends (well under a microsecond a point), so a
    point no store could hold is refused as data, before any transaction.

    Args:
        points: the points of one append.

    Raises:
        SchemaError: naming the first point that does not fit and why.
    """
    for index, point in enumerate(points):
        if len(point) != 6:
            raise SchemaError(f"metric point {index}: expected 6 fields (run, metric, value, epoch, step, time)")
        run_id, metric, value, epoch, step, timestamp = point
        if run_id.__class__ is not str or not run_id:
            raise SchemaError(f"metric point {index}: the run id must be a non-empty string")
        if not (metric.__class__ is str and metric and metric.isascii()):
            metric_name(metric, f"metric point {index}: metric name")
        if value.__class__ is not float and (value.__class__ is not int or not -(2**1023) < value < 2**1023):
            raise SchemaError(
                f"metric point {index}: metric {metric!r} needs a float value, got {type(value).__name__}"
            )
        if epoch is not None and (epoch.__class__ is not int or not 0 <= epoch <= MAX_COUNT):
            raise SchemaError(f"metric point {index}: epoch must be an int from 0 to {MAX_COUNT}, got {epoch!r:.40}")
        if step is not None and (step.__class__ is not int or not 0 <= step <= MAX_COUNT):
            raise SchemaError(f"metric point {index}: step must be an int from 0 to {MAX_COUNT}, got {step!r:.40}")
        if timestamp.__class__ is not int or not 0 <= timestamp <= MAX_TIME:
            raise SchemaError(f"metric point {index}: time must be an int from 0 to {MAX_TIME}, got {timestamp!r:.40}")
