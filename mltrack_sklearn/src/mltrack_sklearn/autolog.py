"""Automatic tracking of scikit-learn: every top-level fit, search, cross-validation and prediction.

:func:`autolog` patches, once scikit-learn is imported (at once if it is already):

* on every estimator class (every subclass of ``BaseEstimator``, and the
  scikit-learn mixins they inherit from), ``fit``, ``fit_transform`` and
  ``fit_predict``, which record a fit; ``predict``, ``predict_proba``,
  ``predict_log_proba``, ``decision_function`` and ``score``, which hand their
  results to :mod:`mltrack_sklearn.scores` so that later metric calls know
  which model predicted what. Classes defined later (a scikit-learn module
  imported afterwards, the user's own estimators) are patched when they are
  defined, through ``BaseEstimator.__init_subclass__``;
* ``cross_validate``, ``cross_val_score`` and ``cross_val_predict`` in
  ``sklearn.model_selection`` (and ``sklearn.model_selection._validation``, where
  scikit-learn's own functions look them up).

Patched methods keep their signature, docstring and descriptors
(``available_if``: ``hasattr`` answers as before).

Only top-level calls are recorded: while one runs (in any thread: joblib's
threading backend fits trees and folds in other threads), every patched call
goes straight to scikit-learn's own code, so fits nested in a pipeline, a
search or a meta-estimator, ``fit_transform`` calling ``fit`` and ``super().fit``
are not recorded again. Fits in joblib's worker processes and fits of one fold
of model selection are never top-level. The check costs well under a
microsecond per nested call. A consequence: two fits running at the same time
in two threads of the user's program record the first one only.

Recording never changes what scikit-learn computes (the patched code calls the
original with the same arguments, draws nothing from the global random state
and copies no data) and never breaks the program: a failure to record is one
:class:`~mltrack_core.TrackingWarning`, and an exception of the fit itself marks
the run FAILED and reaches the caller unchanged.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import logging
import sys
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

from mltrack_core.plugin import (
    AutologSettings,
    Dataset,
    LiveRun,
    Model,
    Patches,
    SchemaError,
    TopLevelCalls,
    Tracker,
    TrackingWarning,
    never_raising,
    when_imported,
)
from mltrack_sklearn.framework import require_sklearn

__all__ = [
    "FitRecorder",
    "autolog",
    "current_tracker",
    "fitting_a_fold",
    "inside_tracked_call",
    "tell_links",
    "tracked_call",
]

_log = logging.getLogger("mltrack.sklearn")

FIT_METHODS = ("fit", "fit_transform", "fit_predict")
PREDICTION_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
SCORE_METHOD = "score"
_PATCHED_METHODS = (*FIT_METHODS, *PREDICTION_METHODS, SCORE_METHOD)
CROSS_VALIDATION_FUNCTIONS = ("cross_validate", "cross_val_score", "cross_val_predict")

# ---------------------------------------------------------------- the guard

_enabled = False  # the patches are on
_skip = True  # not _enabled or a recorded call running: what every patched call reads first (one global lookup)


def _refresh_skip() -> None:
    global _skip
    _skip = _calls.running or not _enabled


_calls = TopLevelCalls(on_change=_refresh_skip)
tracked_call = _calls.enter
"""Enter a recorded call; yields True when it is top-level (the caller records), False when nested."""


def inside_tracked_call() -> bool:
    """True while a fit, search, cross-validation, split or score that mltrack records is running.

    In this thread or in any other: joblib's threading backend fits trees and
    folds in other threads, and those are nested in the call that started them.
    """
    return _calls.running


_MODEL_SELECTION = "sklearn.model_selection._validation"
_FOLD_FITS = frozenset({"_fit_and_score", "_fit_and_predict"})
_FRAMES_TO_LOOK_AT = 40


def fitting_a_fold() -> bool:
    """Whether scikit-learn's model selection is fitting an estimator on one fold, here or in a worker.

    Searches and ``cross_validate`` fit clones on each fold inside
    ``_fit_and_score`` (``cross_val_predict`` inside ``_fit_and_predict``); in a
    joblib worker process nothing marks the call as nested but these frames.
    Those fits are recorded from the search's or cross-validation's results.
    """
    frame = sys._getframe(1)
    for _ in range(_FRAMES_TO_LOOK_AT):
        if frame is None:
            return False
        if frame.f_code.co_name in _FOLD_FITS and frame.f_globals.get("__name__") == _MODEL_SELECTION:
            return True
        frame = frame.f_back
    return False


def _in_worker_process() -> bool:
    """A joblib (loky) worker process: everything it runs was sent by a call in the parent process."""
    executor = sys.modules.get("joblib.externals.loky.process_executor")
    return executor is not None and getattr(executor, "_CURRENT_DEPTH", 0) > 0


_PASS_THROUGH_MODULES = frozenset({"sklearn.utils._available_if", "sklearn.utils._set_output"})
"""scikit-learn modules whose wrappers only forward a user's call to a method (descriptors, ``set_output``)."""


