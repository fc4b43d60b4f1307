"""Reading the store a page at a time: shared by every exporter."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mltrack_core.schema import Entity
    from mltrack_core.tracker import Tracker

__all__ = ["PAGE", "read_entities", "stored_entities", "stored_ids"]

PAGE = 500
"""Ids per query and entities per read: large enough to be fast, small enough to keep memory flat."""


def stored_ids(tracker: Tracker, kind: str | None = None, **filters: Any) -> Iterator[list[str]]:
    """The ids of the stored entities matching the filters of :meth:`Tracker.find`, oldest first, a page at a time."""
    offset = 0
    while ids := tracker.find_ids(kind, order="created", limit=PAGE, offset=offset, **filters):
        yield ids
        offset += len(ids)


def read_entities(tracker: Tracker, ids: Sequence[str], *, with_scores: bool = False) -> Iterator[Entity]:
    """The stored entities among ``ids``, in their order, read a page at a time (unknown ids are left out)."""
    for start in range(0, len(ids), PAGE):
        page = ids[start : start + PAGE]
        found = tracker.get_many(page, with_scores=with_scores)
        yield from (found[id_] for id_ in page if id_ in found)


def stored_entities(
    tracker: Tracker, kinds: Iterable[str], *, with_scores: bool = False, **filters: Any
) -> Iterator[Entity]:
    """The stored entities of each of ``kinds`` in turn matching ``filters``, oldest first, a page at a time."""
    for kind in kinds:
        for ids in stored_ids(tracker, kind, **filters):
            yield from read_entities(tracker, ids, with_scores=with_scores)
