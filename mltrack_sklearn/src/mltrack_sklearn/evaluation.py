"""Evaluations of fitted estimators: scikit-learn scorer names or metric functions, confusion matrices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sklearn.base import is_classifier, is_regressor
from sklearn.metrics import confusion_matrix, get_scorer, get_scorer_names

from mltrack_core.plugin import (
    ConfusionMatrix,
    Dataset,
    Evaluation,
    Model,
    Prediction,
    SchemaError,
    Tracker,
    get_tracker,
)
from mltrack_sklearn.autolog import tracked_call
from mltrack_sklearn.extract import record_data

__all__ = ["CLASSIFIER_METRICS", "REGRESSOR_METRICS", "track_evaluation"]

CLASSIFIER_METRICS = ("accuracy", "balanced_accuracy", "f1_macro")
REGRESSOR_METRICS = ("r2", "neg_mean_absolute_error", "neg_root_mean_squared_error")

Metric = str | Callable[[Any, Any], float]


def track_evaluation(
    estimator: Any,
    X: Any,
    y: Any,
    metrics: Sequence[Metric] | None = None,
    *,
    model: Model | str | None = None,
    on_dataset: Dataset | str | None = None,
    prediction: Prediction | None = None,
    tracker: Tracker | None = None,
    procedure: str = "holdout",
    name: str | None = None,
) -> Evaluation:
    """Score a fitted estimator on ``X``, ``y`` and record the scores as an Evaluation.

    The estimator predicts once: scores of scorers that need only ``predict``
    and of metric functions ``metric(y_true, y_pred)`` are computed from those
    predictions; other scorers (``roc_auc``, ``neg_log_loss``) ask the estimator
    for probabilities or decision values. Classifiers also get their confusion
    matrix (rows: true class, columns: predicted class, in ``classes_`` order).

    Args:
        estimator: the fitted estimator.
        X: the test data.
        y: its true target.
        metrics: scorer names (``sklearn.metrics.get_scorer_names()``) or metric
            functions; default accuracy, balanced accuracy and macro F1 for
            classifiers, R², MAE and RMSE (negated, as scorers are) for regressors.
        model: the tracked model of ``estimator``; default the model recorded
            when it was fitted (a :class:`~mltrack_sklearn.TrackedPipeline`'s
            ``tracked_model_``); for a fitted search, its own or, as it predicts
            with ``best_estimator_``, the one its refit recorded.
        on_dataset: the tracked test dataset (or its id); default ``X`` and ``y``
            tracked (a stored dataset with the same content is reused).
        prediction: a tracked Prediction of this model on this data to link.
        tracker: where to record; default :func:`mltrack_core.get_tracker`.
        procedure: how the scores were estimated; evaluations are comparable only
            with the same procedure.
        name: the evaluation's name.

    Raises:
        SchemaError: no model is known for ``estimator``, a metric name is not a
            scikit-learn scorer, or ``prediction`` belongs to another model.
    """
    tracker = tracker or get_tracker()
    model_id = _model_id(estimator, model)
    if prediction is not None and prediction.computed_by != model_id:
        raise SchemaError(
            f"prediction {prediction.id!r} was computed by model {prediction.computed_by!r}, not {model_id!r}"
        )
    scorers = [_scorer(metric) for metric in (metrics or _default_metrics(estimator))]
    if on_dataset is None:
        on_dataset = prediction.on_dataset if prediction is not None else record_data(tracker, X, y)
    with tracked_call():  # under autolog, these predictions and scores are this evaluation's, not recorded again
        predicted = estimator.predict(X)
        scores = {label: score(estimator, X, y, predicted) for label, score in scorers}
    matrix = None
    if is_classifier(estimator) and hasattr(estimator, "classes_"):
        counts = confusion_matrix(y, predicted, labels=estimator.classes_)
        matrix = ConfusionMatrix(labels=[str(label) for label in estimator.classes_], matrix=counts.tolist())
    return tracker.track_evaluation(
        scores,
        computed_by=model_id,
        on_dataset=on_dataset,
        for_prediction=prediction,
        confusion_matrix=matrix,
        procedure=procedure,
        name=name,
    )


def _model_id(estimator: Any, model: Model | str | None) -> str:
    if isinstance(model, Model):
        return model.id
    if isinstance(model, str) and model:
        return model
    if model is not None:
        raise SchemaError(f"model= must be a tracked Model or its id, got {type(model).__name__}")
    recorded = _recorded_model(estimator)
    if recorded is not None:
        return recorded.id
    if _is_fitted_search(estimator):
        raise SchemaError(
            f"no tracked model is known for this {type(estimator).__name__} or its best_estimator_: pass model= "
            "(track_search(search, X, y).model, or what tracker.track_model(search, trained_on=...) returned), "
            "or search over a TrackedPipeline, whose refit records the model"
        )
    raise SchemaError(
        f"no tracked model is known for this {type(estimator).__name__}: pass model= "
        "(what tracker.track_model(estimator, trained_on=...) returned) or fit a TrackedPipeline"
    )


def _recorded_model(estimator: Any) -> Model | None:
    """The model recorded when ``estimator`` was fitted; for a fitted search, else its ``best_estimator_``'s.

    A fitted search predicts with its ``best_estimator_``, so the refit model is the one evaluated.
    """
    recorded = getattr(estimator, "tracked_model_", None)
    if isinstance(recorded, Model):
        return recorded
    if _is_fitted_search(estimator):
        recorded = getattr(estimator.best_estimator_, "tracked_model_", None)
        if isinstance(recorded, Model):
            return recorded
    return None


def _is_fitted_search(estimator: Any) -> bool:
    return hasattr(estimator, "cv_results_") and getattr(estimator, "best_estimator_", None) is not None


def _default_metrics(estimator: Any) -> tuple[str, ...]:
    if is_classifier(estimator):
        return CLASSIFIER_METRICS
    if is_regressor(estimator):
        return REGRESSOR_METRICS
    raise SchemaError(
        f"{type(estimator).__name__} is neither a classifier nor a regressor: name the metrics to compute"
    )


Score = Callable[[Any, Any, Any, Any], float]


def _scorer(metric: Metric) -> tuple[str, Score]:
    """The label and a function (estimator, X, y, predictions) -> score of one metric."""
    if callable(metric) and not isinstance(metric, str):
        label = getattr(metric, "__name__", None) or type(metric).__name__
        return label, lambda estimator, X, y, predicted: float(metric(y, predicted))
    if not isinstance(metric, str) or metric not in get_scorer_names():
        raise SchemaError(
            f"unknown metric {metric!r}: give a scikit-learn scorer name (see sklearn.metrics.get_scorer_names()) "
            "or a function metric(y_true, y_pred)"
        )
    scorer = get_scorer(metric)
    # A scorer of predictions reuses the ones already made rather than predicting again.
    if getattr(scorer, "_response_method", None) == "predict" and hasattr(scorer, "_score_func"):
        sign, function, options = scorer._sign, scorer._score_func, scorer._kwargs
        return metric, lambda estimator, X, y, predicted: float(sign * function(y, predicted, **options))
    return metric, lambda estimator, X, y, predicted: float(scorer(estimator, X, y))
