"""``DataFrame.randomSplit`` under automatic tracking: its parts as datasets derived from its source.

:func:`patch` (called by :func:`mltrack_spark.autolog.autolog` once ``pyspark.sql``
is imported) replaces ``randomSplit`` on ``pyspark.sql.DataFrame`` (and, in
PySpark 4, on ``pyspark.sql.classic.dataframe.DataFrame``, which defines its
own); :func:`unpatch` puts the originals back.

A top-level ``df.randomSplit(weights, seed)`` (not one inside a recorded fit)
returns Spark's own parts, unchanged, and records:

* the source: ``df``'s dataset (the one recorded for it already, or ``df``
  described: two aggregations). This runs on the tracker's background thread
  (:meth:`~mltrack_core.Tracker.defer`), off the program's path; the source
  DataFrame is referenced until then, and no longer;
* each part, as a dataset ``derived_from`` the source, named after it
  (``iris randomSplit part 1 of 2``), with its own row count, statistics and
  fingerprint, no location of its own (the file read is the source's), and a
  derivation such as ``70% part of randomSplit([0.7, 0.3], seed=42): 104 of
  150 rows``. A seed Spark drew itself (``seed=None``) is read back from the
  part's plan and stated as drawn: the split differs at each run.

Parts are described lazily, when one of them is first used by a recorded call
(a fit, an evaluation: :func:`mltrack_spark.links.dataset_for`), all of that
split's parts at once, with the label column of that first use as their target.
The description of the part a fit trains on is the one that fit records anyway
(two aggregations, run beside the fit), so the only added Spark work is the
description of the source and of the other parts; a split whose parts are never
used by a recorded call records only its source. A part freed before that is
not recorded.
"""

from __future__ import annotations

import functools
import importlib
import logging
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import Dataset, Patches
from mltrack_spark import links
from mltrack_spark.autolog import current_tracker, inside_tracked_call, tracked_call

if TYPE_CHECKING:
    from mltrack_core.plugin import Tracker

__all__ = ["RandomSplit", "patch", "unpatch"]

LOG = logging.getLogger("mltrack.spark")

_DATAFRAME_CLASSES = (("pyspark.sql.dataframe", "DataFrame"), ("pyspark.sql.classic.dataframe", "DataFrame"))
_patches = Patches()


def patch() -> None:
    """Record the parts of ``randomSplit`` from now on (idempotent)."""
    with _patches.lock:
        if _patches.active:
            return
        for module_name, class_name in _DATAFRAME_CLASSES:
            try:
                cls = getattr(importlib.import_module(module_name), class_name)
            except ImportError:  # PySpark 3.5 has no classic DataFrame
                continue
            original = vars(cls).get("randomSplit")
            if callable(original):
                _patches.install(cls, "randomSplit", _random_split_wrapper(original))


def unpatch() -> None:
    """Restore ``randomSplit``."""
    with _patches.lock:
        _patches.restore()


def _random_split_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def randomSplit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _patches.active or inside_tracked_call():
            return original(self, *args, **kwargs)
        with tracked_call() as top:
            parts = original(self, *args, **kwargs)
            if top:
                _record(self, args, kwargs, parts)
            return parts

    return randomSplit


def _record(df: Any, args: tuple, kwargs: dict[str, Any], parts: Any) -> None:
    tracker = current_tracker()
    if tracker is None or not isinstance(parts, list) or not parts:
        return
    with tracker.implicit("the parts of a randomSplit"):
        weights = kwargs.get("weights", args[0] if args else None)
        seed = kwargs.get("seed", args[1] if len(args) > 1 else None)
        split = RandomSplit(tracker, df, [float(weight) for weight in weights], seed, parts)
        links.remember_split(split, parts)
        links.inherit_transformed(parts, df)  # a fit on a part starts its DAG with the transformers applied to df
        tracker.defer("the source of a randomSplit", lambda: split.source_dataset(tracker))  # off the program's path


