"""Evaluations from Spark evaluators, linked to the model and the dataset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import SchemaError, Score, get_tracker
from mltrack_spark.framework import is_dataframe, require_pyspark

if TYPE_CHECKING:
    from mltrack_core.plugin import Dataset, Evaluation, Model, Tracker

__all__ = ["evaluator_score", "record_scores", "track_evaluation"]


def track_evaluation(
    evaluator: Any,
    predictions: Any,
    *,
    computed_by: Model | str,
    on_dataset: Dataset | str | Any,
    metrics: Sequence[str] | None = None,
    procedure: str = "holdout",
    tracker: Tracker | None = None,
    **fields: Any,
) -> Evaluation:
    """Evaluate ``predictions`` with a Spark evaluator and record the scores.

    Each score carries the evaluator's direction (``isLargerBetter``) as
    ``greater_is_better``, so leaderboards rank ``rmse`` or ``logLoss`` correctly.

    Args:
        evaluator: a ``pyspark.ml.evaluation`` evaluator (its metric is the default).
        predictions: the DataFrame the model's ``transform`` returned.
        computed_by: the tracked model, its id, or the PipelineModel a TrackedPipeline's fit returned.
        on_dataset: the tracked dataset the predictions were made on, its id, or
            the DataFrame before ``transform`` (tracked now).
        metrics: metric names to compute with the same evaluator, e.g. ``["f1", "accuracy"]``.
        procedure: how the scores were estimated (evaluations are comparable only
            under the same procedure).
        tracker: where to record (default ``mltrack_core.get_tracker()``).
        **fields: further fields of the Evaluation (``name``, ``tags``, ``comments``, ...).

    Returns:
        The stored Evaluation.

    Raises:
        SchemaError: the evaluator does not know a metric name, or is not a Spark evaluator.
    """
    require_pyspark()
    from pyspark.ml.evaluation import Evaluator

    if not isinstance(evaluator, Evaluator):
        raise SchemaError(f"evaluator must be a pyspark.ml.evaluation Evaluator, got {type(evaluator).__name__}")
    if tracker is None:
        tracker = get_tracker()
    from mltrack_spark.autolog import tracked_call

    with tracked_call():  # these evaluate calls are this one's: automatic tracking does not record them again
        scores = [_score(evaluator, metric, predictions) for metric in (metrics or [None])]
    dataset = tracker.track_dataset(on_dataset) if is_dataframe(on_dataset) else on_dataset
    model = _model_reference(computed_by)
    return record_scores(
        tracker, evaluator, scores, computed_by=model, on_dataset=dataset, procedure=procedure, **fields
    )


def record_scores(
    tracker: Tracker,
    evaluator: Any,
    scores: Sequence[Score],
    *,
    computed_by: Model | str,
    on_dataset: Dataset | str,
    procedure: str,
    **fields: Any,
) -> Evaluation:
    """Record ``scores`` computed by a Spark ``evaluator`` as an Evaluation (the evaluator's class annotated).

    Args:
        tracker: where to record.
        evaluator: the evaluator that computed them.
        scores: the scores (see :func:`evaluator_score`).
        computed_by: the model, or its id.
        on_dataset: the dataset evaluated on, or its id.
        procedure: how the scores were estimated.
        **fields: further fields of the Evaluation (``annotations`` are added to).

    Returns:
        The stored Evaluation.
    """
    annotations = {"spark.evaluator": type(evaluator).__name__, **fields.pop("annotations", {})}
    return tracker.track_evaluation(
        scores, computed_by=computed_by, on_dataset=on_dataset, procedure=procedure, annotations=annotations, **fields
    )


def evaluator_score(evaluator: Any, value: Any) -> Score:
    """The Score of ``value``, which ``evaluator.evaluate`` returned: its metric name and direction."""
    name = evaluator.getMetricName() if hasattr(evaluator, "getMetricName") else type(evaluator).__name__
    return Score(metric=name, value=float(value), greater_is_better=bool(evaluator.isLargerBetter()))


def _model_reference(computed_by: Any) -> Any:
    """A model entity or id as given, or the id a TrackedPipeline's fit recorded on a fitted Spark model."""
    from pyspark.ml.param import Params

    if not isinstance(computed_by, Params):
        return computed_by
    recorded = getattr(computed_by, "_mltrack_model_id", None)
    if recorded is None:
        raise SchemaError(
            f"computed_by={type(computed_by).__name__} was not fitted by a TrackedPipeline, so no tracked model "
            "is known for it: track it first (model = tracker.track_model(fitted, trained_on=...)) "
            "and pass computed_by=model"
        )
    return recorded


def _score(evaluator: Any, metric: str | None, predictions: Any) -> Score:
    if metric is not None:
        if not evaluator.hasParam("metricName"):
            raise SchemaError(f"{type(evaluator).__name__} has no metricName parameter; leave metrics= out")
        evaluator = _with_metric(evaluator, metric)
    return evaluator_score(evaluator, evaluator.evaluate(predictions))


def _with_metric(evaluator: Any, metric: str) -> Any:
    """A copy of ``evaluator`` computing ``metric``, validated by the JVM now: a typo is reported as such."""
    try:
        chosen = evaluator.copy({evaluator.getParam("metricName"): metric})  # PySpark 4 validates here
        transfer = getattr(chosen, "_transfer_params_to_java", None)  # PySpark 3.5 only here
        if transfer is not None:
            transfer()
        return chosen
    except Exception as exc:  # noqa: BLE001 - Spark's IllegalArgumentException, whose text differs between versions
        allowed = _allowed_metrics(evaluator)
        hint = f"; {type(evaluator).__name__} knows: {allowed}" if allowed else ""
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise SchemaError(f"metric {metric!r} is not a metric of {type(evaluator).__name__}{hint} ({reason})") from None


def _allowed_metrics(evaluator: Any) -> str:
    doc = evaluator.getParam("metricName").doc or ""
    return doc.partition("(supports")[2].rstrip(")").strip() or doc
