"""The ``memory://`` backend: a store in the process's memory, gone when it exits.

For tests, notebooks and trying things out. Each ``connect("memory://")``
opens a new, empty store.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from mltrack_core.errors import StoreError
from mltrack_core.hookspecs import hookimpl
from mltrack_core.series import SeriesData, series_of_points, summaries_of_points
from mltrack_core.store import BaseStore, Link, Point, Query, Record, StoredDocument

_Result = TypeVar("_Result")


@hookimpl
def mltrack_open_store(uri: str) -> MemoryStore:
    """A new, empty in-memory store (entry point ``memory``)."""
    return MemoryStore(uri)


@dataclass(slots=True)
class _Changes:
    """The writes of one transaction of a memory store, applied to it when the transaction succeeds."""

    records: dict[str, Record] = field(default_factory=dict)  # new records and replacing ones
    points: list[Point] = field(default_factory=list)
    batch_id: str | None = None  # the batch of points this transaction claimed


class MemoryStore(BaseStore[_Changes]):
    """A :class:`~mltrack_core.store.Store` held in dictionaries behind one lock."""

    def __init__(self, uri: str = "memory://") -> None:
        self.uri = uri
        self._lock = threading.RLock()
        self._records: dict[str, Record] = {}
        self._order: dict[str, int] = {}  # insertion order: the tie-breaker of "newest first"
        self._incoming: dict[str, set[Link]] = defaultdict(set)
        self._points: dict[str, list[Point]] = defaultdict(list)
        self._batch_ids: set[str] = set()  # kept for the store's life: it holds every point anyway
        self._closed = False

    def get(self, ids: Sequence[str]) -> dict[str, StoredDocument]:
        with self._lock:
            self._check_open()
            return {
                id_: StoredDocument(record.kind, record.document)
                for id_ in ids
                if (record := self._records.get(id_)) is not None
            }

    def find(self, query: Query) -> list[str]:
        matches = self._matching(query)
        end = None if query.limit is None else query.offset + query.limit
        return [record.id for record in matches[query.offset : end]]

    def count(self, query: Query) -> int:
        return len(self._matching(query))

    def links(self, ids: Sequence[str], direction: Literal["out", "in"]) -> list[Link]:
        with self._lock:
            self._check_open()
            found: list[Link] = []
            for id_ in dict.fromkeys(ids):
                if direction == "out":
                    record = self._records.get(id_)
                    if record is not None:
                        found.extend(Link(id_, relation, target) for relation, target, _ in record.references)
                else:
                    found.extend(sorted(self._incoming.get(id_, ())))
            return found

    def scores(self, dataset_ids: Sequence[str], metric: str) -> list[tuple[str, float]]:
        with self._lock:
            self._check_open()
            found = []
            for dataset_id in dict.fromkeys(dataset_ids):
                for link in self._incoming.get(dataset_id, ()):
                    if link.relation != "on_dataset":
                        continue
                    record = self._records[link.source]
                    found.extend((record.id, value) for name, value in record.scores if name == metric)
            return found

    def points(self, run_id: str) -> list[Point]:
        with self._lock:
            self._check_open()
            return list(self._points.get(run_id, ()))

    def points_since(self, run_id: str, count: int) -> list[Point]:
        """The run's points after the first ``count``, in append order."""
        with self._lock:
            self._check_open()
            return self._points.get(run_id, [])[count:]

    def metric_series(
        self, run_id: str, metric: str, axis: str, start: int | None, end: int | None, max_points: int
    ) -> SeriesData:
        """The series of one metric (see :mod:`mltrack_core.series`)."""
        return series_of_points(self.points_since(run_id, 0), metric, axis, start, end, max_points)

    def metric_summaries(self, run_ids: Sequence[str], metrics: Sequence[str] | None) -> dict[str, dict]:
        """Per run with points, the :class:`~mltrack_core.series.MetricSummary` of each metric."""
        found = {}
        for run_id in dict.fromkeys(run_ids):
            summaries = summaries_of_points(self.points_since(run_id, 0), metrics)
            if summaries:
                found[run_id] = summaries
        return found

    def close(self) -> None:
        with self._lock:
            self._closed = True

    # ------------------------------------------------------------ the primitives of BaseStore

    def _in_transaction(self, action: Callable[[_Changes], _Result]) -> _Result:
        with self._lock:
            self._check_open()
            changes = _Changes()
            result = action(changes)
            self._apply(changes)
            return result

    def _insert_absent(self, changes: _Changes, records: list[Record]) -> dict[str, str]:
        taken = {}
        for record in records:
            stored = self._lookup(changes, record.id)
            if stored is None:
                changes.records[record.id] = record
            else:
                taken[record.id] = stored.content_hash
        return taken

    def _stored_kinds(self, changes: _Changes, ids: list[str]) -> dict[str, str]:
        return {id_: record.kind for id_ in ids if (record := self._lookup(changes, id_)) is not None}

    def _run_states(self, changes: _Changes, run_ids: list[str], *, exclusive: bool) -> dict[str, str]:
        # nothing to lock: self._lock keeps every other writer out
        runs = [record for run_id in run_ids if (record := self._lookup(changes, run_id)) is not None]
        return {run.id: run.state or "" for run in runs if run.kind == "run"}

    def _replace_run(self, changes: _Changes, record: Record) -> None:
        changes.records[record.id] = record

    def _insert_points(self, changes: _Changes, points: Sequence[Point]) -> None:
        changes.points.extend(points)

    def _claim_batch(self, changes: _Changes, batch_id: str, run_ids: list[str]) -> bool:
        # nothing to wait for: self._lock keeps every other writer out
        if batch_id in self._batch_ids:
            return False
        changes.batch_id = batch_id
        return True

    # ------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store {self.uri} was closed; connect again")

    def _lookup(self, changes: _Changes, id_: str) -> Record | None:
        """The record of ``id_`` as a transaction sees it: its own writes first."""
        return changes.records.get(id_) or self._records.get(id_)

    def _apply(self, changes: _Changes) -> None:
        for record in changes.records.values():
            replaced = self._records.get(record.id)
            if replaced is not None:
                self._remove_links(replaced)
            self._insert(record)
        for point in changes.points:
            self._points[point[0]].append(Point(*point))
        if changes.batch_id is not None:
            self._batch_ids.add(changes.batch_id)

    def _insert(self, record: Record) -> None:
        self._records[record.id] = record
        self._order.setdefault(record.id, len(self._order))
        for relation, target, _ in record.references:
            self._incoming[target].add(Link(record.id, relation, target))

    def _remove_links(self, record: Record) -> None:
        for relation, target, _ in record.references:
            self._incoming[target].discard(Link(record.id, relation, target))

    def _matching(self, query: Query) -> list[Record]:
        with self._lock:
            self._check_open()
            matches = [record for record in self._records.values() if _matches(record, query)]
        matches.sort(key=lambda record: (record.created, self._order[record.id]), reverse=True)  # newest first
        if query.order == "created":
            matches.reverse()
        elif query.order in ("name", "-name"):  # stable sorts: ties stay newest first, unnamed last
            named = [record for record in matches if record.name is not None]
            named.sort(key=lambda record: record.name, reverse=query.order == "-name")  # type: ignore[arg-type,return-value]
            matches = named + [record for record in matches if record.name is None]
        return matches


def _matches(record: Record, query: Query) -> bool:
    simple = (
        (query.kind, record.kind),
        (query.name, record.name),
        (query.experiment, record.experiment),
        (query.fingerprint, record.fingerprint),
        (query.state, record.state),
    )
    if any(wanted is not None and wanted != actual for wanted, actual in simple):
        return False
    if query.created_after is not None and record.created <= query.created_after:
        return False
    if query.created_before is not None and record.created >= query.created_before:
        return False
    links = {(relation, target) for relation, target, _ in record.references}
    if any(link not in links for link in query.links):
        return False
    return all(label in record.labels for label in query.labels)
