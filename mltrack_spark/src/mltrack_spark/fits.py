"""Recording one Spark ML fit: shared by :func:`mltrack_spark.autolog` and :class:`~mltrack_spark.TrackedPipeline`.

A fit records, through the tracker:

* the training DataFrame as a dataset: described (row count and fingerprint of
  the whole DataFrame, statistics of its first rows, see
  :func:`~mltrack_spark.describe_dataframe`) in a second thread while Spark fits,
  so its Spark jobs run beside the fit's instead of before it. When
  :mod:`mltrack_spark.links` knows the DataFrame (a ``randomSplit`` part, a
  DataFrame transformed by hand) it gives the dataset, linked to its source;
  otherwise a stored dataset with the same fingerprint is reused;
* a training run with the estimator's parameters, FINISHED with the model, or
  FAILED with the error when the fit raises (the error still reaches the caller);
* the fitted model: every stage's parameters, the column DAG (after the
  transforms applied by hand on the way to the DataFrame, when
  :mod:`mltrack_spark.links` knows them), and the evaluation of each tuning's
  chosen candidate;
* for a fitted CrossValidator or TrainValidationSplit (the estimator itself or a
  stage of the pipeline): its folds, candidates and winner
  (:func:`mltrack_spark.tuning.record_tuning`).

Writing to the store happens off the fit's path (``tracker.defer_writes``).
Nothing here raises: a failure to record is a :class:`~mltrack_core.TrackingWarning`.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import logging
from typing import TYPE_CHECKING, Any

from mltrack_spark.stages import leaves, model_name

if TYPE_CHECKING:
    from mltrack_core.plugin import Dataset, LiveRun, Model, Tracker

__all__ = ["SAMPLED_ROWS", "FitRecorder", "label_column", "tell_links"]

_log = logging.getLogger("mltrack.spark")

UPSTREAM_ATTRIBUTE = "_mltrack_upstream_transforms"
"""Set on a fitted model for the extraction: the transforms applied by hand before the fit (entities or ids)."""
SAMPLED_ROWS = 20_000
"""The statistics of a training DataFrame with more rows come from its first this many rows (count and
fingerprint still cover every row). Spark computes statistics without compiled code, at about 6 µs a row on
2 cores: a million rows in full would take a third of a 10-second fit."""
MODEL_ID_ATTRIBUTE = "_mltrack_model_id"
"""Set on a fitted model: the id of the model recorded for it (``tracked_model_id``, ``computed_by=fitted``)."""


class FitRecorder:
    """Records one fit: dataset and run around it, the model (and what its tunings compared) after it."""

    def __init__(
        self,
        tracker: Tracker,
        estimator: Any,
        df: Any,
        name: str | None,
        description: concurrent.futures.Future[Dataset | None],
        run: LiveRun | None,
        upstream: tuple[Any, ...],
    ) -> None:
        self.tracker = tracker
        self.estimator = estimator
        self.df = df
        self.name = name
        self.description = description
        self.run = run
        self.upstream = upstream

    @classmethod
    def begin(cls, tracker: Tracker, estimator: Any, df: Any, *, name: str | None = None) -> FitRecorder:
        """Start describing ``df`` (in a second thread) and start the training run of ``estimator``."""
        what = f"the fit of {name or model_name(estimator)}"
        upstream: tuple[Any, ...] = ()
        with tracker.implicit(f"the transforms applied before {what}"):
            upstream = tuple(tell_links("upstream_transforms", df) or ())
        target = None
        with tracker.implicit(f"the label column of {what}"):
            target = label_column(estimator, df.columns)
        describing = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mltrack-describe")
        description = describing.submit(_training_dataset, tracker, df, target, what)
        describing.shutdown(wait=False)
        run = None
        with tracker.implicit(f"{what}: the training run"):  # written at once: a broken store shows here
            run = tracker.track_training(estimator, name=f"fit {name or model_name(estimator)}")
        return cls(tracker, estimator, df, name, description, run, upstream)

    def failed(self, exc: BaseException) -> None:
        """The fit raised ``exc``: the run is FAILED (the dataset is still recorded, in the background)."""
        if self.run is not None:
            with self.tracker.defer_writes(), self.tracker.implicit(f"the failure of training run {self.run.id}"):
                self.run.fail(exc)
        self.df = None

    def finished(self, fitted: Any) -> Model | None:
        """The fit returned ``fitted``: record the model and its tunings, end the run."""
        tracker = self.tracker
        what = f"the fit of {self.name or model_name(self.estimator)}"
        dataset = None
        with tracker.implicit(f"{what}: the training dataset"):
            dataset = self.description.result()
        model = None
        if dataset is not None:
            with tracker.defer_writes(), tracker.implicit(f"{what}: the fitted model"):
                if self.upstream:
                    setattr(fitted, UPSTREAM_ATTRIBUTE, self.upstream)
                model = tracker.track_model(fitted, trained_on=dataset, name=self.name)
                setattr(fitted, MODEL_ID_ATTRIBUTE, model.id)
            if model is not None:
                with tracker.implicit(f"the link between {what} and its model"):
                    tell_links("remember_model", fitted, model, dataset)
                with tracker.defer_writes(), tracker.implicit(f"the folds and candidates of {what}"):
                    from mltrack_spark.tuning import record_tunings

                    record_tunings(tracker, fitted, self.df, dataset, model)
        if self.run is not None and not self.run.ended:
            with tracker.defer_writes(), tracker.implicit(f"the end of the training run {self.run.id}"):
                self.run.finish(model, **({"trained_on": dataset} if dataset is not None else {}))
        self.df = None
        return model


def _training_dataset(tracker: Tracker, df: Any, target: str | None, what: str) -> Dataset | None:
    """The dataset of the training DataFrame (runs in the describing thread); None when it cannot be recorded."""
    with tracker.defer_writes(), tracker.implicit(f"{what}: the training dataset"):
        linked = tell_links("dataset_for", tracker, df, target)
        if linked is not None:
            return linked
        from mltrack_spark.data import describe_dataframe

        described = describe_dataframe(df, target=target, sample_rows=SAMPLED_ROWS)
        filters = {"experiment": tracker.experiment_name} if tracker.experiment_name else {}
        for stored in tracker.find("dataset", fingerprint=described.fingerprint, limit=5, **filters):
            if stored.row_count == described.row_count:
                return stored  # type: ignore[return-value]
        return tracker.track_dataset(described)
    return None


def label_column(estimator: Any, columns: list[str]) -> str | None:
    """The label column of the last learner of ``estimator`` (a pipeline, a tuning), when ``columns`` holds it."""
    for leaf in reversed(leaves(estimator)):
        stage = leaf.stage
        if stage.hasParam("labelCol") and stage.isDefined(stage.getParam("labelCol")):
            label = stage.getOrDefault("labelCol")
            if label in columns:
                return label
    return None


def tell_links(function_name: str, *arguments: Any) -> Any:
    """Call ``function_name`` of :mod:`mltrack_spark.links` when that module has it (else None)."""
    try:
        links = importlib.import_module("mltrack_spark.links")
    except ImportError as exc:
        if exc.name != "mltrack_spark.links":
            raise
        return None
    function = getattr(links, function_name, None)
    return function(*arguments) if function is not None else None
