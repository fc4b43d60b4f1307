"""Scores after training under automatic tracking: metric calls and ``estimator.score`` as Evaluations.

:func:`patch` (called by :func:`mltrack_sklearn.autolog.autolog`) replaces, as
attributes of ``sklearn.metrics`` (so ``from sklearn.metrics import
accuracy_score`` after it gets them), the public functions that compute a
score, an error or a loss from true labels and predictions: those named
``*_score``, ``*_error``, ``*_loss``, ``*_deviance`` and ``matthews_corrcoef``
whose first two parameters are the truth (``y_true``, ``labels_true``) and the
predictions (``y_pred``, ``y_score``, ``y_proba``, ``y_prob``, ``probas_pred``,
``pred_decision``, ``labels_pred``). Curves, confusion matrices, reports,
pairwise distances and ``make_scorer``/``get_scorer`` are left alone; so is a
call whose value is not one number (``average=None``, ``multioutput="raw_values"``).
:func:`unpatch` puts the originals back.

A top-level call (not one inside a cross-validation, a search or ``score``) is
recorded when its predictions argument is linked to a recorded model: the
predictions (or a view of them with the same rows, such as ``proba[:, 1]``) came
out of a top-level ``predict``, ``predict_proba``, ``predict_log_proba`` or
``decision_function`` of an estimator whose fit was recorded (the patched
methods call :func:`predicted`). It becomes ``tracker.track_evaluation({name:
value}, computed_by=<that model>, on_dataset=<the data predicted on, with the
truth as its target>)``:

* the dataset is the one recorded for that very data and truth (the test part
  a ``train_test_split`` made, say), else the data and truth recorded (or found
  by content fingerprint: a part a splitter made, a dataset recorded before);
* the procedure is ``"holdout"``, or ``"resubstitution (training data)"`` when
  the dataset is the model's training dataset, or ``"resubstitution (data that
  includes the training data)"`` when the training dataset was derived from it.

Nothing is recorded, and the reason is logged at DEBUG level on the
``mltrack.sklearn`` logger, when the predictions are not linked to a recorded
model (computed another way, converted into a new array, or a list), when the
data predicted on was freed and no part of a split matches it, or when the data or
the truth cannot be described.

Metric names, one rule: **the name of the scikit-learn scorer the call
matches, else the function's name with the options it was given**.

* A call matches a scorer (``sklearn.metrics.get_scorer_names()``) built on the
  same function with the same options (those differing from the function's
  defaults; ``pos_label`` is ignored when ``average`` is not ``"binary"``, as
  scikit-learn does). Scorers of errors and losses are named ``neg_*`` because
  they return the negated value; a direct call returns the value itself, so the
  name is recorded without ``neg_``: ``accuracy_score`` → ``accuracy``,
  ``r2_score`` → ``r2``, ``f1_score(average="macro")`` → ``f1_macro``,
  ``roc_auc_score`` → ``roc_auc``, ``roc_auc_score(multi_class="ovr")`` →
  ``roc_auc_ovr``, ``mean_absolute_error`` → ``mean_absolute_error``,
  ``log_loss`` → ``log_loss``, ``brier_score_loss`` → ``brier_score``. The
  score's ``greater_is_better`` is the scorer's direction.
* Otherwise the function's name, followed by every option given with a value
  other than its default: ``fbeta_score(beta=2)``, ``f1_score(pos_label='M')``,
  ``accuracy_score(normalize=False)``, ``max_error``.
* ``sample_weight`` does not change the name; a weighted score has the
  annotation ``sklearn.metric.sample_weight: given``. Every evaluation has the
  call in its ``sklearn.metric.call`` annotation.

``estimator.score(X, y)`` (through :func:`scored`) is named by what it computes,
as cross-validation without ``scoring`` names it
(:func:`mltrack_sklearn.tuning.default_metric_name`): ``accuracy`` for
classifiers, ``r2`` for regressors, a search's ``scoring`` (or its ``refit``
metric), otherwise ``<class>.score`` (``KMeans.score``, the opposite of the
inertia). A pipeline is named by its last step.

The value returned to the program is always scikit-learn's own.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xxhash

from mltrack_core.plugin import Dataset, Model, Patches, SchemaError, Score, Tracker, TrackingWarning
from mltrack_sklearn import links
from mltrack_sklearn.autolog import current_tracker, inside_tracked_call, tracked_call
from mltrack_sklearn.data import describe_data
from mltrack_sklearn.extract import record_data
from mltrack_sklearn.tuning import default_metric_name

__all__ = ["patch", "predicted", "scored", "unpatch"]

LOG = logging.getLogger("mltrack.sklearn")

_TRUTHS = ("y_true", "labels_true")
_PREDICTIONS = ("y_pred", "y_score", "y_proba", "y_prob", "probas_pred", "pred_decision", "labels_pred")
_SUFFIXES = ("_score", "_error", "_loss", "_deviance")
_ALSO = frozenset({"matthews_corrcoef"})
_WEIGHTS = "sample_weight"
_ANCESTRY_DEPTH = 4
_SHORT_REPR = 60


@dataclass(frozen=True)
class _Metric:
    """A metric function of ``sklearn.metrics`` and the scorers scikit-learn builds on it."""

    name: str
    original: Callable[..., Any]
    signature: inspect.Signature
    truth: str
    predictions: str
    scorers: tuple[tuple[str, dict[str, Any], int], ...]  # (scorer name, options, sign), shortest name first


_patches = Patches()


def patch() -> None:
    """Record metric calls on predictions of recorded models from now on (idempotent)."""
    with _patches.lock:
        if _patches.active:
            return
        # From autolog's import hook, sklearn.metrics is in sys.modules but not yet an attribute of sklearn.
        module = importlib.import_module("sklearn.metrics")
        scorers = _scorers_by_function()
        for metric in _metric_functions(module, scorers):
            _patches.install(module, metric.name, _metric_wrapper(metric))


def unpatch() -> None:
    """Restore the functions of ``sklearn.metrics``."""
    with _patches.lock:
        _patches.restore()


def _metric_functions(module: Any, scorers: dict[Any, list[tuple[str, dict[str, Any], int]]]) -> list[_Metric]:
    found = []
    for name in getattr(module, "__all__", ()):
        function = vars(module).get(name)
        if not inspect.isfunction(function) or not (name.endswith(_SUFFIXES) or name in _ALSO):
            continue
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            continue
        parameters = list(signature.parameters)
        if len(parameters) < 2 or parameters[0] not in _TRUTHS or parameters[1] not in _PREDICTIONS:
            continue
        named = sorted(scorers.get(function, ()), key=lambda scorer: (len(scorer[0]), scorer[0]))
        found.append(_Metric(name, function, signature, parameters[0], parameters[1], tuple(named)))
    return found


def _scorers_by_function() -> dict[Any, list[tuple[str, dict[str, Any], int]]]:
    """scikit-learn's scorers by the metric function they call: (name, options, sign)."""
    _scorer = importlib.import_module("sklearn.metrics._scorer")
    registry = getattr(_scorer, "_SCORERS", None)
    if not isinstance(registry, dict):
        registry = {name: _scorer.get_scorer(name) for name in _scorer.get_scorer_names()}
    found: dict[Any, list[tuple[str, dict[str, Any], int]]] = {}
    for name, scorer in registry.items():
        function = getattr(scorer, "_score_func", None)
        if function is not None:
            found.setdefault(function, []).append(
                (name, dict(getattr(scorer, "_kwargs", {}) or {}), int(getattr(scorer, "_sign", 1)))
            )
    return found


