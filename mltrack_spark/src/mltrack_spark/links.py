"""Links from the user's Spark objects to what was recorded about them, without keeping the objects alive.

Automatic tracking needs to know, cheaply, that ``train`` is the first part a
``randomSplit`` made, that ``rescaled`` came out of ``Tokenizer``, ``HashingTF``
and an ``IDFModel`` applied by hand to ``sentences``, that ``model`` is the
fitted model whose fit was recorded, and that ``predictions`` came out of
``model.transform(test)``. Each link is a weak reference to the object (a
DataFrame, a fitted model) plus what was recorded: a link never keeps a
DataFrame or a model alive, and a link of an object that was freed is never
mistaken for a new object that got the same ``id``. Spark DataFrames are
immutable, so a link never goes stale.

Links are by identity: ``predictions.select(...)`` is a new DataFrame, not
linked. A dataset link also names the tracker that recorded the dataset: another
tracker (another test, another store) does not see it.

Every function is thread-safe and O(1) in the size of the data; only
:func:`dataset_for` may run Spark jobs (to describe a DataFrame not recorded yet).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from mltrack_core.plugin import Dataset, Model, Transform, WeakLinks

if TYPE_CHECKING:
    from mltrack_core.plugin import Tracker

__all__ = [
    "PredictionLink",
    "column_producers",
    "dataset_for",
    "describe",
    "fitted_on",
    "inherit_transformed",
    "model_of",
    "prediction_of",
    "recorded_dataset",
    "remember_model",
    "remember_prediction",
    "remember_split",
    "remember_transformed",
    "split_of",
    "upstream_transforms",
]

LOG = logging.getLogger("mltrack.spark")

TRANSFORMS_ANNOTATION = "spark.transforms"
"""On a dataset made by transformers applied by hand: the ids of their Transforms, in order."""
PRODUCERS_ANNOTATION = "spark.column_producers"
"""On such a dataset: which of those Transforms produced each column (JSON: column -> transform id)."""
_WHERE_READ = ("spark.table", "spark.input_files")  # annotations of a source's location, not of derived data


def _ref(obj: Any) -> weakref.ref | None:
    try:
        return weakref.ref(obj)
    except TypeError:
        return None


def _alive(ref: weakref.ref | None) -> Any:
    return ref() if ref is not None else None


# ---------------------------------------------------------------- datasets


@dataclass(frozen=True)
class _Recorded:
    dataset: Dataset
    tracker: weakref.ref


_datasets: WeakLinks[_Recorded] = WeakLinks("dataset", per_object=4)


def remember_dataset(df: Any, dataset: Dataset, tracker: Tracker) -> None:
    """``df`` was recorded by ``tracker`` as ``dataset``."""
    _datasets.attach(df, _Recorded(dataset, weakref.ref(tracker)), replaces=lambda old: old.tracker() is tracker)


def linked_dataset(tracker: Tracker, df: Any) -> Dataset | None:
    """The dataset ``tracker`` recorded for ``df``, if any (no Spark job, no store read)."""
    for link in _datasets.values(df):
        if link.tracker() is tracker:
            return link.dataset
    return None


def dataset_for(tracker: Tracker, df: Any, target: str | None = None) -> Dataset:
    """The dataset of a DataFrame about to be fitted on (or evaluated on), recorded now when it is not yet.

    In order:

    * a dataset ``tracker`` recorded for ``df`` already (the same DataFrame fitted twice);
    * a part of a ``randomSplit``: the parts of that split are recorded now
      (each ``derived_from`` the split's source, with its row count), with
      ``target`` as their target (see :mod:`mltrack_spark.splits`);
    * a DataFrame made by transformers applied by hand (``Tokenizer().transform(df)``...)
      from a DataFrame that is recorded or still alive: a dataset ``derived_from``
      that source's dataset, whose derivation names the transformers in order and
      whose ``spark.transforms`` annotation lists their Transform ids;
    * else ``df`` described as it is (:func:`recorded_dataset`).

    Recording runs on the tracker's background thread, one DataFrame after the
    other (the caller waits for it): two threads asking for the same DataFrame
    record it once, and no lock is held while the store is read. It may run
    Spark jobs (a description's two aggregations). Safe on any thread.

    Args:
        tracker: the tracker that records.
        df: the DataFrame.
        target: its label column, when the caller knows it (used only when the dataset is recorded now).

    Returns:
        The dataset.
    """
    found = linked_dataset(tracker, df)
    if found is not None:
        return found
    if on_background_thread(tracker):
        return _record_dataset(tracker, df, target)
    return in_background(tracker, "the dataset of a DataFrame", lambda: dataset_for(tracker, df, target)).result()


def _record_dataset(tracker: Tracker, df: Any, target: str | None) -> Dataset:
    part = split_of(df)
    if part is not None and part.split.tracker() is tracker:
        dataset = part.split.dataset_of_part(tracker, part.index, target)
    else:
        dataset = _derived_dataset(tracker, df, target) or recorded_dataset(tracker, df, target)
    remember_dataset(df, dataset, tracker)
    return dataset


def on_background_thread(tracker: Tracker) -> bool:
    """Whether the caller is the tracker's background thread (the one :meth:`~mltrack_core.Tracker.defer` runs)."""
    writer = getattr(tracker, "_deferred", None)
    return writer is not None and writer.on_writer_thread()


R = TypeVar("R")


def in_background(tracker: Tracker, what: str, work: Callable[[], R]) -> concurrent.futures.Future[R]:
    """Run ``work`` on the tracker's background thread, after what was deferred before; its result as a future.

    All the recording of this module happens there, one item after the other,
    so it needs no lock (a lock held while reading the store, which waits for
    that thread, would deadlock).
    """
    future: concurrent.futures.Future[R] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(work())
        except Exception as exc:  # noqa: BLE001 - handed to whoever waits for the result
            future.set_exception(exc)

    tracker.defer(what, run)
    return future


def recorded_dataset(tracker: Tracker, df: Any, target: str | None = None, **changes: Any) -> Dataset:
    """``df`` described and recorded; a dataset stored with the same content (fingerprint and row count) is reused.

    ``changes`` replace fields of the description (a stored dataset is reused
    only when none are given).
    """
    described = describe(df, target)
    if changes:
        return tracker.track_dataset(replace(described, **changes))
    filters = {"experiment": tracker.experiment_name} if tracker.experiment_name else {}
    for stored in tracker.find("dataset", fingerprint=described.fingerprint, limit=5, **filters):
        if isinstance(stored, Dataset) and stored.row_count == described.row_count:
            return stored
    return tracker.track_dataset(described)


def describe(df: Any, target: str | None = None) -> Dataset:
    """``df`` described as a fit's training data is (statistics from a bounded sample); ``target`` if it is a column."""
    from mltrack_spark.data import describe_dataframe
    from mltrack_spark.fits import SAMPLED_ROWS

    return describe_dataframe(df, target=target if target in df.columns else None, sample_rows=SAMPLED_ROWS)


def derived_description(described: Dataset, **changes: Any) -> Dataset:
    """A description of derived data: not where its source was read from (its name and location are the source's)."""
    annotations = {key: value for key, value in described.annotations.items() if key not in _WHERE_READ}
    annotations.update(changes.pop("annotations", {}))
    return replace(described, location=None, annotations=annotations, **changes)


# ---------------------------------------------------------------- randomSplit parts


class SplitPart(NamedTuple):
    """A DataFrame that is part ``index`` of a ``randomSplit``."""

    split: Any  # mltrack_spark.splits.RandomSplit
    index: int


_parts: WeakLinks[SplitPart] = WeakLinks("randomSplit part")


def remember_split(split: Any, parts: Sequence[Any]) -> None:
    """``parts`` are the DataFrames ``split`` (a :class:`mltrack_spark.splits.RandomSplit`) made, in order."""
    for index, part in enumerate(parts):
        _parts.attach(part, SplitPart(split, index))


def split_of(df: Any) -> SplitPart | None:
    """The ``randomSplit`` that made ``df``, and which part it is."""
    return _parts.first(df)


# ---------------------------------------------------------------- transformers applied by hand


@dataclass(frozen=True)
class _Transformed:
    """How a DataFrame was made by transformers applied by hand, from its root (the first input)."""

    transforms: tuple[Transform, ...]  # every transform from the root, in order
    producers: dict[str, str]  # column -> id of the transform that produced it (last writer)
    root: weakref.ref | None
    root_dataset: Dataset | None  # the root's dataset, when it was linked at the time
    tracker: weakref.ref


_transformed: WeakLinks[_Transformed] = WeakLinks("transformed DataFrame")


def remember_transformed(
    output: Any, df: Any, transforms: Sequence[Transform], tracker: Tracker, removed: Sequence[str] = ()
) -> None:
    """``output`` is what ``transforms`` (recorded by ``tracker``), applied by hand in order, made of ``df``."""
    before = _transformed.first(df)
    if before is not None and before.tracker() is tracker:
        chain, producers = before.transforms, dict(before.producers)
        root, root_dataset = before.root, before.root_dataset
    else:
        chain, producers, root, root_dataset = (), {}, _ref(df), linked_dataset(tracker, df)
    for name in removed:
        producers.pop(name, None)
    for transform in transforms:
        for column in transform.output:
            producers[column.name] = transform.id
    link = _Transformed((*chain, *transforms), producers, root, root_dataset, weakref.ref(tracker))
    _transformed.attach(output, link)


def inherit_transformed(parts: Sequence[Any], df: Any) -> None:
    """``parts`` hold rows of ``df`` with its columns (a split): they were made by the same transformers."""
    link = _transformed.first(df)
    if link is not None:
        for part in parts:
            _transformed.attach(part, link)


def _transformed_link(df: Any, tracker: Tracker | None) -> _Transformed | None:
    link = _transformed.first(df)
    if link is None or (tracker is not None and link.tracker() is not tracker):
        return None
    return link


def upstream_transforms(df: Any, tracker: Tracker | None = None) -> tuple[Transform, ...]:
    """The Transforms applied by hand, in order, on the way to ``df`` (those ``tracker`` recorded, when given)."""
    link = _transformed_link(df, tracker)
    return link.transforms if link is not None else ()


def column_producers(df: Any, tracker: Tracker | None = None) -> dict[str, str]:
    """For the columns of ``df`` made by transformers applied by hand: the id of the Transform that made each."""
    link = _transformed_link(df, tracker)
    return dict(link.producers) if link is not None else {}


def _derived_dataset(tracker: Tracker, df: Any, target: str | None) -> Dataset | None:
    link = _transformed_link(df, tracker)
    if link is None:
        return None
    root = _alive(link.root)
    if link.root_dataset is not None:
        source = link.root_dataset
    elif root is not None:
        source = dataset_for(tracker, root, target)
    else:
        LOG.debug("the DataFrame the transformers were applied to was freed and never recorded: recorded as it is")
        return None
    operators = [transform.operator or transform.name for transform in link.transforms]
    ids = [transform.id for transform in link.transforms]
    described = describe(df, target)
    derivation = (
        f"{source.name} transformed by {', '.join(operators)} applied by hand (transform() outside a pipeline), "
        "in this order"
    )
    dataset = derived_description(
        described,
        name=f"{source.name} -> {' -> '.join(operators)}",
        derived_from=(source.id,),
        derivation=derivation,
        annotations={
            TRANSFORMS_ANNOTATION: ", ".join(ids),
            PRODUCERS_ANNOTATION: json.dumps(link.producers, sort_keys=True),
        },
    )
    return tracker.track_dataset(dataset)


# ---------------------------------------------------------------- fitted models


@dataclass
class _Fitted:
    model: Model
    dataset: Dataset | None


_models: WeakLinks[_Fitted] = WeakLinks("model")


def remember_model(fitted_model: Any, model: Model, dataset: Dataset | None = None) -> None:
    """The recorded fit of ``fitted_model`` (a Spark model) was recorded as ``model``, fitted on ``dataset``."""
    _models.attach(fitted_model, _Fitted(model, dataset))


def model_of(fitted_model: Any) -> Model | None:
    """The model recorded for ``fitted_model``'s fit, if known."""
    link = _models.first(fitted_model)
    return link.model if link is not None else None


def fitted_on(fitted_model: Any) -> Dataset | None:
    """The dataset ``fitted_model`` was fitted on, when its fit was recorded."""
    link = _models.first(fitted_model)
    return link.dataset if link is not None else None


# ---------------------------------------------------------------- predictions


class PredictionLink(NamedTuple):
    """What a predictions DataFrame is known to come from."""

    model: Model
    dataset: Dataset | None
    """The dataset predicted on, when it was recorded at the time (else ``data``'s, recorded when needed)."""
    data: Any
    """The DataFrame predicted on, or None when it was freed since."""
    fitted_elsewhere: tuple[FittedElsewhere, ...]
    """Stages fitted on a dataset of their own before (to tell whether they saw the evaluated rows)."""


class FittedElsewhere(NamedTuple):
    """A fitted stage that a prediction used, and the dataset its own fit was recorded on."""

    what: str
    """The stage: its class and, in a model, its path (``StringIndexerModel (stages[0])``)."""
    dataset: Dataset
    transform: str | None = None
    """The id of the Transform it was recorded as, when applied by hand."""


@dataclass(frozen=True)
class _Predicted:
    model: Model
    dataset: Dataset | None
    data: weakref.ref | None
    fitted_elsewhere: tuple[FittedElsewhere, ...] = field(default=())


_predictions: WeakLinks[_Predicted] = WeakLinks("prediction")


def remember_prediction(
    predictions_df: Any,
    model: Model,
    on_dataset: Dataset | None,
    data: Any = None,
    fitted_elsewhere: Sequence[FittedElsewhere] = (),
) -> None:
    """``predictions_df`` came out of ``model`` applied to ``data`` (recorded as ``on_dataset``, when known)."""
    _predictions.attach(predictions_df, _Predicted(model, on_dataset, _ref(data), tuple(fitted_elsewhere)))


def prediction_of(df: Any) -> PredictionLink | None:
    """The model and data ``df`` was predicted by and on, if known."""
    link = _predictions.first(df)
    if link is None:
        return None
    return PredictionLink(link.model, link.dataset, _alive(link.data), link.fitted_elsewhere)


def fitted_upstream(df: Any, tracker: Tracker | None = None) -> tuple[FittedElsewhere, ...]:
    """Fitted transformers applied by hand on the way to ``df`` whose own fit was recorded."""
    link = _transformed_link(df, tracker)
    if link is None:
        return ()
    found = []
    for transform in link.transforms:
        dataset_id = transform.annotations.get(FITTED_ON_ANNOTATION)
        dataset = _fitted_datasets.get(dataset_id) if dataset_id else None
        if dataset is not None:
            found.append(FittedElsewhere(transform.operator or transform.name, dataset, transform.id))
    return tuple(found)


FITTED_ON_ANNOTATION = "spark.fitted_on"
"""On the Transform of a fitted stage whose own fit was recorded: the id of the dataset it was fitted on."""
_fitted_datasets: dict[str, Dataset] = {}
_FITTED_DATASETS_KEPT = 256
_fitted_lock = threading.Lock()


def fitted_on_annotation(stage: Any) -> dict[str, str]:
    """The annotation naming the dataset ``stage`` was fitted on, when its fit was recorded (else empty)."""
    dataset = fitted_on(stage)
    if dataset is None:
        return {}
    with _fitted_lock:
        _fitted_datasets[dataset.id] = dataset
        while len(_fitted_datasets) > _FITTED_DATASETS_KEPT:
            del _fitted_datasets[next(iter(_fitted_datasets))]
    return {FITTED_ON_ANNOTATION: dataset.id}
