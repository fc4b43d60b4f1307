"""What the SQL backends (``sqlite://``, ``postgresql://``) share: query conditions and schema migrations.

Both keep the same tables (entities, links, labels, scores, points, and
batches: the ids of the batches of points applied, per run, forgotten when the
run ends) and the same schema versions; they differ in the driver's parameter
marker, in how text is written into filtered columns, in how labels are looked
up and in where the schema version is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from mltrack_core.errors import StoreVersionError
from mltrack_core.store import Query

__all__ = ["AnsweredPositions", "Dialect", "check_schema_version", "migrate"]

_Connection = TypeVar("_Connection")


@dataclass(frozen=True, slots=True)
class Dialect:
    """How a SQL backend spells the conditions of a :class:`~mltrack_core.store.Query`.

    Attributes:
        placeholder: The driver's parameter marker (``?`` for sqlite3, ``%s`` for psycopg).
        escape: How the store writes text into the name, experiment and fingerprint columns.
        label_condition: The condition "the entity has the label (scope, key, value)", with its parameters.
        written: The entities column that grows with each write (the tie-breaker of equal creation times).
        by_code_point: The collation clause that orders text by code point, as Python does (may be empty).
        kind_beside_links: How the kind column is named when the query also follows links. SQLite's planner
            would walk the (kind, created) index through every entity of the kind, newest first, looking for
            the linked ones (0.7 s for 50 of the models of one dataset among a million): ``+kind`` keeps it off
            that index, so it starts from the links.
    """

    placeholder: str
    escape: Callable[[str], str]
    label_condition: Callable[[str, str, str], tuple[str, tuple[object, ...]]]
    written: str = "rowid"
    by_code_point: str = ""
    kind_beside_links: str = "kind"

    def order_by(self, order: str) -> str:
        """The ``ORDER BY`` terms (without the keywords) of a :class:`~mltrack_core.store.Query` order.

        Args:
            order: One of :data:`mltrack_core.store.ORDERS` (validated by the query).

        Returns:
            The terms; names sort by code point with unnamed entities last, every order ends newest first.
        """
        newest_first = f"created DESC, {self.written} DESC"
        if order == "created":
            return f"created, {self.written}"
        if order in ("name", "-name"):
            direction = "DESC" if order == "-name" else "ASC"
            return f"name IS NULL, name{self.by_code_point} {direction}, {newest_first}"
        return newest_first

    def where(self, query: Query) -> tuple[str, list[object]]:
        """The condition (without ``WHERE``) on the entities table that ``query`` states, and its parameters.

        Args:
            query: The conditions; limit and offset are left to the caller.

        Returns:
            The condition (a true one when ``query`` states none) and its parameters, in order.
        """
        mark = self.placeholder
        clauses: list[str] = []
        parameters: list[object] = []
        for column, value, escaped in (
            (self.kind_beside_links if query.links else "kind", query.kind, False),
            ("name", query.name, True),
            ("experiment", query.experiment, True),
            ("fingerprint", query.fingerprint, True),
            ("state", query.state, False),
        ):
            if value is not None:
                clauses.append(f"{column} = {mark}")
                parameters.append(self.escape(value) if escaped else value)
        if query.created_after is not None:
            clauses.append(f"created > {mark}")
            parameters.append(query.created_after)
        if query.created_before is not None:
            clauses.append(f"created < {mark}")
            parameters.append(query.created_before)
        for relation, target in query.links:
            clauses.append(f"id IN (SELECT source FROM links WHERE target = {mark} AND relation = {mark})")
            parameters.extend((target, relation))
        for scope, key, value in query.labels:
            clause, label_parameters = self.label_condition(scope, key, value)
            clauses.append(clause)
            parameters.extend(label_parameters)
        return " AND ".join(clauses) or "1 = 1", parameters


class AnsweredPositions:
    """Where the last ``points_since`` answers of each run started and ended: (count of points, mark of the last).

    A live chart asks again and again with a growing count; a mark (SQLite's rowid, PostgreSQL's seq: both grow
    as points are appended) lets the next answer read only the points after it, not skip every earlier one.
    """

    REMEMBERED_RUNS = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_run: dict[str, tuple[tuple[int, int], ...]] = {}

    def nearest(self, run_id: str, count: int) -> tuple[int, int]:
        """The remembered (count, mark) of ``run_id`` closest below or at ``count``; (0, 0) when none is."""
        with self._lock:
            known = self._by_run.get(run_id, ())
        return max(((at, mark) for at, mark in known if at <= count), default=(0, 0))

    def remember(self, run_id: str, count: int, boundary: int, marks: Sequence[int]) -> None:
        """An answer for ``count`` started after ``boundary`` and held the points of ``marks``."""
        with self._lock:
            self._by_run[run_id] = ((count, boundary), (count + len(marks), marks[-1] if marks else boundary))
            if len(self._by_run) > self.REMEMBERED_RUNS:
                self._by_run.pop(next(iter(self._by_run)))


# ---------------------------------------------------------------- schema versions


def check_schema_version(store: object, version: int, latest: int) -> None:
    """Refuse a store that a newer mltrack made.

    Args:
        store: The store's path or URI, for the message.
        version: The store's schema version.
        latest: The newest schema version this release knows.

    Raises:
        StoreVersionError: ``version`` is above ``latest``.
    """
    if version > latest:
        raise StoreVersionError(
            f"the store {store} has schema version {version}, made by a newer mltrack than this one "
            f"(which reads up to version {latest}); upgrade mltrack-core"
        )


def migrate(
    connection: _Connection,
    migrations: Sequence[Callable[[_Connection], None]],
    version: int,
    record_version: Callable[[_Connection, int], None],
) -> int:
    """Bring a store from ``version`` to the newest version, unless it is there already.

    Run it in the transaction that keeps other processes from migrating at the
    same time, with ``version`` read in that transaction: another process may
    have migrated the store since it was first read.

    Args:
        connection: The connection of that transaction.
        migrations: ``migrations[n]`` brings a store from version n to n + 1.
        version: The store's schema version.
        record_version: Writes the new version into the store.

    Returns:
        The store's schema version now: ``len(migrations)``, or ``version`` when that is higher.
    """
    if version >= len(migrations):
        return version
    for step in migrations[version:]:
        step(connection)
    record_version(connection, len(migrations))
    return len(migrations)