def _called_by_sklearn(frame: Any) -> bool:
    """Whether the frame that called a patched method is scikit-learn's own code.

    scikit-learn fits and predicts internally outside any recorded call too, e.g.
    a ``LabelBinarizer`` inside a metric imported before :func:`autolog` was turned
    on, or ``compute_class_weight``: those are not the program's fits.
    """
    while frame is not None and frame.f_globals.get("__name__") in _PASS_THROUGH_MODULES:
        frame = frame.f_back
    return frame is not None and frame.f_globals.get("__name__", "").startswith("sklearn.")


def _dispatched_from_elsewhere() -> bool:
    return _in_worker_process() or fitting_a_fold()


# ---------------------------------------------------------------- patches


# ---------------------------------------------------------------- turning on and off

_settings = AutologSettings("scikit-learn")
_patched_methods: set[tuple[type, str]] = set()  # (owner, method name) already patched
_function_replacements: dict[Any, Any] = {}  # a model selection function -> its replacement, in every module
_patches = Patches()  # estimator methods, __init_subclass__ and the cross-validation functions
_base_estimator: type | None = None


def autolog(*, tracker: Tracker | None = None, disable: bool = False) -> None:
    """Record every top-level scikit-learn fit, search, cross-validation and score, with no other line.

    Patches scikit-learn once it is imported (at once when it is already), see
    the module documentation. Calling it again while on only changes the
    tracker; ``autolog(disable=True)`` restores every patched attribute.

    Args:
        tracker: where to record; default :func:`mltrack_core.get_tracker` at the time of each record.
        disable: turn automatic tracking off, restoring scikit-learn as it was.

    Raises:
        MissingDependencyError: scikit-learn is missing or older than :func:`mltrack_sklearn.supported_versions`.
        SchemaError: ``tracker`` is not a :class:`mltrack_core.Tracker`.
    """
    if disable:
        with _settings.lock:
            _remove_patches()
            _settings.turn_off()
        return
    require_sklearn()
    _settings.turn_on(tracker)
    when_imported("sklearn", _patch_sklearn)


current_tracker = _settings.current_tracker


def _patch_sklearn(module: ModuleType) -> None:
    """Patch every estimator class defined so far and those defined later (called once sklearn is imported)."""
    global _enabled, _base_estimator
    del module
    from sklearn.base import BaseEstimator  # before taking the lock: an import may define classes (and call the hook)

    with _settings.lock:
        if not _settings.wanted or _enabled:
            return
        _base_estimator = BaseEstimator
        for cls in _subclasses(BaseEstimator):
            _patch_class(cls)
        _hook_subclass_creation(BaseEstimator)
        with _calls.lock:
            _enabled = True
            _refresh_skip()
    # The model selection functions are patched in the module that defines them (where scikit-learn's
    # own code looks them up) and in the package that re-exports them.
    when_imported(_MODEL_SELECTION, _patch_model_selection)
    when_imported("sklearn.model_selection", _patch_model_selection)
    when_imported("sklearn.model_selection._split", _patch_splits)
    when_imported("sklearn.metrics", _patch_metrics)


def _patch_splits(module: ModuleType) -> None:
    """``train_test_split`` and the splitters' ``split``: :mod:`mltrack_sklearn.splits`."""
    _patch_companion("mltrack_sklearn.splits", "data splits")


