"""What the SQL backends (``sqlite://``, ``postgresql://``) share: query conditions and schema migrations.

Both keep the same tables (entities, links, labels, scores, points, and
batches: the ids of the batches of points applied, per run, forgotten when the
run ends) and the same schema versions; they differ in the driver's parameter
marker, in how text is written into filtered columns, in how labels are looked
up and in where the schema version is kept.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mltrack_core.errors import StoreVersionError
from mltrack_core.schema import entity_from_json
from mltrack_core.store import Query, RankedScore, RankingGroup, RankingRow, Record, ranked_scores

__all__ = [
    "AnsweredPositions",
    "Dialect",
    "RankingReads",
    "add_ranking",
    "check_schema_version",
    "insert_ranked",
    "migrate",
    "ranked_rows_of",
]

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
        unescape: Reverses ``escape``.
        digest: The SQL function that shortens the text keys of the ranking index (empty: kept whole).
            PostgreSQL's B-tree entries have a size limit that a long procedure name would pass.
    """

    placeholder: str
    escape: Callable[[str], str]
    label_condition: Callable[[str, str, str], tuple[str, tuple[object, ...]]]
    written: str = "rowid"
    by_code_point: str = ""
    kind_beside_links: str = "kind"
    unescape: Callable[[str], str] = str
    digest: str = ""

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


# ---------------------------------------------------------------- leaderboards


DATA_KEY = "CASE WHEN fingerprint IS NULL THEN 'id:' || id ELSE 'fingerprint:' || fingerprint END"
"""The data a dataset's row holds, as the ranking tables key it: datasets with one fingerprint hold the same data."""

NO_LIMIT = 2**62

_GROUP = "data, metric_key, procedure_key, dataset_id, ranked, direction"
"""The key of ``ranking_counts``: the scores a leaderboard counts, keeps or leaves out together."""


def add_ranking(connection: Any, dialect: Dialect, index: str) -> None:
    """The ranking tables, backfilled from the stored evaluations.

    ``ranking`` has one row per score of every evaluation; ``index`` is the backend's spelling of its index,
    keyed by the data (the dataset's fingerprint, else its id), the metric and the procedure and ordered by
    value, so that a page of a leaderboard reads only that page of it, however many evaluations the data
    has. ``ranking_counts`` counts those rows by dataset, procedure, rankability and stated direction (a few
    rows per leaderboard), so that choosing the procedure and counting what is left out read no score.
    The text keys are digests where ``dialect.digest`` says so.
    """
    connection.execute(
        """CREATE TABLE ranking (
            evaluation_id TEXT NOT NULL,
            data TEXT NOT NULL,
            dataset_id TEXT NOT NULL,
            metric_key TEXT NOT NULL,
            procedure_key TEXT NOT NULL,
            value DOUBLE PRECISION,
            shown TEXT,
            stated BOOLEAN,
            created BIGINT NOT NULL,
            model_id TEXT NOT NULL
        )"""
    )
    connection.execute(index)
    connection.execute(
        f"""CREATE TABLE ranking_counts (
            data TEXT NOT NULL,
            metric_key TEXT NOT NULL,
            metric TEXT NOT NULL,
            procedure_key TEXT NOT NULL,
            procedure TEXT,
            dataset_id TEXT NOT NULL,
            ranked BOOLEAN NOT NULL,
            direction SMALLINT NOT NULL,
            count BIGINT NOT NULL,
            PRIMARY KEY ({_GROUP})
        )"""
    )
    ids = [row[0] for row in connection.execute("SELECT id FROM entities WHERE kind = 'evaluation'").fetchall()]
    mark = dialect.placeholder
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        rows = connection.execute(
            f"SELECT created, document FROM entities WHERE id IN ({', '.join([mark] * len(chunk))})", chunk
        ).fetchall()
        evaluations = [(created, entity_from_json(json.loads(document))) for created, document in rows]
        insert_ranked(
            connection.cursor(),
            dialect,
            [(e.id, created, score) for created, e in evaluations for score in ranked_scores(e)],  # type: ignore[arg-type]
        )


def ranked_rows_of(records: Sequence[Record]) -> list[tuple[str, int, RankedScore]]:
    """(evaluation id, creation time, score) of every score of the evaluations among ``records``."""
    return [(record.id, record.created, score) for record in records for score in record.ranked]