def _metric_wrapper(metric: _Metric) -> Callable[..., Any]:
    original = metric.original

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        if not _patches.active or inside_tracked_call():
            return original(*args, **kwargs)
        with tracked_call() as top:
            value = original(*args, **kwargs)
            if top:
                try:
                    _record_metric(metric, args, kwargs, value)
                except Exception as exc:  # noqa: BLE001 - the failure policy: warn, never break the user's program
                    warnings.warn(f"mltrack: a {metric.name} call was not recorded: {type(exc).__name__}: {exc}",
                                  TrackingWarning, stacklevel=2)  # fmt: skip
            return value

    # Pickled by reference as sklearn.metrics.<name> (scorers sent to joblib workers): the name it is found under.
    patched.__module__ = "sklearn.metrics"
    return patched


# ---------------------------------------------------------------- what the patched estimator methods call


def predicted(estimator: Any, X: Any, output: Any) -> None:
    """``output`` was just predicted by ``estimator`` on ``X`` (a top-level call): link it, without copying."""
    model = _model_of(estimator)
    if model is None:
        LOG.debug("%s predicted, but no recorded fit of it is known: its predictions are not linked",
                  type(estimator).__name__)  # fmt: skip
        return
    links.remember_prediction(output, model, X, _split_parts_of(X))


