"""Data splits under automatic tracking: the parts ``train_test_split`` and the splitters make, as derived datasets.

:func:`patch` (called by :func:`mltrack_sklearn.autolog.autolog`) replaces
``sklearn.model_selection.train_test_split`` (in the package and in
``sklearn.model_selection._split``) and the ``split`` method of every splitter
class of ``sklearn.model_selection._split`` that defines one (``KFold``,
``StratifiedKFold``, ``GroupKFold``, ``ShuffleSplit``, ``TimeSeriesSplit``,
``RepeatedKFold``, ...: patched on the class that defines it, so subclasses
follow). :func:`unpatch` puts the originals back.

What a top-level call records (a split inside a search or a cross-validation
is nested: the search records its own folds):

* ``train_test_split(X, y, ...)``: the source dataset (the first array is the
  data, the second its target; with one array there is no target), and the
  training and test parts as datasets ``derived_from`` it, with a
  ``derivation`` stating their sizes, the seed (``random_state``), shuffling
  and stratification, their row counts, statistics, and fingerprints of their
  actual content. A later ``fit(X_train, y_train)`` finds its part through an
  identity link to the returned objects, or (for a copy of the same rows) by
  that fingerprint. Further arrays (``groups``, weights) are split as asked and
  not recorded.
* ``splitter.split(X, y, groups)`` iterated by the program (``for train, test in
  KFold(5).split(X, y)``): the source dataset once, and each split's training
  and validation parts as they are produced, ``derived_from`` the source, with
  the splitter's ``repr`` in the derivation. The fit in the loop gets a new
  array (``X[train]``): each part's fingerprint is that of its actual content,
  computed as :func:`mltrack_sklearn.data.describe_data` computes it, so the
  fit's dataset is the part.

The fingerprints of each part's data alone and labels alone are kept in memory
too (:func:`mltrack_sklearn.links.remember_split_part`), so that predictions on
a copy of a part (``model.predict(X[test])``, freed before the metric call) are
traced to the part (see :mod:`mltrack_sklearn.scores`).

Cost of a fold part's fingerprints: one pass over the part's rows of ``X`` and
``y``, gathered in blocks of at most 16 MiB (about what the program's own
``X[train]`` costs, and no more memory than one block): O(rows × columns) per
split, far less than the fit the program makes on it. A ``train_test_split``
describes its source and parts once more (fingerprints, and statistics of
bounded samples). Sparse data gets no content fingerprint (scipy's row selection
rebuilds the index arrays): its fold parts have a fingerprint of the source's
and the row positions, and an annotation saying why.

Nothing changes what scikit-learn computes: the same function runs with the
same arguments and its result is returned as it is (the same objects, in the
same order); nothing is drawn from any random state; the generator a ``split``
returns is wrapped lazily and yields exactly what scikit-learn's yields.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import numbers
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import xxhash

from mltrack_core.plugin import Dataset, Patches, SchemaError, Tracker
from mltrack_sklearn import links
from mltrack_sklearn.autolog import current_tracker, inside_tracked_call, tracked_call
from mltrack_sklearn.data import _CHUNK_BYTES, _hash_block, describe_data, subset_fingerprint
from mltrack_sklearn.extract import record_data

__all__ = ["patch", "unpatch"]

LOG = logging.getLogger("mltrack.sklearn")


_patches = Patches()


def patch() -> None:
    """Record the parts of ``train_test_split`` and of splitters' ``split`` from now on (idempotent)."""
    with _patches.lock:
        if _patches.active:
            return
        # Called as soon as _split is imported (from autolog's import hook), while the package that imports it is
        # itself still being imported: it is in sys.modules but not yet an attribute of sklearn.
        _split = importlib.import_module("sklearn.model_selection._split")
        package = importlib.import_module("sklearn.model_selection")
        original = vars(_split)["train_test_split"]
        wrapper = _train_test_split_wrapper(original)
        _patches.install(_split, "train_test_split", wrapper, copied_to=(package.__name__,))
        if vars(package).get("train_test_split") is original:
            _patches.install(package, "train_test_split", wrapper)
        for cls in _splitter_classes(_split):
            _patches.install(cls, "split", _split_wrapper(vars(cls)["split"]))