class RandomSplit:
    """One ``randomSplit`` call: its source (until recorded), its parts (weakly) and, once recorded, their datasets.

    Its datasets are recorded on the tracker's background thread only (through
    :func:`mltrack_spark.links.dataset_for`), one call after the other: no lock.
    """

    def __init__(self, tracker: Tracker, source: Any, weights: list[float], seed: Any, parts: Sequence[Any]) -> None:
        self.tracker = weakref.ref(tracker)
        self.weights = weights
        self.seed = seed
        self.drawn_seed = _drawn_seed(parts[0]) if seed is None else None
        self._source_df = source  # referenced until its dataset is recorded, then dropped
        self._source: Dataset | None = None
        self._parts = [weakref.ref(part) for part in parts]
        self._datasets: list[Dataset | None] | None = None

    def source_dataset(self, tracker: Tracker) -> Dataset | None:
        """The source's dataset, recorded now when it is not yet (None when that failed before)."""
        if self._source is None and self._source_df is not None:
            source, self._source_df = self._source_df, None
            self._source = links.dataset_for(tracker, source)
        return self._source

    def dataset_of_part(self, tracker: Tracker, index: int, target: str | None) -> Dataset:
        """The dataset of part ``index``; the first call records every part still alive."""
        if self._datasets is None:
            source = self.source_dataset(tracker)
            datasets: list[Dataset | None] = []
            for number, ref in enumerate(self._parts):
                part = ref()
                datasets.append(None if part is None else self._record_part(tracker, source, number, part, target))
            self._datasets = datasets
        found = self._datasets[index]
        if found is None:  # cannot happen for the part asked for (it is alive): recorded as it is
            found = links.recorded_dataset(tracker, self._parts[index](), target)
        return found

    def derivation(self, index: int, rows: int | None, total: int | None) -> str:
        """``70% part of randomSplit([0.7, 0.3], seed=42): 104 of 150 rows``."""
        fraction = self.weights[index] / sum(self.weights) if sum(self.weights) > 0 else 0.0
        weights = ", ".join(f"{weight:g}" for weight in self.weights)
        if self.seed is not None:
            seed = f"seed={self.seed!r}"
        elif self.drawn_seed is not None:
            seed = f"seed=None: Spark drew seed {self.drawn_seed}, a different split at each run"
        else:
            seed = "seed=None: a different split at each run"
        counted = f": {rows} of {total} rows" if rows is not None and total is not None else ""
        return f"{fraction * 100:.4g}% part of randomSplit([{weights}], {seed}){counted}"

    def _record_part(
        self, tracker: Tracker, source: Dataset | None, index: int, part: Any, target: str | None
    ) -> Dataset:
        described = links.describe(part, target)
        total = source.row_count if source is not None else None
        derivation = self.derivation(index, described.row_count, total)
        annotations = {"spark.split": "randomSplit", "spark.split_part": str(index)}
        if source is None:  # the source could not be recorded: the part is, on its own
            return tracker.track_dataset(links.derived_description(described, derivation=derivation))
        stored = _stored_part(tracker, source, described, derivation)
        if stored is not None:
            return stored
        dataset = links.derived_description(
            described,
            name=f"{source.name} randomSplit part {index + 1} of {len(self._parts)}",
            derived_from=(source.id,),
            derivation=derivation,
            annotations=annotations,
        )
        return tracker.track_dataset(dataset)


def _stored_part(tracker: Tracker, source: Dataset, described: Dataset, derivation: str) -> Dataset | None:
    """The part recorded before with this content, source and derivation (the program run again)."""
    if described.fingerprint is None:
        return None
    for stored in tracker.find("dataset", fingerprint=described.fingerprint, derived_from=source, limit=5):
        if isinstance(stored, Dataset) and stored.derivation == derivation and stored.target == described.target:
            return stored
    return None


def _drawn_seed(part: Any) -> int | None:
    """The seed Spark drew for a ``randomSplit`` without one, read from a part's logical plan (None if unreadable)."""
    try:
        seed = part._jdf.queryExecution().logical().seed()  # a Sample node; an Option[Long] from Spark 4 on
        if not isinstance(seed, int):
            seed = seed.get() if seed.isDefined() else None
        return int(seed) if seed is not None else None
    except Exception:  # noqa: BLE001 - Spark Connect, or a plan of another shape: the seed is just not stated
        return None