def scored(estimator: Any, X: Any, y: Any, value: Any, sample_weight: Any = None) -> None:
    """``estimator.score(X, y)`` returned ``value`` (a top-level call): record it as an Evaluation."""
    model = _model_of(estimator)
    if model is None:
        LOG.debug("%s.score was called, but no recorded fit of it is known: not recorded", type(estimator).__name__)
        return
    number = _number(value)
    if number is None:
        LOG.debug("%s.score returned %r, not a number: not recorded", type(estimator).__name__, type(value))
        return
    name = default_metric_name(estimator)
    greater_is_better = True if name in ("accuracy", "r2") else None
    annotations = {"sklearn.metric.call": f"{type(estimator).__name__}.score"}
    if sample_weight is not None:
        annotations["sklearn.metric.sample_weight"] = "given"
    score = Score(metric=name, value=number, greater_is_better=greater_is_better)
    _record(model, X, y, score, annotations, ())


def _model_of(estimator: Any) -> Model | None:
    model = links.model_of(estimator)
    if model is None:
        recorded = getattr(estimator, "tracked_model_", None)  # a TrackedPipeline fitted without autolog
        model = recorded if isinstance(recorded, Model) else None
    return model


def _split_parts_of(X: Any) -> tuple[links.SplitPart, ...]:
    """Parts of splits with the content of ``X``, when ``X`` is a copy of one (``X[test]`` in a loop over splits).

    Fingerprints ``X`` only when it has the shape of a part a split made and is
    not linked by identity already: the check is O(1) for every other call.
    """
    if not links.has_split_parts_shaped(links.shape_of(X)) or links.datasets_of(X):
        return ()
    try:
        fingerprint = describe_data(X).fingerprint
    except SchemaError:
        return ()
    return links.split_parts_with_features(fingerprint)


# ---------------------------------------------------------------- metric calls


def _record_metric(metric: _Metric, args: tuple, kwargs: dict[str, Any], value: Any) -> None:
    try:
        arguments = metric.signature.bind(*args, **kwargs).arguments
    except TypeError:
        return
    link = links.prediction_of(arguments.get(metric.predictions))
    if link is None:
        LOG.debug("%s: its %s argument is not a prediction of a recorded model (or a view of one): not recorded",
                  metric.name, metric.predictions)  # fmt: skip
        return
    number = _number(value)
    if number is None:
        LOG.debug("%s returned a %s, not one number: not recorded", metric.name, type(value).__name__)
        return
    name, greater_is_better, call = _metric_name(metric, arguments)
    annotations = {"sklearn.metric.call": call}
    if arguments.get(_WEIGHTS) is not None:
        annotations["sklearn.metric.sample_weight"] = "given"
    score = Score(metric=name, value=number, greater_is_better=greater_is_better)
    _record(link.model, link.data, arguments.get(metric.truth), score, annotations, link.split_parts)


def _metric_name(metric: _Metric, arguments: dict[str, Any]) -> tuple[str, bool | None, str]:
    """The name a call of ``metric`` with ``arguments`` is recorded under (see the module documentation).

    Returns:
        the name, whether greater is better (None: judged by the name), and the call with its options.
    """
    parameters = metric.signature.parameters
    skipped = {metric.truth, metric.predictions, _WEIGHTS}
    given = {
        name: value
        for name, value in arguments.items()
        if name not in skipped
        and parameters[name].kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and not _same(value, parameters[name].default)
    }
    options = ", ".join(f"{name}={_short_repr(value)}" for name, value in given.items())
    call = f"{metric.name}({options})" if options else metric.name
    for scorer_name, scorer_options, sign in metric.scorers:
        expected = {
            name: value for name, value in scorer_options.items() if not _same(value, _default(parameters, name))
        }
        if _equivalent(given, expected, parameters):
            return scorer_name.removeprefix("neg_"), sign > 0, call
    return call, None, call