def _patch_metrics(module: ModuleType) -> None:
    """The metric functions of ``sklearn.metrics``: :mod:`mltrack_sklearn.scores`."""
    _patch_companion("mltrack_sklearn.scores", "metric calls")


def _patch_companion(name: str, what: str) -> None:
    with _settings.lock:
        if not _enabled:
            return
        try:
            importlib.import_module(name).patch()
        except Exception as exc:  # noqa: BLE001 - the rest of automatic tracking goes on
            warnings.warn(
                f"mltrack: {what} are not tracked automatically: {type(exc).__name__}: {exc}",
                TrackingWarning,
                stacklevel=2,
            )


def _remove_patches() -> None:
    global _enabled, _base_estimator
    with _calls.lock:
        _enabled = False
        _refresh_skip()
    for name in ("mltrack_sklearn.splits", "mltrack_sklearn.scores"):
        companion = sys.modules.get(name)
        if companion is not None:
            companion.unpatch()
    _patches.restore()
    _patched_methods.clear()
    _function_replacements.clear()
    _base_estimator = None


def _subclasses(root: type) -> list[type]:
    found, stack, seen = [root], [root], {root}
    while stack:
        for child in type.__subclasses__(stack.pop()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                stack.append(child)
    return found


def _hook_subclass_creation(base: type) -> None:
    """Make ``base.__init_subclass__`` patch each estimator class defined from now on."""
    own = base.__dict__.get("__init_subclass__")

    def __init_subclass__(cls: type, **kwargs: Any) -> None:
        if own is not None:
            own.__get__(None, cls)(**kwargs)
        else:
            super(base, cls).__init_subclass__(**kwargs)
        if _enabled:
            try:
                with _settings.lock:
                    _patch_class(cls)
            except Exception as exc:  # noqa: BLE001 - defining a class must never fail because of mltrack
                warnings.warn(
                    f"mltrack: {cls.__qualname__} is not tracked automatically: {type(exc).__name__}: {exc}",
                    TrackingWarning,
                    stacklevel=2,
                )

    _patches.install(base, "__init_subclass__", classmethod(__init_subclass__))


def _patch_class(cls: type) -> None:
    """Patch the recorded methods of ``cls`` where they are defined (``cls`` itself, a base or a mixin)."""
    for name in _PATCHED_METHODS:
        owner = next((klass for klass in cls.__mro__ if name in klass.__dict__), None)
        if owner is None or owner is object:
            continue
        if name in FIT_METHODS and owner.__dict__.get("_mltrack_records_fits", False):
            continue  # TrackedPipeline records its own fits
        if not _patchable_owner(owner):
            owner = cls  # a method of a foreign base class: patched on the estimator class only
        if (owner, name) in _patched_methods:
            continue
        _patched_methods.add((owner, name))
        replacement = _replacement(inspect.getattr_static(owner, name), name)
        if replacement is not None:
            _patches.install(owner, name, replacement)


def _patchable_owner(owner: type) -> bool:
    return (_base_estimator is not None and issubclass(owner, _base_estimator)) or owner.__module__.startswith(
        "sklearn."
    )


def _replacement(attribute: Any, name: str) -> Any:
    """A patched version of a method, or of an ``available_if`` descriptor around one; None for anything else."""
    if inspect.isfunction(attribute):
        return _wrap(attribute, name)
    function = getattr(attribute, "fn", None)
    if inspect.isfunction(function) and callable(getattr(attribute, "check", None)):
        patched = copy.copy(attribute)  # same check: hasattr and AttributeError as before
        patched.fn = _wrap(function, name)
        return patched
    return None  # properties, class methods, ...: not a method scikit-learn calls on an estimator


def _wrap(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    if name in FIT_METHODS:
        return _fit_wrapper(function, name)
    if name == SCORE_METHOD:
        return _score_wrapper(function)
    return _prediction_wrapper(function)


# ---------------------------------------------------------------- patched methods


def _fit_wrapper(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _skip or _called_by_sklearn(sys._getframe(1)):
            return original(self, *args, **kwargs)
        return _recorded_fit(original, method, self, args, kwargs)

    return patched


def _prediction_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _skip or _called_by_sklearn(sys._getframe(1)):
            return original(self, *args, **kwargs)
        with tracked_call() as top:
            output = original(self, *args, **kwargs)
            if top and not _dispatched_from_elsewhere():
                arguments = _data_arguments(original, args, kwargs)
                if arguments is not None:
                    _tell_scores("predicted", self, arguments[0], output)
            return output

    return patched


def _score_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _skip or _called_by_sklearn(sys._getframe(1)):
            return original(self, *args, **kwargs)
        with tracked_call() as top:
            value = original(self, *args, **kwargs)
            if top and not _dispatched_from_elsewhere():
                arguments = _data_arguments(original, args, kwargs, extra="sample_weight")
                if arguments is not None:
                    X, y, sample_weight = arguments
                    _tell_scores("scored", self, X, y, value, sample_weight)
            return value

    return patched


def _recorded_fit(original: Callable[..., Any], method: str, estimator: Any, args: tuple, kwargs: dict) -> Any:
    with tracked_call() as top:
        if not top or _dispatched_from_elsewhere():
            return original(estimator, *args, **kwargs)
        arguments = _data_arguments(original, args, kwargs)
        recorder = None
        if arguments is not None:
            with never_raising(f"the {method} of a {type(estimator).__name__}"):
                recorder = _begin_fit(method, estimator, arguments, kwargs)
        try:
            result = original(estimator, *args, **kwargs)
        except BaseException as exc:
            if recorder is not None:
                with never_raising(f"the failure of a {type(estimator).__name__}.{method} call"):
                    recorder.failed(exc)
            raise
        if recorder is not None:
            with never_raising(f"the {method} of a {type(estimator).__name__}"):
                recorder.finished(estimator)
            if method == "fit_predict":
                _tell_scores("predicted", estimator, arguments[0], result)
        return result


def _begin_fit(method: str, estimator: Any, arguments: tuple[Any, ...], kwargs: dict) -> FitRecorder | None:
    tracker = current_tracker()
    if tracker is None:
        return None
    X, y = arguments
    params = kwargs.get("params")
    groups = kwargs.get("groups", params.get("groups") if isinstance(params, dict) else None)
    return FitRecorder.begin(
        tracker, estimator, X, y, groups=groups, what=f"a {type(estimator).__name__}.{method} call"
    )


@functools.lru_cache(maxsize=4096)
def _data_parameters(function: Callable[..., Any]) -> tuple[str, ...]:
    """The names of a method's parameters after ``self`` that can be given by position."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = list(inspect.signature(function).parameters.values())[1:]
    return tuple(parameter.name for parameter in parameters if parameter.kind in kinds)


def _data_arguments(
    function: Callable[..., Any], args: tuple, kwargs: dict, extra: str | None = None
) -> tuple[Any, ...] | None:
    """``(X, y)`` (and ``extra``) of a call: the first two parameters, given by position or by name."""
    try:
        names = _data_parameters(function)
    except (TypeError, ValueError):  # no signature: nothing to record
        _log.debug("no signature for %r: the call is not recorded", function)
        return None
    found = []
    for position, name in enumerate(names[:2]):
        found.append(args[position] if position < len(args) else kwargs.get(name))
    found += [None] * (2 - len(found))
    if not names or found[0] is None:
        _log.debug("%s was called without data: not recorded", getattr(function, "__qualname__", function))
        return None
    if extra is not None:
        position = names.index(extra) if extra in names else None
        found.append(args[position] if position is not None and position < len(args) else kwargs.get(extra))
    return tuple(found)


def _tell_scores(hook: str, *arguments: Any) -> None:
    """Hand a prediction or a score to :mod:`mltrack_sklearn.scores`; a failure is one TrackingWarning."""
    try:
        scores = importlib.import_module("mltrack_sklearn.scores")
        function = getattr(scores, hook, None)
        if function is not None:
            function(*arguments)
    except Exception as exc:  # noqa: BLE001 - the failure policy: warn, never break the user's program
        what = "a prediction" if hook == "predicted" else "a score"
        warnings.warn(f"mltrack: {what} was not recorded: {type(exc).__name__}: {exc}", TrackingWarning, stacklevel=4)


def tell_links(function_name: str, *arguments: Any) -> None:
    """Call ``function_name`` of :mod:`mltrack_sklearn.links`, if it exists; use inside ``tracker.implicit``."""
    try:
        links = importlib.import_module("mltrack_sklearn.links")
    except ImportError:
        return
    function = getattr(links, function_name, None)
    if function is not None:
        function(*arguments)


# ---------------------------------------------------------------- the fit recorder


class FitRecorder:
    """Records one fit: the dataset and the run before it, the model (and a search's folds) after. Never raises.

    Shared by :func:`autolog` and :class:`~mltrack_sklearn.TrackedPipeline`.
    """

    def __init__(
        self,
        tracker: Tracker,
        what: str,
        X: Any,
        y: Any,
        groups: Any,
        dataset: Dataset | None,
        run: LiveRun | None,
        environment: dict[str, str],
    ) -> None:
        self.tracker = tracker
        self.what = what
        self.X, self.y, self.groups = X, y, groups
        self.dataset = dataset
        self.run = run
        self.environment = environment  # read once for the run and the model (it costs milliseconds)

    @classmethod
    def begin(
        cls, tracker: Tracker, estimator: Any, X: Any, y: Any, *, groups: Any = None, what: str = "a fit"
    ) -> FitRecorder:
        """Record the training data and start the training run of ``estimator``, about to be fitted."""
        from mltrack_sklearn.extract import record_data

        dataset = run = None
        environment: dict[str, str] = {}
        with tracker.defer_writes():  # read what may change now; store it off the fit's path
            with tracker.implicit(f"the training data of {what}"):
                # predictions made after a failed refit must not be taken for the old model's
                tell_links("remember_model", estimator, None)
                try:
                    dataset = record_data(tracker, X, y)
                except SchemaError as exc:
                    if y is None:
                        raise
                    # A target that is not one column (multi-output): the data is recorded without it.
                    _log.debug("the target of %s is not recorded: %s", what, exc)
                    dataset = record_data(tracker, X)
            with tracker.implicit(f"the training run of {what}"):
                environment = tracker.environment()
                run = tracker.track_training(estimator, trained_on=dataset, environment=environment)
        return cls(tracker, what, X, y, groups, dataset, run, environment)

    def failed(self, exc: BaseException) -> None:
        """The fit raised ``exc``: the run is FAILED."""
        if self.run is not None:
            with self.tracker.defer_writes(), self.tracker.implicit(f"the failure of training run {self.run.id}"):
                self.run.fail(exc)
        self._forget_data()

    def finished(self, estimator: Any) -> Model | None:
        """The fit succeeded: record the fitted model (and what a search ran), end the run."""
        tracker = self.tracker
        with tracker.defer_writes():  # the fitted state is read now, stored off the fit's path
            model = None
            search = _is_fitted_search(estimator)
            best = getattr(estimator, "best_estimator_", None) if search else None
            # A search with refit=False fitted no model: only its folds and candidates are recorded.
            if self.dataset is not None and (best is not None or not search):
                with tracker.implicit(f"the fitted model of {self.what}"):
                    extra = {"environment": self.environment} if self.environment else {}
                    model = tracker.track_model(estimator, trained_on=self.dataset, **extra)  # also finishes the run
                    tell_links("remember_model", estimator, model)
                    if best is not None:  # the search's model is the record of its refit best estimator
                        tell_links("remember_model", best, model)
            if self.dataset is not None and search:
                with tracker.implicit(f"the folds and candidates of {self.what}"):
                    from mltrack_sklearn.tuning import record_search

                    record_search(
                        tracker, estimator, self.X, self.y, groups=self.groups, dataset=self.dataset, model=model
                    )
            if self.run is not None and not self.run.ended:
                with tracker.implicit(f"the end of training run {self.run.id}"):
                    self.run.finish(model)
        self._forget_data()
        return model

    def _forget_data(self) -> None:
        self.X = self.y = self.groups = None  # never keep the user's data alive


def _is_fitted_search(estimator: Any) -> bool:
    return hasattr(estimator, "cv_results_") and hasattr(estimator, "n_splits_") and hasattr(estimator, "cv")


# ---------------------------------------------------------------- cross-validation functions


class _Capture(threading.local):
    """The cross-validation a top-level ``cross_val_score`` asked ``cross_validate`` to keep, in this thread."""

    request: _CrossValidationCall | None = None


_capture = _Capture()


class _CrossValidationCall:
    """Runs scikit-learn's ``cross_validate`` keeping each split's rows and fitted estimator.

    The caller gets the results without them unless it asked for them.
    """

    def __init__(self) -> None:
        self.results: dict[str, Any] | None = None

    def call(self, original: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        wanted = {"estimator": kwargs.get("return_estimator", False), "indices": kwargs.get("return_indices", False)}
        results = original(*args, **{**kwargs, "return_estimator": True, "return_indices": True})
        self.results = dict(results)
        for key, asked in wanted.items():
            if not asked:
                results.pop(key, None)
        return results


def _patch_model_selection(module: ModuleType) -> None:
    """Patch the cross-validation functions of ``module`` (``_validation`` or the ``model_selection`` package)."""
    with _settings.lock:
        if not _enabled:
            return
        for name in CROSS_VALIDATION_FUNCTIONS:
            current = module.__dict__.get(name)
            if current is None or any(current is done for done in _function_replacements.values()):
                continue
            replacement = _function_replacements.get(current)
            if replacement is None:  # the package re-exports _validation's functions: one replacement for both
                replacement = _function_replacements[current] = _CROSS_VALIDATION_WRAPPERS[name](current)
            _patches.install(module, name, replacement)


def _bound_arguments(original: Callable[..., Any], args: tuple, kwargs: dict) -> dict[str, Any]:
    bound = inspect.signature(original).bind(*args, **kwargs)
    return dict(bound.arguments)


def _cross_validate_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def cross_validate(*args: Any, **kwargs: Any) -> Any:
        if _skip:
            request = _capture.request
            if request is None:
                return original(*args, **kwargs)
            _capture.request = None  # only the call cross_val_score makes itself
            return request.call(original, args, kwargs)
        with tracked_call() as top:
            if not top or _dispatched_from_elsewhere():
                return original(*args, **kwargs)
            request = _CrossValidationCall()
            results = request.call(original, args, kwargs)
            _record_cross_validation(original, args, kwargs, request)
            return results

    return cross_validate


def _cross_val_score_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def cross_val_score(*args: Any, **kwargs: Any) -> Any:
        if _skip:
            return original(*args, **kwargs)
        with tracked_call() as top:
            if not top or _dispatched_from_elsewhere():
                return original(*args, **kwargs)
            request = _capture.request = _CrossValidationCall()
            try:
                scores = original(*args, **kwargs)
            finally:
                _capture.request = None
            _record_cross_validation(original, args, kwargs, request)
            return scores

    return cross_val_score


def _cross_val_predict_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def cross_val_predict(*args: Any, **kwargs: Any) -> Any:
        if _skip:
            return original(*args, **kwargs)
        with tracked_call() as top:
            if not top or _dispatched_from_elsewhere():
                return original(*args, **kwargs)
            predictions = original(*args, **kwargs)
            tracker = current_tracker()
            if tracker is not None:
                with tracker.implicit("the folds of a cross_val_predict call"):
                    from mltrack_sklearn.tuning import record_cross_val_predict

                    arguments = _bound_arguments(original, args, kwargs)
                    record_cross_val_predict(tracker, arguments)
            return predictions

    return cross_val_predict


def _record_cross_validation(
    original: Callable[..., Any], args: tuple, kwargs: dict, request: _CrossValidationCall
) -> None:
    tracker = current_tracker()
    if tracker is None:
        return
    with tracker.implicit(f"the cross-validation of a {original.__name__} call"):
        if request.results is None:
            raise SchemaError("scikit-learn's cross_validate was not called through the patched function")
        from mltrack_sklearn.tuning import record_cross_validation

        arguments = _bound_arguments(original, args, kwargs)
        record_cross_validation(
            tracker,
            arguments["estimator"],
            arguments["X"],
            arguments.get("y"),
            request.results,
            cv=arguments.get("cv"),
            scoring=arguments.get("scoring"),
        )
        if not kwargs.get("return_estimator", False):
            request.results.pop("estimator", None)  # the fold estimators are not kept alive


_CROSS_VALIDATION_WRAPPERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "cross_validate": _cross_validate_wrapper,
    "cross_val_score": _cross_val_score_wrapper,
    "cross_val_predict": _cross_val_predict_wrapper,
}
