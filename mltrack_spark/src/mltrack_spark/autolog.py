"""Automatic tracking of Spark ML: every top-level ``fit`` of an estimator, with no added line.

:func:`autolog` (called by ``mltrack run`` and ``mltrack_core.autolog()``)
patches, once the program imports ``pyspark.ml`` (at once if it did already),
``pyspark.ml.base.Estimator.fit``: the one ``fit`` of every Spark ML estimator
(Pipeline, LogisticRegression, RandomForestClassifier, CrossValidator,
TrainValidationSplit, OneVsRest, RFormula, and the user's own estimators), in
PySpark 3.5 and 4 alike. Each top-level fit records what a
:class:`~mltrack_spark.TrackedPipeline` records (see
:class:`~mltrack_spark.fits.FitRecorder`): the training dataset, a training run
FINISHED or FAILED, the fitted model with every parameter and its column DAG,
and for a tuning every candidate, its metrics, its folds and the winner.

Only top-level fits record: while one runs (in any thread: CrossValidator fits
its candidates in Spark's thread pool), every fit, transform and evaluation it
makes goes straight to Spark's code. ``fit(df, [param maps])`` fits once per map,
one after the other: each of those fits is top-level and recorded.

The companion modules :mod:`mltrack_spark.splits` (``randomSplit``, patched once
``pyspark.sql`` is imported), :mod:`mltrack_spark.transforms` and
:mod:`mltrack_spark.scores` (transformers applied by hand, evaluators; patched
once ``pyspark.ml`` is imported) are switched on and off with the fit patch and
share its guard: :func:`tracked_call`, :func:`inside_tracked_call`,
:func:`current_tracker`.

Recording never changes what Spark computes and never breaks the program: a
failure to record is one :class:`~mltrack_core.TrackingWarning`, and an
exception of the fit reaches the caller unchanged (the run is FAILED).
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

from mltrack_core.plugin import (
    AutologSettings,
    Patches,
    TopLevelCalls,
    Tracker,
    TrackingWarning,
    never_raising,
    when_imported,
)
from mltrack_spark.framework import require_pyspark

__all__ = [
    "autolog",
    "autolog_enabled",
    "current_tracker",
    "inside_tracked_call",
    "tracked_call",
]

_log = logging.getLogger("mltrack.spark")

SQL_COMPANIONS = (("mltrack_spark.splits", "randomSplit parts"),)
"""Patched once ``pyspark.sql`` is imported."""
ML_COMPANIONS = (
    ("mltrack_spark.transforms", "transformers applied by hand"),
    ("mltrack_spark.scores", "evaluator calls"),
)
"""Patched once ``pyspark.ml`` is imported."""

# ---------------------------------------------------------------- the guard

_calls = TopLevelCalls()
tracked_call = _calls.enter
"""Enter a recorded call; yields True when it is top-level (the caller records), False when nested."""


def inside_tracked_call() -> bool:
    """True while a fit (or a split, transform or evaluation) that mltrack records is running, in any thread.

    CrossValidator and TrainValidationSplit fit and evaluate their candidates in
    Spark's thread pool: those calls are nested in the fit that started them.
    """
    return _calls.running


# ---------------------------------------------------------------- turning on and off

_settings = AutologSettings("Spark ML")
_enabled = False  # the fit patch is installed
_patches = Patches()


def autolog(*, tracker: Tracker | None = None, disable: bool = False) -> None:
    """Record every top-level Spark ML fit (and splits, transforms, evaluations), with no other line.

    Patches Spark ML once it is imported (at once when it is already), see the
    module documentation. Calling it again while on only changes the tracker;
    ``autolog(disable=True)`` restores everything it patched.

    Args:
        tracker: where to record; default :func:`mltrack_core.get_tracker` at the time of each record.
        disable: turn automatic tracking off, restoring PySpark as it was.

    Raises:
        MissingDependencyError: PySpark is missing or older than :func:`mltrack_spark.supported_versions`.
        SchemaError: ``tracker`` is not a :class:`mltrack_core.Tracker`.
    """
    if disable:
        with _settings.lock:
            _remove_patches()
            _settings.turn_off()
        return
    require_pyspark()
    _settings.turn_on(tracker)
    when_imported("pyspark.sql", _patch_sql)
    when_imported("pyspark.ml", _patch_ml)


def autolog_enabled() -> bool:
    """Whether the patches are on (autolog was called, PySpark ML imported, not disabled since)."""
    return _enabled


current_tracker = _settings.current_tracker


def _patch_sql(module: ModuleType) -> None:
    del module
    with _settings.lock:
        if not _settings.wanted:
            return
        for name, what in SQL_COMPANIONS:
            _patch_companion(name, what)


def _patch_ml(module: ModuleType) -> None:
    """Patch ``Estimator.fit`` and the companions (called once ``pyspark.ml`` is imported)."""
    global _enabled
    del module
    from pyspark.ml.base import Estimator

    with _settings.lock:
        if not _settings.wanted or _enabled:
            return
        _patches.install(Estimator, "fit", _fit_replacement(Estimator.__dict__["fit"]))
        _enabled = True
        for name, what in ML_COMPANIONS:
            _patch_companion(name, what)


def _patch_companion(name: str, what: str) -> None:
    try:
        companion = importlib.import_module(name)
    except ImportError as exc:
        if exc.name != name:  # the module exists but something it imports is missing
            warnings.warn(
                f"mltrack: {what} are not tracked automatically: {type(exc).__name__}: {exc}",
                TrackingWarning,
                stacklevel=2,
            )
        return
    try:
        companion.patch()
    except Exception as exc:  # noqa: BLE001 - the rest of automatic tracking goes on
        warnings.warn(
            f"mltrack: {what} are not tracked automatically: {type(exc).__name__}: {exc}", TrackingWarning, stacklevel=2
        )


def _remove_patches() -> None:
    global _enabled
    _enabled = False
    for name, what in (*SQL_COMPANIONS, *ML_COMPANIONS):
        companion = sys.modules.get(name)
        if companion is None or not hasattr(companion, "unpatch"):
            continue
        try:
            companion.unpatch()
        except Exception as exc:  # noqa: BLE001 - turning off must finish
            warnings.warn(
                f"mltrack: {what} could not be untracked: {type(exc).__name__}: {exc}", TrackingWarning, stacklevel=3
            )
    _patches.restore()


# ---------------------------------------------------------------- the fit patch


def _fit_replacement(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, dataset: Any, params: Any = None) -> Any:
        if (
            not _patches.active
            or _calls.running
            or isinstance(params, (list, tuple))  # one fit per map follows, each recorded on its own
            or getattr(type(self), "_mltrack_records_fits", False)  # TrackedPipeline records its own fits
        ):
            return original(self, dataset, params)
        return _recorded_fit(original, self, dataset, params)

    return fit


def _recorded_fit(original: Callable[..., Any], estimator: Any, dataset: Any, params: Any) -> Any:
    with tracked_call() as top:
        if not top:
            return original(estimator, dataset, params)
        recorder = None
        with never_raising(f"the fit of a {type(estimator).__name__}"):
            tracker = current_tracker()
            if tracker is not None:
                from mltrack_spark.fits import FitRecorder

                fitted_estimator = estimator.copy(params) if params else estimator
                recorder = FitRecorder.begin(tracker, fitted_estimator, dataset)
        try:
            result = original(estimator, dataset, params)
        except BaseException as exc:
            if recorder is not None:
                with never_raising(f"the failure of a {type(estimator).__name__}.fit call"):
                    recorder.failed(exc)
            raise
        if recorder is not None:
            with never_raising(f"the fit of a {type(estimator).__name__}"):
                recorder.finished(result)
        return result