def _equivalent(given: dict[str, Any], expected: dict[str, Any], parameters: Any) -> bool:
    """Same options, ignoring ``pos_label`` when ``average`` (whose default is ``"binary"``) is not ``"binary"``."""
    average = parameters.get("average")
    if average is not None and average.default == "binary":
        given, expected = _without_ignored(given), _without_ignored(expected)
    return given.keys() == expected.keys() and all(_same(given[name], expected[name]) for name in given)


def _without_ignored(options: dict[str, Any]) -> dict[str, Any]:
    if options.get("average", "binary") == "binary":
        return options
    return {name: value for name, value in options.items() if name != "pos_label"}


def _default(parameters: Any, name: str) -> Any:
    parameter = parameters.get(name)
    return parameter.default if parameter is not None else inspect.Parameter.empty


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return False
    if isinstance(value, bool) != isinstance(default, bool):
        return False  # True == 1, but normalize=True is not k=1
    try:
        return bool(value == default)
    except Exception:  # noqa: BLE001 (values that cannot be compared are different)
        return False


def _short_repr(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.size <= 20 else value
    text = repr(value)
    if len(text) <= _SHORT_REPR and not isinstance(value, np.ndarray):
        return text
    content = value.tobytes() if isinstance(value, np.ndarray) else text.encode()
    return f"<{type(value).__name__} {xxhash.xxh3_64_hexdigest(content)[:12]}>"


def _number(value: Any) -> float | None:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


# ---------------------------------------------------------------- recording


def _record(
    model: Model,
    data: Any,
    truth: Any,
    score: Score,
    annotations: dict[str, str],
    split_parts: tuple[links.SplitPart, ...],
) -> None:
    tracker = current_tracker()
    if tracker is None:
        return
    with tracker.implicit(f"the {score.metric} of model {model.id}"):
        if model.id not in tracker.get_many([model.id]):
            LOG.debug("model %s was recorded by another tracker: its %s is not recorded", model.id, score.metric)
            return
        dataset = _evaluated_dataset(tracker, data, truth, split_parts)
        if dataset is None:
            return
        tracker.track_evaluation(
            [score],
            computed_by=model,
            on_dataset=dataset,
            procedure=_procedure(tracker, model, dataset, data),
            annotations=annotations,
        )


def _evaluated_dataset(
    tracker: Tracker, data: Any, truth: Any, split_parts: tuple[links.SplitPart, ...]
) -> Dataset | None:
    """The dataset of ``data`` with ``truth`` as its target: linked, a part of a split, or recorded now."""
    if data is not None:
        linked = links.dataset_of(data, truth, tracker)
        if linked is not None:
            return linked
    if split_parts and truth is not None:
        part = _split_part_with_target(tracker, truth, split_parts)
        if part is not None:
            return part
    if data is None:
        LOG.debug("the data the predictions were made on was freed since: the score is not recorded")
        return None
    try:
        return record_data(tracker, data, truth)
    except SchemaError as exc:
        LOG.debug("the data predicted on and its truth cannot be described (%s): the score is not recorded", exc)
        return None


def _split_part_with_target(tracker: Tracker, truth: Any, parts: tuple[links.SplitPart, ...]) -> Dataset | None:
    try:
        fingerprint = describe_data(truth).fingerprint
    except SchemaError:
        return None
    for part in parts:
        if part.target == fingerprint and part.dataset.id in tracker.get_many([part.dataset.id]):
            return part.dataset
    return None


def _procedure(tracker: Tracker, model: Model, dataset: Dataset, data: Any) -> str:
    """How the score was estimated: on held-out data, or on (data that includes) the model's training data."""
    if dataset.id == model.trained_on or (data is not None and model.trained_on in _recorded_as(data)):
        # the second: labels of a clustering's fit_predict scored against classes the fit never saw
        return "resubstitution (training data)"
    frontier = [model.trained_on]
    for _ in range(_ANCESTRY_DEPTH):
        found = tracker.get_many(frontier)
        frontier = [parent for entity in found.values() for parent in getattr(entity, "derived_from", ())]
        if dataset.id in frontier:
            return "resubstitution (data that includes the training data)"
        if not frontier:
            break
    return "holdout"


def _recorded_as(data: Any) -> set[str]:
    return {dataset.id for dataset in links.datasets_of(data)}
