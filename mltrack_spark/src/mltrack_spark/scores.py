"""``evaluator.evaluate(predictions)`` under automatic tracking: an Evaluation of the model on its dataset.

:func:`patch` (called by :func:`mltrack_spark.autolog.autolog` once ``pyspark.ml``
is imported) replaces ``pyspark.ml.evaluation.Evaluator.evaluate``, which every
Spark evaluator inherits (binary, multiclass, multilabel, regression,
clustering, ranking); :func:`unpatch` puts it back.

A top-level call (not one inside a recorded fit: a ``CrossValidator``'s own
evaluations are recorded with its tuning) whose predictions DataFrame came out
of ``model.transform(df)`` of a model whose fit was recorded (the very
DataFrame ``transform`` returned: :mod:`mltrack_spark.links`) records
``tracker.track_evaluation`` of:

* one score: the value ``evaluate`` returned (never computed again), named by
  the evaluator's ``getMetricName()`` (``areaUnderROC``, ``accuracy``,
  ``rmse``, ...), with its direction (``isLargerBetter()``);
* ``computed_by`` the model, ``on_dataset`` the dataset of ``df`` (a
  ``randomSplit`` part, a dataset recorded before, or ``df`` described now),
  with the evaluator's label column as its target when ``df`` has it;
* the procedure: ``"holdout"``, or ``"resubstitution (training data)"`` when
  the dataset is the model's training dataset, or ``"resubstitution (data that
  includes the training data)"`` when the training dataset was derived from it;
* the ``spark.leak`` annotation when a fitted stage the predictions went
  through (a ``StringIndexerModel`` fitted on the full data by hand, then put
  in the pipeline or applied by hand) was fitted on a dataset that includes the
  rows evaluated on: ``StringIndexerModel (stages[0]) was fitted on dataset D
  (iris), which includes the rows of test dataset T (iris randomSplit part 2
  of 2)``. Nothing is printed: the program's output is unchanged.

The recording runs on the tracker's background thread (describing the dataset
may take two Spark aggregations); the DataFrame evaluated on is referenced
until then. Predictions that are not linked (computed another way, or a new
DataFrame made from them, such as ``predictions.select(...)``) record nothing;
the reason is logged at DEBUG level on the ``mltrack.spark`` logger.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import Dataset, Patches, Score, TrackingWarning
from mltrack_spark import links
from mltrack_spark.autolog import current_tracker, inside_tracked_call, tracked_call
from mltrack_spark.evaluation import evaluator_score, record_scores

if TYPE_CHECKING:
    from mltrack_core.plugin import Tracker

__all__ = ["patch", "unpatch"]

LOG = logging.getLogger("mltrack.spark")

LEAK_ANNOTATION = "spark.leak"
_ANCESTRY_DEPTH = 8

_patches = Patches()


def patch() -> None:
    """Record evaluations of predictions of recorded models from now on (idempotent)."""
    with _patches.lock:
        if _patches.active:
            return
        evaluation = importlib.import_module("pyspark.ml.evaluation")
        original = vars(evaluation.Evaluator)["evaluate"]
        _patches.install(evaluation.Evaluator, "evaluate", _evaluate_wrapper(original))


def unpatch() -> None:
    """Restore ``Evaluator.evaluate``."""
    with _patches.lock:
        _patches.restore()


def _evaluate_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def evaluate(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _patches.active or inside_tracked_call():
            return original(self, *args, **kwargs)
        with tracked_call() as top:
            value = original(self, *args, **kwargs)
            if top:
                try:
                    arguments = signature.bind(self, *args, **kwargs).arguments
                    _record(self, arguments.get("dataset"), arguments.get("params"), value)
                except Exception as exc:  # noqa: BLE001 - the failure policy: warn, never break the user's program
                    warnings.warn(
                        f"mltrack: {type(self).__name__}.evaluate was not recorded: {type(exc).__name__}: {exc}",
                        TrackingWarning,
                        stacklevel=2,
                    )
            return value

    return evaluate


def _record(evaluator: Any, predictions: Any, params: Any, value: Any) -> None:
    link = links.prediction_of(predictions)
    if link is None:
        LOG.debug("%s.evaluate: its DataFrame is not the output of a recorded model's transform: not recorded",
                  type(evaluator).__name__)  # fmt: skip
        return
    tracker = current_tracker()
    if tracker is None:
        return
    if params:
        evaluator = evaluator.copy(params)  # what Spark evaluated with
    score = evaluator_score(evaluator, value)
    label = evaluator.getOrDefault("labelCol") if evaluator.hasParam("labelCol") else None
    tracker.defer(
        f"the {score.metric} of model {link.model.id}",
        lambda: _record_evaluation(tracker, evaluator, score, link, label),
    )


def _record_evaluation(tracker: Tracker, evaluator: Any, score: Score, link: links.PredictionLink, label: Any) -> None:
    """On the tracker's background thread: the dataset evaluated on, then the Evaluation."""
    model = link.model
    if model.id not in tracker.get_many([model.id]):
        LOG.debug("model %s was recorded by another tracker: its %s is not recorded", model.id, score.metric)
        return
    dataset = link.dataset
    if dataset is None:
        if link.data is None:
            LOG.debug("the DataFrame model %s predicted on was freed: its %s is not recorded", model.id, score.metric)
            return
        dataset = links.dataset_for(tracker, link.data, label if isinstance(label, str) else None)
    ancestry = _ancestry(tracker, dataset.id)
    annotations = {}
    leaks = [
        f"{fitted.what} was fitted on dataset {fitted.dataset.id} ({fitted.dataset.name}), which includes the rows "
        f"of test dataset {dataset.id} ({dataset.name})"
        for fitted in link.fitted_elsewhere
        if fitted.dataset.id in ancestry
    ]
    if leaks:
        annotations[LEAK_ANNOTATION] = "; ".join(leaks)
    record_scores(
        tracker,
        evaluator,
        [score],
        computed_by=model,
        on_dataset=dataset,
        procedure=_procedure(tracker, model.trained_on, dataset.id),
        annotations=annotations,
    )


def _ancestry(tracker: Tracker, dataset_id: str) -> set[str]:
    """``dataset_id`` and the datasets it was derived from, transitively (a few levels)."""
    found = {dataset_id}
    frontier = [dataset_id]
    for _ in range(_ANCESTRY_DEPTH):
        entities = tracker.get_many(frontier)
        frontier = [
            parent
            for entity in entities.values()
            if isinstance(entity, Dataset)
            for parent in entity.derived_from
            if parent not in found
        ]
        if not frontier:
            break
        found.update(frontier)
    return found


def _procedure(tracker: Tracker, trained_on: str, evaluated_on: str) -> str:
    """How the score was estimated: on held-out data, or on (data that includes) the model's training data."""
    if evaluated_on == trained_on:
        return "resubstitution (training data)"
    if evaluated_on in _ancestry(tracker, trained_on):
        return "resubstitution (data that includes the training data)"
    return "holdout"
