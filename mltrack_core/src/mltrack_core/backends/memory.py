"""The ``memory://`` backend: a store in the process's memory, gone when it exits.

For tests, notebooks and trying things out. Each ``connect("memory://")``
opens a new, empty store.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from mltrack_core.errors import NotFoundError, StoreError
from mltrack_core.hookspecs import hookimpl
from mltrack_core.store import (
    Link,
    Point,
    Query,
    Record,
    StoredDocument,
    conflict_error,
    dangling_reference_error,
    ended_run_error,
)


@hookimpl
def mltrack_open_store(uri: str) -> MemoryStore:
    """A new, empty in-memory store (entry point ``memory``)."""
    return MemoryStore(uri)


class MemoryStore:
    """A :class:`~mltrack_core.store.Store` held in dictionaries behind one lock."""

    def __init__(self, uri: str = "memory://") -> None:
        self.uri = uri
        self._lock = threading.RLock()
        self._records: dict[str, Record] = {}
        self._order: dict[str, int] = {}  # insertion order: the tie-breaker of "newest first"
        self._incoming: dict[str, set[Link]] = defaultdict(set)
        self._points: dict[str, list[Point]] = defaultdict(list)
        self._closed = False

    def put(self, records: Sequence[Record]) -> list[str]:
        with self._lock:
            self._check_open()
            pending: dict[str, Record] = {}
            for record in records:
                existing = self._records.get(record.id) or pending.get(record.id)
                if existing is not None:
                    if existing.content_hash != record.content_hash:
                        raise conflict_error(record)
                    continue
                pending[record.id] = record
            for record in pending.values():
                self._check_references(record, pending)
            for record in pending.values():
                self._insert(record)
            return list(pending)

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

    def update_run(self, record: Record) -> None:
        with self._lock:
            self._check_open()
            stored = self._records.get(record.id)
            if stored is None or stored.kind != "run":
                raise NotFoundError(f"no training run {record.id!r} in {self.uri}")
            if stored.state != "TRAINING":
                raise ended_run_error(record.id, stored.state or "")
            self._check_references(record, {})
            self._remove_links(stored)
            self._insert(record)

    def append_points(self, points: Sequence[Point]) -> None:
        with self._lock:
            self._check_open()
            for run_id in {point[0] for point in points}:
                stored = self._records.get(run_id)
                if stored is None or stored.kind != "run":
                    raise NotFoundError(f"no training run {run_id!r} in {self.uri}")
                if stored.state != "TRAINING":
                    raise ended_run_error(run_id, stored.state or "")
            for point in points:
                self._points[point[0]].append(Point(*point))

    def points(self, run_id: str) -> list[Point]:
        with self._lock:
            self._check_open()
            return list(self._points.get(run_id, ()))

    def close(self) -> None:
        with self._lock:
            self._closed = True

    # ------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store {self.uri} was closed; connect again")

    def _check_references(self, record: Record, pending: dict[str, Record]) -> None:
        for relation, target, kind in record.references:
            found = self._records.get(target) or pending.get(target)
            if found is None or found.kind != kind:
                raise dangling_reference_error(record, relation, target, kind, found and found.kind)

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
        matches.sort(key=lambda record: (record.created, self._order[record.id]), reverse=True)
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
