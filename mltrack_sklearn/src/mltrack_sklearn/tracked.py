"""``TrackedPipeline``: a scikit-learn ``Pipeline`` whose fits are recorded."""

from __future__ import annotations

import contextlib
import copy
import inspect
import warnings
from collections.abc import Iterator
from typing import Any

from mltrack_core.plugin import MltrackError, SchemaError, Tracker, TrackingWarning, get_tracker
from mltrack_sklearn.autolog import FitRecorder, fitting_a_fold, tracked_call
from mltrack_sklearn.framework import require_sklearn

require_sklearn()

# scikit-learn is imported once its version is known to be supported
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.utils.metaestimators import available_if  # noqa: E402

__all__ = ["TrackedPipeline"]

_TAKES_TRANSFORM_INPUT = "transform_input" in inspect.signature(Pipeline.__init__).parameters


def _pipeline_offers(method: str) -> Any:
    """For ``available_if``: the method exists when ``Pipeline`` offers it for these steps."""
    return lambda self: hasattr(super(TrackedPipeline, self), method)


class TrackedPipeline(Pipeline):
    """A :class:`sklearn.pipeline.Pipeline` that records every fit with mltrack.

    ``fit`` (and ``fit_transform``/``fit_predict``) record the training dataset
    (from ``X`` and ``y``), a training run, and the fitted model with every
    hyperparameter of every step and its transformation DAG; the model is then
    ``tracked_model_``. Everything else is ``Pipeline``'s: prediction, scoring,
    ``get_params``/``set_params``, cloning, pickling, use inside searches.

    Args:
        steps: the pipeline's ``(name, estimator)`` steps, as for ``Pipeline``.
        memory: as for ``Pipeline``.
        verbose: as for ``Pipeline``.
        tracker: where to record; default :func:`mltrack_core.get_tracker` at fit time.
            It is a constructor parameter but not a hyperparameter: clones share it,
            and a pickled copy records into the default tracker of the process that fits it.
    """

    _mltrack_not_hyperparameters = ("tracker",)
    _mltrack_records_fits = True  # autolog leaves its fit methods alone: they record themselves

    if _TAKES_TRANSFORM_INPUT:

        def __init__(self, steps: list, *, transform_input: Any = None, memory: Any = None, verbose: bool = False,
                     tracker: Tracker | None = None) -> None:  # fmt: skip
            super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
            self.tracker = tracker

    else:

        def __init__(
            self, steps: list, *, memory: Any = None, verbose: bool = False, tracker: Tracker | None = None
        ) -> None:
            super().__init__(steps, memory=memory, verbose=verbose)
            self.tracker = tracker

    def fit(self, X: Any, y: Any = None, **params: Any) -> TrackedPipeline:
        """Fit the pipeline as ``Pipeline.fit`` does, and record the fit."""
        with self._recording(X, y):
            return super().fit(X, y, **params)

    @available_if(_pipeline_offers("fit_transform"))
    def fit_transform(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Fit and transform as ``Pipeline.fit_transform`` does, and record the fit."""
        with self._recording(X, y):
            return super().fit_transform(X, y, **params)

    @available_if(_pipeline_offers("fit_predict"))
    def fit_predict(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Fit and predict as ``Pipeline.fit_predict`` does, and record the fit."""
        with self._recording(X, y):
            return super().fit_predict(X, y, **params)

    def __sklearn_clone__(self) -> TrackedPipeline:
        """Clone as scikit-learn does, except that the clone shares this pipeline's tracker."""
        detached = copy.copy(self)
        detached.tracker = None
        twin = super(TrackedPipeline, detached).__sklearn_clone__()
        twin.tracker = self.tracker
        return twin

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        if state.get("tracker") is not None:
            state["tracker"] = None  # a tracker holds a store connection and threads: it does not travel
        return state

    @contextlib.contextmanager
    def _recording(self, X: Any, y: Any) -> Iterator[None]:
        with tracked_call() as top:
            if not top or fitting_a_fold():  # nested in a recorded call, or one fold of model selection
                yield
                return
            tracker = self._tracker()  # a wrong tracker= is the user's mistake: it raises, like a bad parameter
            if tracker is None:
                yield
                self.tracked_model_ = None
                return
            recorder = FitRecorder.begin(tracker, self, X, y, what="a TrackedPipeline fit")
            try:
                yield
            except BaseException as exc:
                recorder.failed(exc)
                raise
            self.tracked_model_ = recorder.finished(self)

    def _tracker(self) -> Tracker | None:
        """The tracker to record into; None (with a warning) when the default store cannot be opened."""
        if self.tracker is None:
            try:
                return get_tracker()
            except MltrackError as exc:
                warnings.warn(f"mltrack: this fit was not recorded: {exc}", TrackingWarning, stacklevel=4)
                return None
        if not isinstance(self.tracker, Tracker):
            raise SchemaError(
                f"TrackedPipeline(tracker=...) must be a mltrack_core.Tracker or None, got "
                f"{type(self.tracker).__name__} {self.tracker!r:.60}; use mltrack_core.connect(uri)"
            )
        return self.tracker
