"""What framework plugins return from their extraction hooks."""

from __future__ import annotations

from dataclasses import dataclass, field

from mltrack_core.schema import Entity

__all__ = ["Extraction"]


@dataclass(frozen=True)
class Extraction:
    """An extracted entity and the entities it refers to.

    ``related`` entities (transforms, derived datasets, ...) are stored before
    ``primary``, in the given order and in the same transaction.
    ``failures`` name what could not be extracted; the tracker records them in
    the primary entity's annotations and warns, instead of failing.
    """

    primary: Entity
    related: tuple[Entity, ...] = ()
    failures: tuple[str, ...] = field(default=())