def insert_ranked(cursor: Any, dialect: Dialect, scores: Sequence[tuple[str, int, RankedScore]]) -> None:
    """Add newly stored evaluations' scores to the ranking tables: (evaluation id, creation time, score) triples.

    ``cursor`` is anything with ``executemany`` (a psycopg cursor, an sqlite3 connection).

    The dataset of each must be stored already: its row gives the data key. The counts are added in the
    order of their key, so that concurrent writers lock them in one order.
    """
    if not scores:
        return
    mark, digest, escape = dialect.placeholder, dialect.digest, dialect.escape
    rows, counts = [], Counter()
    for evaluation_id, created, score in scores:
        metric, procedure = escape(score.metric), None if score.procedure is None else escape(score.procedure)
        direction = -1 if score.stated is None else int(score.stated)
        rows.append((evaluation_id, metric, procedure or "", *score[1:4], created, score.model, score.dataset))
        counts[(score.dataset, metric, procedure or "", score.value is not None, direction, procedure)] += 1
    cursor.executemany(
        "INSERT INTO ranking (evaluation_id, metric_key, procedure_key, value, shown, stated, created, model_id, "
        f"data, dataset_id) SELECT {mark}, {digest}({mark}), {digest}({mark}), {', '.join([mark] * 5)}, "
        f"{digest}({DATA_KEY}), id FROM entities WHERE id = {mark}",
        rows,
    )
    cursor.executemany(
        f"INSERT INTO ranking_counts (metric_key, metric, procedure_key, procedure, ranked, direction, count, "
        f"data, dataset_id) SELECT {digest}({mark}), {mark}, {digest}({mark}), {', '.join([mark] * 4)}, "
        f"{digest}({DATA_KEY}), id FROM entities WHERE id = {mark} "
        f"ON CONFLICT ({_GROUP}) DO UPDATE SET count = ranking_counts.count + excluded.count",
        [
            (metric, metric, key, procedure, ranked, direction, count, dataset)
            for (dataset, metric, key, ranked, direction, procedure), count in sorted(
                counts.items(), key=lambda item: item[0][:5]
            )
        ],
    )


class RankingReads:
    """What a leaderboard reads from a SQL store's ranking tables (mixed into both SQL backends).

    The backend supplies ``_read(sql, parameters)`` and ``_dialect``.
    """

    @property
    def _dialect(self) -> Dialect:
        raise NotImplementedError

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]:
        raise NotImplementedError

    def _read_planned_for(self, sql: str, parameters: Sequence[object]) -> list[tuple]:
        """Read with a plan made for these parameters (a backend that reuses plans overrides it)."""
        return self._read(sql, parameters)

    def ranking_groups(self, dataset_id: str, metric: str) -> list[RankingGroup]:
        """How the scores of ``metric`` on the data of ``dataset_id`` divide (see :class:`RankingGroup`)."""
        dialect, mark = self._dialect, self._dialect.placeholder
        rows = self._read(
            f"SELECT procedure, dataset_id, ranked, direction, count FROM ranking_counts "
            f"WHERE data = ({self._data_key(mark)}) AND metric_key = {dialect.digest}({mark})",
            (dataset_id, dialect.escape(metric)),
        )
        return [
            RankingGroup(
                None if procedure is None else dialect.unescape(procedure),
                dataset,
                bool(ranked),
                None if direction < 0 else bool(direction),
                count,
            )
            for procedure, dataset, ranked, direction, count in rows
        ]

    def ranking_rows(
        self,
        dataset_id: str,
        metric: str,
        procedure: str | None,
        datasets: Sequence[str],
        *,
        ranked: bool,
        higher: bool,
        limit: int | None,
        offset: int,
    ) -> list[RankingRow]:
        """The scores of ``metric`` with ``procedure`` on ``datasets`` (of the data of ``dataset_id``), a page.

        Ranked ones (finite numbers) come best first, then oldest first; the others oldest first.
        """
        dialect, mark = self._dialect, self._dialect.placeholder
        found = self._read(self._data_key(mark), (dataset_id,))
        if not datasets or not found:
            return []
        procedure_key = "" if procedure is None else dialect.escape(procedure)
        order = f"value {'DESC' if higher else 'ASC'}, " if ranked else ""
        # The data key is a parameter, not a subquery, and the plan is made for it: a page of a crowded data
        # reads the index in order, while a plan made for an average data sorts all of its scores.
        rows = self._read_planned_for(
            "SELECT evaluation_id, model_id, dataset_id, value, shown FROM ranking "
            f"WHERE data = {mark} AND metric_key = {dialect.digest}({mark}) "
            f"AND procedure_key = {dialect.digest}({mark}) AND value IS {'NOT ' if ranked else ''}NULL "
            f"AND dataset_id IN ({', '.join([mark] * len(datasets))}) "
            f"ORDER BY {order}created, evaluation_id LIMIT {NO_LIMIT if limit is None else int(limit)} "
            f"OFFSET {int(offset)}",
            (found[0][0], dialect.escape(metric), procedure_key, *datasets),
        )
        return [RankingRow(*row) for row in rows]

    def ranking_metrics(self, dataset_id: str) -> list[str]:
        """Every metric evaluated on the data of ``dataset_id``, by code point."""
        mark = self._dialect.placeholder
        found = self._read(
            f"SELECT DISTINCT metric FROM ranking_counts WHERE data = ({self._data_key(mark)})", (dataset_id,)
        )
        return sorted(self._dialect.unescape(row[0]) for row in found)

    def _data_key(self, mark: str) -> str:
        """The query of the data key of the dataset whose id is the parameter ``mark``."""
        return f"SELECT {self._dialect.digest}({DATA_KEY}) FROM entities WHERE id = {mark}"


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
