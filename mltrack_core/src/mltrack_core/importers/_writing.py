"""Writing imported entities exactly as they are: shared by every importer.

Imported metadata already has its ids, creation times, creators and
environments; the tracker's defaults (the importing user, this machine's
environment) must not be added to it, and finished training runs must keep
their start and end times. So importers write with :meth:`Tracker.restore
<mltrack_core.tracker.Tracker.restore>`, which still enforces write-once ids
and existing references, writes everything (finished runs with their points)
in one transaction, so an import cut short by a crash leaves nothing and can be
run again, and tells the observers; this module adds the importer's
bookkeeping and a clear error for content that changed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mltrack_core.errors import ConflictError
from mltrack_core.schema import Entity, ScoreAtTime, TrainingRun

if TYPE_CHECKING:
    from mltrack_core.tracker import Tracker

__all__ = ["ImportSummary", "write_entities"]


@dataclass
class ImportSummary:
    """What an import did: entities newly written (by kind), entities already stored, and notes."""

    source: str
    written: Counter = field(default_factory=Counter)
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)
    written_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """How many entities were newly written."""
        return sum(self.written.values())

    def describe(self) -> str:
        """One line for people: what was written and what was already there."""
        parts = ", ".join(f"{count} {kind}" for kind, count in sorted(self.written.items()))
        text = f"imported {self.total} new entities from {self.source}"
        text += f" ({parts})" if parts else ""
        if self.unchanged:
            text += f"; {self.unchanged} were already stored unchanged"
        return text


def write_entities(
    tracker: Tracker,
    entities: Sequence[Entity],
    summary: ImportSummary,
    *,
    check: Callable[[Entity, Entity], None] | None = None,
) -> None:
    """Store ``entities`` as they are (re-writing identical content is a no-op) and tell the observers.

    Args:
        tracker: the tracker to write with.
        entities: what to store, in one transaction.
        summary: counts what was written and what was stored already.
        check: called with (new, stored) for every entity whose id is
            stored with other content, before anything is written, to raise a
            more helpful error than the store's generic conflict.

    Raises:
        ConflictError: an id is stored with other content (nothing is written).
        DanglingReferenceError: an entity names an id neither stored nor imported.
    """
    entities = list({entity.id: entity for entity in entities}.values())
    stored = tracker.get_many([entity.id for entity in entities])
    new: list[Entity] = []
    for entity in entities:
        before = stored.get(entity.id)
        if before is None:
            new.append(entity)
        elif _same(before, entity):
            summary.unchanged += 1
        else:
            if check is not None:
                check(entity, before)
            raise ConflictError(
                f"{entity.KIND} {entity.id!r} is already stored with different content; stored entities are "
                "write-once, so the import was stopped and nothing was written"
            )
    for entity in tracker.restore(new):
        summary.written[entity.KIND] += 1
        summary.written_ids.append(entity.id)


def _same(stored: Entity, imported: Entity) -> bool:
    if stored.content_hash() != imported.content_hash():
        return False
    if isinstance(stored, TrainingRun) and isinstance(imported, TrainingRun):
        return _same_points(stored.scores_over_time, imported.scores_over_time)
    return True


def _same_points(stored: Sequence[ScoreAtTime], imported: Sequence[ScoreAtTime]) -> bool:
    """Equal points, a NaN value equal to a NaN (runs log NaN losses; NaN never equals itself)."""
    if len(stored) != len(imported):
        return False
    return all(a == b or _both_nan_alike(a, b) for a, b in zip(stored, imported, strict=True))


def _both_nan_alike(a: ScoreAtTime, b: ScoreAtTime) -> bool:
    same_place = (a.metric, a.timestamp, a.epoch, a.step) == (b.metric, b.timestamp, b.epoch, b.step)
    return same_place and math.isnan(a.value) and math.isnan(b.value)
