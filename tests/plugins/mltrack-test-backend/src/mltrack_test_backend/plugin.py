"""The hook implementations and the store of the ``jsonlog`` backend."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from mltrack_core.plugin import MemoryStore, Point, Record, StoreError, hookimpl


@hookimpl
def mltrack_open_store(uri: str) -> JsonLogStore:
    """A store logged to the file the URI names (``jsonlog:///absolute/path.jsonl``)."""
    path = uri.partition("://")[2]
    if not path.startswith("/"):
        raise StoreError(f"jsonlog URIs need an absolute path: jsonlog:///absolute/path.jsonl, not {uri!r}")
    return JsonLogStore(uri, Path(path))


class JsonLogStore(MemoryStore):
    """The memory store, with every successful write appended to a log file and replayed on open."""

    def __init__(self, uri: str, path: Path) -> None:
        super().__init__(uri)
        self.path = path
        self._log_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self._replay()

    def put(self, records: Sequence[Record], points: Sequence[Point] = ()) -> list[str]:
        with self._lock:
            written = super().put(records, points)
            new = set(written)
            self._append(
                "put",
                [_record_json(r) for r in records if r.id in new],
                points=[list(point) for point in points if point[0] in new],
            )
            return written

    def update_run(self, record: Record) -> None:
        with self._lock:
            super().update_run(record)
            self._append("update_run", [_record_json(record)])

    def append_points(self, points: Sequence[Point], batch_id: str | None = None) -> bool:
        with self._lock:
            applied = super().append_points(points, batch_id)
            if applied:  # the batch id is logged too: a retry after reopening is still a no-op
                self._append("append_points", [list(point) for point in points], batch=batch_id)
            return applied

    def _append(self, operation: str, payload: list, **extra: object) -> None:
        if not payload:
            return
        with self._log_lock, self.path.open("a") as log:
            log.write(json.dumps({"op": operation, "payload": payload, **extra}) + "\n")
            log.flush()
            os.fsync(log.fileno())

    def _replay(self) -> None:
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            try:
                entry = json.loads(line)
                if entry["op"] == "put":
                    points = [Point(*item) for item in entry.get("points", [])]
                    super().put([_record_from_json(item) for item in entry["payload"]], points)
                elif entry["op"] == "update_run":
                    super().update_run(_record_from_json(entry["payload"][0]))
                else:
                    super().append_points([Point(*item) for item in entry["payload"]], entry.get("batch"))
            except (ValueError, KeyError, TypeError) as exc:
                raise StoreError(f"{self.path} line {number} is not a jsonlog entry: {exc}") from exc


def _record_json(record: Record) -> dict:
    return {field: getattr(record, field) for field in Record.__slots__}


def _record_from_json(document: dict) -> Record:
    tuples = ("references", "labels", "scores")
    return Record(**{k: tuple(tuple(item) for item in v) if k in tuples else v for k, v in document.items()})
