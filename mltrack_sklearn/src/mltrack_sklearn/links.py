"""Identity links from the user's objects to what was recorded about them, without keeping the objects alive.

Automatic tracking needs to know, cheaply, that ``X_train`` is the training part
a ``train_test_split`` recorded, that ``clf`` is the estimator whose fit was
recorded as a model, and that ``y_pred`` came out of ``clf.predict(X_test)``.
Each link is a weak reference to the object (plus the recorded entity): a link
never keeps user data alive and never copies it, and a link of an object that
was freed is never mistaken for a new object that got the same ``id``.

Objects that cannot be weakly referenced (lists, tuples, ints) get no link; the
reason goes to the ``mltrack.sklearn`` logger at DEBUG level, and callers fall
back to fingerprints (:func:`mltrack_sklearn.extract.record_data`) or record
nothing.

A dataset link also keeps a small sample signature of the data (its shape, its
dtype and a digest of at most 8×8 evenly spaced cells), checked when the link is
read: data modified in place after it was recorded (``X_train /= 16``, a column
added to a DataFrame) is no longer taken for the recorded dataset. A change to a
few cells outside the sample can go unnoticed.

Every function is thread-safe, O(1) in the size of the data, and cheap: the
prediction links are made on every top-level ``predict`` call.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import xxhash

from mltrack_core.plugin import Dataset, Model, Tracker, WeakLinks

__all__ = [
    "PredictionLink",
    "SplitPart",
    "dataset_of",
    "datasets_of",
    "fitted_datasets",
    "has_split_parts_shaped",
    "model_of",
    "prediction_of",
    "remember_dataset",
    "remember_features",
    "remember_model",
    "remember_prediction",
    "remember_split_part",
    "shape_of",
    "split_parts_with_features",
]

LOG = logging.getLogger("mltrack.sklearn")

_SAMPLE = 8
"""Rows (and columns) of the sample a dataset link's signature is computed from."""
_FEATURES_KEPT = 256
_SPLIT_PARTS_KEPT = 4096

# ---------------------------------------------------------------- datasets


@dataclass(frozen=True)
class _DatasetLink:
    target: Any  # None, a column name, or a weak reference to the labels
    data_signature: tuple[Any, ...]
    target_signature: tuple[Any, ...] | None
    dataset: Dataset
    tracker: weakref.ref | None  # the tracker that stored the dataset, when known

    def is_for(self, target: Any) -> bool:
        if target is None or isinstance(target, str):
            return self.target == target if not isinstance(self.target, weakref.ref) else False
        return isinstance(self.target, weakref.ref) and self.target() is target


_datasets: WeakLinks[_DatasetLink] = WeakLinks("dataset", per_object=8)


def remember_dataset(data: Any, target: Any, dataset: Dataset, tracker: Tracker | None = None) -> None:
    """``data`` (with ``target``: labels, a column name or None) was recorded as ``dataset`` (by ``tracker``)."""
    if any(link.is_for(target) and link.dataset.id == dataset.id for link in _datasets.values(data)):
        return  # linked already (record_data links what it records, and the fit recorder says it again)
    if isinstance(target, str) or target is None:
        target_ref, target_signature = target, None
    else:
        try:
            target_ref = weakref.ref(target)
        except TypeError:
            LOG.debug("no dataset link for this data: its target, a %s, cannot be weakly referenced",
                      type(target).__name__)  # fmt: skip
            return
        target_signature = signature(target)
    tracker_ref = weakref.ref(tracker) if tracker is not None else None
    link = _DatasetLink(target_ref, signature(data), target_signature, dataset, tracker_ref)
    _datasets.attach(data, link, replaces=lambda old: old.is_for(target))


def dataset_of(data: Any, target: Any = None, tracker: Tracker | None = None) -> Dataset | None:
    """The dataset ``data`` with ``target`` (None: without a target) was recorded as, if known.

    Args:
        data: the user's data (``X``).
        target: the labels given with it (the very object), a column name, or None.
        tracker: when given, only a dataset this tracker recorded (or stores), in its current experiment.
    """
    links = [link for link in _datasets.values(data) if link.is_for(target)]
    if not links:
        return None
    found = _unchanged(data, target, links)
    if found is None:
        return None
    if tracker is not None:
        if tracker.experiment_name is not None and found.dataset.experiment != tracker.experiment_name:
            return None
        recorded_by = found.tracker() if found.tracker is not None else None
        # Asking the store is a read (it waits for deferred writes): only when the recording tracker is unknown.
        if recorded_by is not tracker and not _stored_in(tracker, found.dataset):
            return None
    return found.dataset


def datasets_of(data: Any) -> list[Dataset]:
    """Every dataset ``data`` was recorded in, with whatever target (newest first)."""
    links = _datasets.values(data)
    if not links:
        return []
    current = signature(data)
    return [link.dataset for link in links if link.data_signature == current]