def unpatch() -> None:
    """Restore scikit-learn's ``train_test_split`` and ``split`` methods."""
    with _patches.lock:
        _patches.restore()


def _splitter_classes(module: Any) -> list[type]:
    """The classes of ``module`` that define a ``split`` method themselves."""
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and value.__module__ == module.__name__
        and inspect.isfunction(vars(value).get("split"))
    ]


# ---------------------------------------------------------------- train_test_split


def _train_test_split_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def train_test_split(*arrays: Any, **options: Any) -> Any:
        if not _patches.active or inside_tracked_call():
            return original(*arrays, **options)
        with tracked_call() as top:
            parts = original(*arrays, **options)
            if top:
                _record_train_test_split(arrays, options, parts)
            return parts

    return train_test_split


def _record_train_test_split(arrays: tuple, options: dict[str, Any], parts: list[Any]) -> None:
    tracker = current_tracker()
    if tracker is None or not arrays or len(parts) < 2 * len(arrays):
        return
    with tracker.implicit("a train_test_split call"):
        X, y = arrays[0], (arrays[1] if len(arrays) > 1 else None)
        try:
            source = record_data(tracker, X, y)
            described = [describe_data(parts[index], parts[index + 2] if y is not None else None) for index in (0, 1)]
        except SchemaError as exc:
            LOG.debug("train_test_split: its parts are not recorded: %s", exc)
            return
        total = source.row_count or 0
        for index, (part, description) in enumerate(zip(("training", "test"), described, strict=True)):
            derivation = _train_test_derivation(part, description.row_count, total, options, y)
            dataset = _stored_part(tracker, source, description.fingerprint, derivation)
            if dataset is None:  # its statistics are computed off the caller's path, as a fit's data's are
                snapshot = description.snapshot()
                dataset = replace(
                    snapshot.dataset,
                    name=f"{source.name} train_test_split {part}",
                    derived_from=(source.id,),
                    derivation=derivation,
                    annotations={
                        **snapshot.dataset.annotations,
                        "sklearn.split": "train_test_split",
                        "sklearn.split_part": part,
                    },
                )
                snapshot = replace(snapshot, dataset=dataset)
                tracker.defer(f"the dataset {dataset.id}", lambda s=snapshot: tracker.track_dataset(s.complete()))
            data, labels = parts[index], (parts[index + 2] if y is not None else None)
            links.remember_dataset(data, labels, dataset, tracker)
            _remember_copies(data, labels, description, dataset)


def _remember_copies(data: Any, labels: Any, description: Any, dataset: Dataset) -> None:
    """Let predictions on a copy of a part's data (freed before the metric call) be traced to the part."""
    shape = links.shape_of(data)
    if shape is None or description.table.kind == "sparse":
        return
    try:
        features = describe_data(data).fingerprint if labels is not None else description.fingerprint
        target = describe_data(labels).fingerprint if labels is not None else None
    except SchemaError:
        return
    links.remember_split_part(links.SplitPart(shape, features, target, dataset))


def _train_test_derivation(part: str, rows: int, total: int, options: dict[str, Any], y: Any) -> str:
    details = [f"{name}={options[name]!r}" for name in ("test_size", "train_size") if options.get(name) is not None]
    if options.get("shuffle", True):
        details.append(f"shuffled with {_seed(options.get('random_state'))}")
    else:
        details.append(f"not shuffled: the {'first' if part == 'training' else 'last'} {rows} rows")
    details.append(_stratification(options.get("stratify"), y))
    return f"{part} part of train_test_split: {rows} of {total} rows ({', '.join(details)})"


def _seed(random_state: Any) -> str:
    if isinstance(random_state, numbers.Integral):
        return f"random_state={int(random_state)}"
    if random_state is None:
        return "random_state=None (a different split at each run)"
    return f"random_state={type(random_state).__name__} (its state at the call is not recorded)"


def _stratification(stratify: Any, y: Any) -> str:
    if stratify is None:
        return "not stratified"
    if stratify is y:
        return "stratified by the target"
    name = getattr(stratify, "name", None)
    return f"stratified by {name!r}" if isinstance(name, str) else "stratified by the labels given"


