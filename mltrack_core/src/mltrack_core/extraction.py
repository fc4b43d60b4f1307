"""What framework plugins return from their extraction hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mltrack_core.schema import Entity

__all__ = ["Extraction"]


@dataclass(frozen=True)
class Extraction:
    """An extracted entity and the entities it refers to.

    ``related`` entities are stored with ``primary`` in one transaction: the
    entities it names (transforms, derived datasets, ...) and entities that
    name it (an evaluation of the model made while fitting it, say); references
    may point anywhere within the write.
    ``failures`` name what could not be extracted; the tracker records them in
    the primary entity's annotations and warns, instead of failing.
    ``run_helpers`` (only for ``mltrack_extract_training``) builds, from the
    new :class:`~mltrack_core.live.LiveRun`, an object whose public attributes
    the live run offers as its own, e.g. MXNet's ``run.batch_callback()``. If
    that object has a ``fields_at_end()`` method, the run calls it when it ends
    and records the fields it returns (what was only learned while training,
    such as the optimizer's settings); fields given to ``finish`` win.
    """

    primary: Entity
    related: tuple[Entity, ...] = ()
    failures: tuple[str, ...] = field(default=())
    run_helpers: Callable[[Any], object] | None = None