def _unchanged(data: Any, target: Any, links: list[_DatasetLink]) -> _DatasetLink | None:
    link = links[0]
    if link.data_signature != signature(data):
        LOG.debug("the data recorded as dataset %s was modified since: not linked to it", link.dataset.id)
        return None
    if link.target_signature is not None and link.target_signature != signature(target):
        LOG.debug("the target recorded in dataset %s was modified since: not linked to it", link.dataset.id)
        return None
    return link


def _stored_in(tracker: Tracker, entity: Any) -> bool:
    return entity.id in tracker.get_many([entity.id])


# ---------------------------------------------------------------- models


_models: WeakLinks[Model] = WeakLinks("model", per_object=1)


def remember_model(estimator: Any, model: Model | None) -> None:
    """The fitted ``estimator`` was recorded as ``model`` (None: forget what it was recorded as)."""
    if model is None:
        _models.detach(estimator)
    else:
        _models.attach(estimator, model)


def model_of(estimator: Any, tracker: Tracker | None = None) -> Model | None:
    """The model ``estimator``'s last recorded fit made (only one ``tracker`` stores, when given)."""
    found = _models.values(estimator)
    if not found or (tracker is not None and not _stored_in(tracker, found[0])):
        return None
    return found[0]


# ---------------------------------------------------------------- predictions


class SplitPart(NamedTuple):
    """A part of a split whose content fingerprints are known: to recognise a copy of its rows."""

    shape: tuple[int, ...]
    features: str
    """The fingerprint of the part's data alone, as :func:`mltrack_sklearn.data.describe_data` computes it."""
    target: str | None
    """The fingerprint of the part's labels alone (None without labels)."""
    dataset: Dataset


class PredictionLink(NamedTuple):
    """What a prediction output is known to come from."""

    model: Model
    data: Any
    """The data (``X``) predicted on, or None when it was freed since."""
    split_parts: tuple[SplitPart, ...]
    """Parts of splits whose data has the content of ``data`` (to find its dataset once ``data`` is freed)."""


@dataclass(frozen=True)
class _PredictionRecord:
    model: Model
    data: weakref.ref | None
    split_parts: tuple[SplitPart, ...]
    output: weakref.ref | None = None  # set on the record attached to the memory's owner of a view


_predictions: WeakLinks[_PredictionRecord] = WeakLinks("prediction", per_object=1)
_prediction_owners: WeakLinks[_PredictionRecord] = WeakLinks("prediction", per_object=1)


def remember_prediction(output: Any, model: Model, data: Any, split_parts: Iterable[SplitPart] = ()) -> None:
    """``output`` was predicted by ``model`` on ``data`` (a weak link to ``data`` too: never kept alive)."""
    try:
        data_ref = weakref.ref(data)
    except TypeError:
        LOG.debug("the %s predicted on cannot be weakly referenced: its predictions are linked to the model only",
                  type(data).__name__)  # fmt: skip
        data_ref = None
    record = _PredictionRecord(model, data_ref, tuple(split_parts))
    if not _predictions.attach(output, record):
        return
    owner = getattr(output, "base", None)
    if isinstance(output, np.ndarray) and isinstance(owner, np.ndarray):
        # A view (predict_proba's ``stack(...).T``): a view of it, such as proba[:, 1], has the owner as its base.
        _prediction_owners.attach(owner, _PredictionRecord(model, data_ref, record.split_parts, weakref.ref(output)))


def prediction_of(output: Any) -> PredictionLink | None:
    """The model and data ``output`` was predicted by and on, if known.

    A numpy view of linked predictions with the same rows (``proba[:, 1]``,
    ``y_pred.ravel()``) is linked too.
    """
    found = _predictions.values(output)
    if not found:
        found = _view_of_predictions(output)
    if not found:
        return None
    record = found[0]
    data = record.data() if record.data is not None else None
    return PredictionLink(record.model, data, record.split_parts)


def _view_of_predictions(view: Any) -> list[_PredictionRecord]:
    owner = getattr(view, "base", None)
    if not isinstance(view, np.ndarray) or not isinstance(owner, np.ndarray) or view.ndim == 0:
        return []
    candidates = [(record, owner) for record in _predictions.values(owner)]
    candidates += [(record, record.output()) for record in _prediction_owners.values(owner) if record.output]
    return [
        record
        for record, predicted in candidates
        if predicted is not None
        and predicted.ndim >= 1
        and predicted.shape[0] == view.shape[0]
        and np.may_share_memory(predicted, view)
    ]


# ---------------------------------------------------------------- features and parts of splits


_lock = threading.Lock()
_features: collections.OrderedDict[str, frozenset[str]] = collections.OrderedDict()
_split_parts: collections.OrderedDict[tuple[str, str], SplitPart] = collections.OrderedDict()
_split_shapes: collections.Counter[tuple[int, ...]] = collections.Counter()


