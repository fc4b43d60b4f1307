"""Transformers applied by hand under automatic tracking: ``Tokenizer().transform(df)`` as a recorded Transform.

:func:`patch` (called by :func:`mltrack_spark.autolog.autolog` once ``pyspark.ml``
is imported) replaces ``pyspark.ml.base.Transformer.transform``, which every
Spark ML transformer and fitted model inherits; :func:`unpatch` puts it back.

A top-level ``transformer.transform(df)`` (not one inside a recorded fit, a
``PipelineModel.transform`` or an evaluation) returns Spark's own DataFrame,
unchanged, and:

* for a feature transformer (``Tokenizer``, ``HashingTF``, ``VectorAssembler``,
  a fitted ``IDFModel`` or ``StringIndexerModel``, a ``PipelineModel`` of such
  stages), records one ``Transform`` per stage, with its typed input and output
  columns, its parameters and the transforms that made its input columns
  (``input_transforms``), as the column DAG of a fitted model has them
  (:mod:`mltrack_spark.dag`: the columns a single stage adds and removes are
  read from the output DataFrame's schema; a ``PipelineModel``'s stages are
  replayed through ``transformSchema`` in Spark's JVM; no Spark job). The same
  stage applied again to input of the same schema, with the same parameters
  (a loop over batches), is recorded once. A fitted stage whose own fit was recorded
  (``StringIndexer().fit(full_df)``) has the dataset it was fitted on in its
  ``spark.fitted_on`` annotation. The output DataFrame is linked to these
  transforms and to the input DataFrame (:mod:`mltrack_spark.links`): a fit on
  it records a dataset ``derived_from`` the input's, and the model's DAG starts
  with these transforms;
* for a model that predicts (it has a ``predictionCol``) and whose fit was
  recorded, records nothing: the predictions DataFrame is linked to the model
  and to the DataFrame predicted on, for :mod:`mltrack_spark.scores`;
* for anything else (a predicting model whose fit was not recorded, an input or
  output that is not a DataFrame), records nothing.

Writing the transforms is deferred to the tracker's background thread; building
them on the caller's thread costs a few calls into the JVM (about 2 ms a
stage), not a Spark job.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import warnings
import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from mltrack_core.plugin import Patches, TrackingWarning, Transform, WeakLinks
from mltrack_spark import links
from mltrack_spark.autolog import current_tracker, inside_tracked_call, tracked_call
from mltrack_spark.framework import is_dataframe
from mltrack_spark.stages import leaves

if TYPE_CHECKING:
    from mltrack_core.plugin import Tracker

__all__ = ["patch", "unpatch"]

LOG = logging.getLogger("mltrack.spark")

APPLIED_ANNOTATION = "spark.applied"
_APPLIED_BY_HAND = "by hand: transform() outside a pipeline"

_patches = Patches()


def patch() -> None:
    """Record transformers applied by hand from now on (idempotent)."""
    with _patches.lock:
        if _patches.active:
            return
        base = importlib.import_module("pyspark.ml.base")
        original = vars(base.Transformer)["transform"]
        _patches.install(base.Transformer, "transform", _transform_wrapper(original))


def unpatch() -> None:
    """Restore ``Transformer.transform``."""
    with _patches.lock:
        _patches.restore()


def _transform_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def transform(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _patches.active or inside_tracked_call():
            return original(self, *args, **kwargs)
        with tracked_call() as top:
            output = original(self, *args, **kwargs)
            if top:
                try:
                    arguments = signature.bind(self, *args, **kwargs).arguments
                    _record(self, arguments.get("dataset"), arguments.get("params"), output)
                except Exception as exc:  # noqa: BLE001 - the failure policy: warn, never break the user's program
                    warnings.warn(
                        f"mltrack: {type(self).__name__}.transform was not recorded: {type(exc).__name__}: {exc}",
                        TrackingWarning,
                        stacklevel=2,
                    )
            return output

    return transform


def _record(stage: Any, df: Any, params: Any, output: Any) -> None:
    if not is_dataframe(df) or not is_dataframe(output):
        return
    tracker = current_tracker()
    if tracker is None:
        return
    if params:
        stage = stage.copy(params)  # what Spark transformed with
    if _predicts(stage):
        _link_predictions(tracker, stage, df, output)
    else:
        _record_transforms(tracker, stage, df, output)


def _predicts(stage: Any) -> bool:
    return any(leaf.stage.hasParam("predictionCol") for leaf in leaves(stage))


def _link_predictions(tracker: Tracker, stage: Any, df: Any, output: Any) -> None:
    model = links.model_of(stage)
    if model is None:
        LOG.debug("%s predicted, but no recorded fit of it is known: its predictions are not linked",
                  type(stage).__name__)  # fmt: skip
        return
    fitted_elsewhere = [
        links.FittedElsewhere(_stage_name(leaf), dataset)
        for leaf in leaves(stage)
        if leaf.stage is not stage and (dataset := links.fitted_on(leaf.stage)) is not None
    ]
    fitted_elsewhere += links.fitted_upstream(df, tracker)
    links.remember_prediction(output, model, links.linked_dataset(tracker, df), df, fitted_elsewhere)


def _stage_name(leaf: Any) -> str:
    """``StringIndexerModel (stages[0])``: the stage's class and where it is in the model."""
    name = type(leaf.stage).__name__
    where = leaf.path.removesuffix(f".{name}").removesuffix(name)
    return f"{name} ({where})" if where else name


def _record_transforms(tracker: Tracker, stage: Any, df: Any, output: Any) -> None:
    from mltrack_spark.dag import build_dag

    upstream = links.upstream_transforms(df, tracker)
    key = (
        df.schema.json(),
        repr(sorted((p.name, repr(v)) for p, v in stage.extractParamMap().items())),
        tuple(t.id for t in upstream),
    )
    for earlier in _applied.values(stage):
        if earlier.key == key and earlier.tracker() is tracker:  # the same again (a loop over batches): one record
            links.remember_transformed(output, df, earlier.transforms, tracker)
            return
    dag = build_dag(stage, df.schema, df.sparkSession, upstream=upstream, output_schema=output.schema)
    fitted_as_a_whole = links.fitted_on_annotation(stage)  # a PipelineModel whose own fit was recorded
    recorded = []
    with tracker.defer_writes():
        for transform in dag.transforms:
            annotations = {**transform.annotations, APPLIED_ANNOTATION: _APPLIED_BY_HAND}
            if transform.state == "fitted":
                annotations = {**fitted_as_a_whole, **annotations}
            if dag.failures:
                annotations["spark.replay_failures"] = "; ".join(dag.failures)
            recorded.append(tracker.track_transform(replace(transform, annotations=annotations)))
    links.remember_transformed(output, df, recorded, tracker)
    _applied.attach(stage, _Applied(key, tuple(recorded), weakref.ref(tracker)))


class _Applied(NamedTuple):
    """The Transforms recorded when a stage was applied to input of this schema, with these parameters."""

    key: tuple[Any, ...]
    transforms: tuple[Transform, ...]
    tracker: weakref.ref


_applied: WeakLinks[_Applied] = WeakLinks("applied stage", per_object=4)
