"""TrackedPipeline: a ``pyspark.ml.Pipeline`` whose ``fit`` records what it did."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import TrackingWarning, get_tracker
from mltrack_spark.framework import require_pyspark

require_pyspark()  # before anything of PySpark is subclassed

from pyspark.ml import Estimator, Pipeline  # noqa: E402
from pyspark.ml.pipeline import PipelineReader  # noqa: E402

from mltrack_spark.autolog import tracked_call  # noqa: E402
from mltrack_spark.fits import MODEL_ID_ATTRIBUTE, FitRecorder  # noqa: E402
from mltrack_spark.stages import model_name  # noqa: E402

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import DataFrame

    from mltrack_core.plugin import Tracker

__all__ = ["TrackedPipeline", "tracked_model_id"]


class TrackedPipeline(Pipeline):
    """A ``pyspark.ml.Pipeline`` whose ``fit`` records the dataset, the model, its column DAG and a training run.

    Use it wherever a Pipeline goes; ``fit`` returns the same ``PipelineModel``.
    Each fit records, through ``tracker`` (default: ``mltrack_core.get_tracker()``
    at fit time):

    * the training DataFrame as a dataset (schema, statistics, histograms and
      fingerprint computed by Spark; a dataset already stored with the same
      fingerprint is reused, so a split you tracked yourself is linked);
    * a training run (the pipeline's parameters), FINISHED with the model, or
      FAILED with the error when ``fit`` raises (the error still reaches you);
    * the fitted model: every stage's parameters, the column DAG from schema
      replay, and for a CrossValidator or TrainValidationSplit stage every
      candidate's metric and an evaluation of the chosen one. Its id is kept
      with the returned PipelineModel: ``tracked_model_id(fitted)``, and
      ``track_evaluation(..., computed_by=fitted)`` links to it.

    Tracking never breaks the fit: a failure to record is a ``TrackingWarning``
    and the model is returned. Fits made through ``fitMultiple`` are not
    recorded: inside a ``CrossValidator`` or ``TrainValidationSplit`` (as their
    estimator) that leaves out the candidates' fits on folds and records only
    the final refit on the whole dataset (to record the tuning itself, make it a
    stage of the TrackedPipeline); ``fit(df, [param maps])`` goes that way too.
    A TrackedPipeline nested in another one (or in a fit that
    :func:`mltrack_spark.autolog` records) is recorded once, by the outer one.

    ``tracker`` and ``name`` are not Spark params: ``copy`` keeps them, ``save``
    does not (a loaded TrackedPipeline records into the default tracker).
    """

    _mltrack_records_fits = True  # mltrack_spark.autolog's fit patch leaves this class's fits to it

    def __init__(
        self, *, stages: list[Any] | None = None, tracker: Tracker | None = None, name: str | None = None
    ) -> None:
        if stages is None:
            super().__init__()
        else:
            super().__init__(stages=stages)
        self._mltrack_tracker = tracker
        self._mltrack_name = name
        self._mltrack_enabled = True

    @classmethod
    def read(cls) -> PipelineReader:
        """A reader that returns TrackedPipelines (Spark's own returns plain Pipelines on some versions)."""
        return _TrackedPipelineReader(cls)

    def fitMultiple(self, dataset: DataFrame, paramMaps: Any) -> Any:
        """Fit one model per param map, as tunings do for their candidates: these fits are not recorded."""
        untracked = self.copy()
        untracked._mltrack_enabled = False
        return Estimator.fitMultiple(untracked, dataset, paramMaps)

    def _fit(self, dataset: DataFrame) -> PipelineModel:
        if not getattr(self, "_mltrack_enabled", True):
            return super()._fit(dataset)
        with tracked_call() as top:
            tracker = self._tracker() if top else None
            if tracker is None:  # nested in a recorded fit (which records this one), or no store
                return super()._fit(dataset)
            recorder = FitRecorder.begin(tracker, self, dataset, name=getattr(self, "_mltrack_name", None))
            try:
                fitted = super()._fit(dataset)
            except BaseException as exc:
                recorder.failed(exc)
                raise
            recorder.finished(fitted)
            return fitted

    def _tracker(self) -> Tracker | None:
        tracker = getattr(self, "_mltrack_tracker", None)
        if tracker is not None:
            return tracker
        try:
            return get_tracker()
        except Exception as exc:  # noqa: BLE001 - the failure policy: no store, no tracking, but the fit goes on
            warnings.warn(
                f"mltrack: the fit of {self._name()} was not recorded: no tracker ({type(exc).__name__}: {exc})",
                TrackingWarning,
                stacklevel=4,
            )
            return None

    def _name(self) -> str:
        return getattr(self, "_mltrack_name", None) or model_name(self)


def tracked_model_id(fitted: Any) -> str | None:
    """The id of the model a TrackedPipeline's ``fit`` recorded for ``fitted`` (the PipelineModel it returned)."""
    return getattr(fitted, MODEL_ID_ATTRIBUTE, None)


class _TrackedPipelineReader(PipelineReader):
    def load(self, path: str) -> TrackedPipeline:
        loaded = Pipeline.read().load(path)  # Spark's reader, for the class Spark knows (3.5 maps it to a JVM class)
        return TrackedPipeline(stages=loaded.getStages())._resetUid(loaded.uid)