def remember_features(fingerprint: str, dataset_ids: Iterable[str]) -> None:
    """Data with content ``fingerprint`` (without a target) was recorded, with a target, as these datasets."""
    ids = frozenset(dataset_ids)
    if not ids:
        return
    with _lock:
        _features[fingerprint] = ids | _features.get(fingerprint, frozenset())
        _features.move_to_end(fingerprint)
        while len(_features) > _FEATURES_KEPT:
            _features.popitem(last=False)


def fitted_datasets(fingerprint: str) -> frozenset[str]:
    """The ids of the datasets (with a target) that data with content ``fingerprint`` was recorded in."""
    return _features.get(fingerprint, frozenset())


def remember_split_part(part: SplitPart) -> None:
    """A split made ``part``: predictions on a copy of its rows (``X[test]``) can be traced to it."""
    key = (part.features, part.dataset.id)
    with _lock:
        if key not in _split_parts:
            _split_shapes[part.shape] += 1
        _split_parts[key] = part
        _split_parts.move_to_end(key)
        while len(_split_parts) > _SPLIT_PARTS_KEPT:
            _, dropped = _split_parts.popitem(last=False)
            _split_shapes[dropped.shape] -= 1
            if not _split_shapes[dropped.shape]:
                del _split_shapes[dropped.shape]


def shape_of(data: Any) -> tuple[int, ...] | None:
    """The shape of an array or a frame, the length of a list (of texts); None for anything else."""
    shape = getattr(data, "shape", None)
    if isinstance(shape, tuple):
        return shape
    return (len(data),) if isinstance(data, (list, tuple)) else None


def has_split_parts_shaped(shape: tuple[int, ...] | None) -> bool:
    """Whether a remembered part of a split has this shape (O(1): tells when fingerprinting data may find one)."""
    return shape is not None and shape in _split_shapes


def split_parts_with_features(fingerprint: str) -> tuple[SplitPart, ...]:
    """The remembered parts of splits whose data has content ``fingerprint``."""
    with _lock:
        return tuple(part for (features, _), part in _split_parts.items() if features == fingerprint)


# ---------------------------------------------------------------- signatures


def signature(obj: Any) -> tuple[Any, ...]:
    """A cheap signature of ``obj``'s content: type, shape, dtype and a digest of a small sample of cells.

    O(1) in the size of the data: at most 8 evenly spaced rows of at most 8
    evenly spaced columns (4 of a DataFrame) are read.
    """
    shape = getattr(obj, "shape", None)
    kind = type(obj)
    try:
        if isinstance(obj, np.ndarray):
            return kind, shape, obj.dtype.str, _array_digest(obj)
        pandas = sys.modules.get("pandas")
        if pandas is not None and isinstance(obj, pandas.Series):
            return kind, shape, str(obj.dtype), _column_digest(obj)
        if pandas is not None and isinstance(obj, pandas.DataFrame):
            names = obj.columns.tolist()
            named = tuple(names) if len(names) <= 256 else (*names[:128], *names[-128:])
            unique = obj.columns.is_unique  # then a column by its label: cheaper than iloc
            columns = tuple(
                _column_digest(obj[names[index]] if unique else obj.iloc[:, index])
                for index in _evenly_spaced(len(names), 4)
            )
            return kind, shape, hash(named), columns
        if hasattr(obj, "nnz") and isinstance(getattr(obj, "data", None), np.ndarray):  # scipy sparse
            return kind, shape, obj.nnz, _array_digest(obj.data)
    except Exception as exc:  # noqa: BLE001 (exotic data: the shape alone is the signature)
        LOG.debug("no content sample of a %s: %s: %s", kind.__name__, type(exc).__name__, exc)
    return kind, shape


def _evenly_spaced(count: int, most: int = _SAMPLE) -> np.ndarray:
    return np.arange(0, count, max(1, -(-count // most)), dtype=np.intp)


def _array_digest(array: np.ndarray) -> int:
    if array.ndim == 0 or array.size == 0:
        return xxhash.xxh3_64_intdigest(array.tobytes())
    rows = _evenly_spaced(array.shape[0])
    if array.ndim == 1:
        sample = array[rows]
    elif array.ndim == 2:
        sample = array[np.ix_(rows, _evenly_spaced(array.shape[1]))]
    else:
        flat = array[rows].reshape(len(rows), -1)
        sample = flat[:, _evenly_spaced(flat.shape[1])]
    return xxhash.xxh3_64_intdigest(np.ascontiguousarray(sample).tobytes())  # object arrays: the items' identities


def _column_digest(column: Any) -> int:
    """A pandas column: its numpy values sampled, or (extension types) the text of a sample of its values."""
    values = column.array
    if isinstance(values.dtype, np.dtype):
        return _array_digest(np.asarray(values))
    sample = values.take(_evenly_spaced(len(values))).tolist()
    return xxhash.xxh3_64_intdigest(repr(sample).encode())