def _stored_part(tracker: Tracker, source: Dataset, fingerprint: str | None, derivation: str) -> Dataset | None:
    """The part recorded before with this content, source and derivation (a program run again)."""
    if fingerprint is None:
        return None
    for stored in tracker.find("dataset", fingerprint=fingerprint, derived_from=source, limit=5):
        if isinstance(stored, Dataset) and stored.derivation == derivation and stored.target == source.target:
            return stored
    return None


# ---------------------------------------------------------------- splitters


def _split_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def split(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _patches.active or inside_tracked_call():
            return original(self, *args, **kwargs)
        with tracked_call() as top:
            produced = original(self, *args, **kwargs)  # scikit-learn's validation runs now, as without mltrack
        if not top or not inspect.isgenerator(produced):
            return produced
        try:
            arguments = signature.bind(self, *args, **kwargs).arguments
        except TypeError:
            return produced
        recorder = _FoldRecorder(self, arguments.get("X"), arguments.get("y"), arguments.get("groups"))
        return _recorded_splits(produced, recorder)

    return split


def _recorded_splits(produced: Iterator[Any], recorder: _FoldRecorder) -> Iterator[Any]:
    """Yield what ``produced`` yields; record each split, when it is made at top level, before yielding it."""
    number = 0
    try:
        while True:
            with tracked_call() as top:
                try:
                    split = next(produced)
                except StopIteration:
                    return
                if top and _patches.active:
                    recorder.record(number, split)
            yield split
            number += 1
    finally:
        produced.close()
        recorder.close()


class _FoldRecorder:
    """Records the parts of the splits one ``split`` call makes, as they are made. Never raises."""

    def __init__(self, splitter: Any, X: Any, y: Any, groups: Any) -> None:
        self.splitter, self.X, self.y, self.groups = splitter, X, y, groups
        self.source: Dataset | None = None
        self.hasher: _RowsHasher | None = None
        self.count: int | None = None
        self.failed = X is None

    def close(self) -> None:
        self.X = self.y = self.groups = None  # the generator is done: the data is not kept alive

    def record(self, number: int, split: Any) -> None:
        if self.failed:
            return
        tracker = current_tracker()
        if tracker is None:
            return
        recorded = False
        with tracker.implicit(f"split {number + 1} made by {self.splitter!r} (and the splits after it)"):
            if self._begin(tracker):
                for part, rows in zip(("training", "validation"), split, strict=True):
                    self._record_part(tracker, number, part, np.asarray(rows))
                recorded = True
        self.failed = not recorded  # after a failure, one warning: the later splits are not recorded either

    def _begin(self, tracker: Tracker) -> bool:
        if self.source is not None:
            return True
        try:
            described = describe_data(self.X, self.y)
            target = describe_data(self.y) if self.y is not None else None
        except SchemaError as exc:
            LOG.debug("the splits of %r are not recorded: %s", self.splitter, exc)
            return False
        self.source = record_data(tracker, self.X, self.y, described=described)
        self.hasher = _RowsHasher.of(described, target)
        try:
            self.count = int(self.splitter.get_n_splits(self.X, self.y, self.groups))
        except Exception as exc:  # noqa: BLE001 (a splitter that cannot count: the parts say "split k")
            LOG.debug("%r cannot tell how many splits it makes: %s", self.splitter, exc)
        return True

    def _record_part(self, tracker: Tracker, number: int, part: str, rows: np.ndarray) -> None:
        source = self.source
        assert source is not None
        of = f" of {self.count}" if self.count is not None else ""
        derivation = (
            f"{part} part of split {number + 1}{of} made by {self.splitter!r}: "
            f"{len(rows)} of {source.row_count} rows{self._details()}"
        )
        annotations = {"sklearn.split": str(number), "sklearn.split_part": part}
        prints = self.hasher.fingerprints(rows) if self.hasher is not None else None
        if prints is None:
            fingerprint = subset_fingerprint(source, rows)
            annotations["mltrack.sklearn.content_fingerprint"] = (
                "not computed for sparse data: the fingerprint is the source's and the row positions'"
            )
        else:
            fingerprint = prints.whole
        dataset = _stored_part(tracker, source, fingerprint, derivation) or tracker.track_dataset(
            name=f"{source.name} split {number + 1}{'/' + str(self.count) if self.count else ''} {part}",
            derived_from=[source.id],
            derivation=derivation,
            fingerprint=fingerprint,
            schema=source.schema,
            target=source.target,
            row_count=len(rows),
            annotations=annotations,
        )
        if prints is not None:
            shape = (len(rows), *getattr(self.X, "shape", (0,))[1:])
            links.remember_split_part(links.SplitPart(shape, prints.features, prints.target, dataset))

    def _details(self) -> str:
        notes = []
        random_state = getattr(self.splitter, "random_state", None)
        shuffles = getattr(self.splitter, "shuffle", hasattr(self.splitter, "random_state"))
        if shuffles and not isinstance(random_state, numbers.Integral):
            notes.append(f"shuffled with {_seed(random_state)}")
        if "Stratified" in type(self.splitter).__name__:
            notes.append("stratified by the target")
        if self.groups is not None:
            notes.append("grouped by the groups given")
        return f" ({', '.join(notes)})" if notes else ""


# ---------------------------------------------------------------- content fingerprints of rows


class _Prints:
    """Content fingerprints of some rows, as ``describe_data`` computes them for the rows' own copy."""

    def __init__(self, whole: str, features: str, target: str | None) -> None:
        self.whole = whole  # the data with its target: the part's dataset fingerprint
        self.features = features  # the data alone: what a prediction on X[rows] is matched with
        self.target = target  # the target alone: what y_true of a metric call is matched with


class _RowsHasher:
    """Computes :class:`_Prints` of rows of the described data without copying more than one block of rows.

    ``describe_data`` digests a header (kind, row count, column names) and then
    each block of memory (its dtype, shape and bytes, or pandas' hashes of its
    values). Fed the selected rows block by block, the same digest gives the
    fingerprint of the rows' own copy (``X[rows]``, ``X.iloc[rows]``).
    """

    def __init__(self, described: Any, target: Any) -> None:
        self.table = described.table
        self.has_target = described.target is not None
        self.target_table = target.table if target is not None else None

    @classmethod
    def of(cls, described: Any, target: Any) -> _RowsHasher | None:
        tables = [described.table] + ([target.table] if target is not None else [])
        if any(table.kind == "sparse" for table in tables):
            return None
        return cls(described, target)

    def fingerprints(self, rows: np.ndarray) -> _Prints:
        table, count = self.table, len(rows)
        names = table.names
        feature_names = names[:-1] if self.has_target else names
        whole = _header(table.kind, count, names)
        features = _header(table.kind, count, feature_names) if self.has_target else whole
        feature_blocks = table.blocks[:-1] if self.has_target else table.blocks
        for block in feature_blocks:
            _feed([whole, features] if features is not whole else [whole], block, rows)
        target_print = None
        if self.has_target:
            _feed([whole], table.blocks[-1], rows)
            target_table = self.target_table
            assert target_table is not None
            digest = _header(target_table.kind, count, target_table.names)
            for block in target_table.blocks:
                _feed([digest], block, rows)
            target_print = f"xxh3-128:{digest.hexdigest()}"
        return _Prints(f"xxh3-128:{whole.hexdigest()}", f"xxh3-128:{features.hexdigest()}", target_print)


def _header(kind: str, rows: int, names: list[str]) -> Any:
    return xxhash.xxh3_128(f"{kind}\0{rows}\0{names}\0".encode())


def _feed(digests: list[Any], block: Any, rows: np.ndarray) -> None:
    shape = (len(rows), *block.shape[1:])
    header = f"{getattr(block, 'dtype', 'object')}\0{shape}\0".encode()
    for digest in digests:
        digest.update(header)
    dtype = getattr(block, "dtype", None)
    item = dtype.itemsize if isinstance(dtype, np.dtype) else 8
    per_block = max(1, _CHUNK_BYTES // max(1, item * int(np.prod(block.shape[1:]))))
    for start in range(0, len(rows), per_block):
        selected = rows[start : start + per_block]
        chunk = block.take(selected, axis=0) if isinstance(block, np.ndarray) else block.iloc[selected]
        for digest in digests:
            _hash_block(digest, chunk)
