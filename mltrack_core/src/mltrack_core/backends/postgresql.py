r"""The ``postgresql://`` backend: one PostgreSQL database shared by a team.

URIs are libpq connection URIs, as ``psql`` takes them:
``postgresql://user:password@host:5432/database`` (``postgres://`` works too).
Every libpq parameter may follow as a query parameter (``?sslmode=require``,
``?connect_timeout=5``, ...); ``?options=-csearch_path%3Dmltrack`` keeps
mltrack's tables in the schema ``mltrack`` rather than the user's default one.
The password may also come from ``PGPASSWORD`` or ``~/.pgpass``. Needs psycopg 3
and psycopg-pool: ``pip install 'mltrack-core[postgresql]'``.

The store behaves like the SQLite one. Each process keeps a small pool of
connections (psycopg-pool, at most :data:`POOL_SIZE`), so any number of threads
and processes, on any number of machines, may write at once:

- Every write is one READ COMMITTED transaction. New entities are inserted
  with ``ON CONFLICT (id) DO NOTHING``: of several writers racing on one id,
  one inserts it and the others wait for that transaction to end, then see
  the stored row and compare content hashes (a retry is a no-op, other content
  a :class:`~mltrack_core.errors.ConflictError`). Deadlocks and serialization
  failures between writers are retried.
- Ending a training run locks its row (``FOR UPDATE``) and appending metric
  points shares that lock (``FOR SHARE``), so no point is appended to a run
  after it has ended.
- A batch of metric points with a batch id claims the id under a
  transaction-scoped advisory lock on it, so a retry that overlaps the first
  attempt waits for it and is then a no-op.
- The schema is versioned (table ``mltrack_version``) and migrated forward in
  one transaction under an advisory lock, so processes racing to open an empty
  database all succeed; a store from a newer release is refused.

PostgreSQL text cannot hold NUL characters and its indexes cannot hold values
over about 2.7 kB, while mltrack accepts both. Documents are therefore stored
as JSON text (JSON escapes NUL; NaN and infinities keep their Python spelling);
in the columns queries filter by, NUL is written ``\0`` and a backslash ``\\``;
names, experiments and fingerprints have hash indexes, labels are indexed by
the MD5 digests of their key and value.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from mltrack_core.backends.sql import (
    AnsweredPositions,
    Dialect,
    RankingReads,
    add_ranking,
    check_schema_version,
    insert_ranked,
    migrate,
    ranked_rows_of,
)
from mltrack_core.errors import (
    MissingDependencyError,
    StoreCorruptError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
    StoreVersionError,
)
from mltrack_core.hookspecs import hookimpl
from mltrack_core.schema import MAX_COUNT
from mltrack_core.series import EMPTY, SeriesData, bucket_count, series_from_rows
from mltrack_core.store import BaseStore, Link, Point, Query, Record, StoredDocument

_JITTER = random.Random()  # retry jitter from a private generator: the program's random draws stay its own

if TYPE_CHECKING:
    import psycopg

POOL_SIZE = 10
"""Most connections one store keeps open (per process)."""
CONNECT_TIMEOUT_SECONDS = 10
"""How long opening a connection may take, unless the URI sets ``connect_timeout``."""
WAIT_FOR_CONNECTION_SECONDS = 30.0
"""How long a call waits for a pooled connection before raising StoreUnavailableError."""
WRITE_ATTEMPTS = 20
"""How often a write that lost a deadlock or serialization conflict is tried."""
_MIGRATION_LOCK = 0x6D6C7472  # "mltr": first key of the advisory lock taken while migrating
_BATCH_LOCK = 0x6D6C7462  # "mltb": first key of the advisory lock taken while claiming a batch id

_T = TypeVar("_T")


@hookimpl
def mltrack_open_store(uri: str, read_only: bool) -> PostgresqlStore:
    """Open a PostgreSQL store, creating or migrating its tables unless read-only.

    Entry points ``postgresql`` and ``postgres``.
    """
    return PostgresqlStore(uri, read_only=read_only)


def _import_driver() -> tuple[Any, Any]:
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:
        raise MissingDependencyError(
            f"the postgresql:// backend needs psycopg 3 and psycopg-pool ({exc.name} is missing): "
            "pip install 'mltrack-core[postgresql]'"
        ) from exc
    return psycopg, psycopg_pool


def without_password(uri: str) -> str:
    """``uri`` with the password left out (of the user part and of the query)."""
    try:
        parts = urlsplit(uri)
    except ValueError:  # unreadable: keep what cannot be a password
        return re.sub(r"(://[^/?#@:]*):[^/?#]*@", r"\1@", uri).partition("?")[0]
    user_part, at, hosts = parts.netloc.rpartition("@")
    netloc = f"{user_part.partition(':')[0]}@{hosts}" if at else parts.netloc
    query = "&".join(item for item in parts.query.split("&") if item and not item.startswith("password="))
    return urlunsplit(parts._replace(netloc=netloc, query=query))


# ---------------------------------------------------------------- text PostgreSQL cannot hold


def _escape(text: str) -> str:
    r"""Text for a filtered column: NUL becomes ``\0`` and ``\`` becomes ``\\`` (reversible)."""
    if "\\" not in text and "\x00" not in text:
        return text
    return text.replace("\\", "\\\\").replace("\x00", "\\0")


def _escape_optional(text: str | None) -> str | None:
    return None if text is None else _escape(text)


_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPED.sub(lambda match: "\x00" if match.group(1) == "0" else match.group(1), text)


# ---------------------------------------------------------------- schema and migrations


def _create_tables(connection: psycopg.Connection) -> None:
    for statement in (
        """CREATE TABLE entities (
            seq bigint GENERATED ALWAYS AS IDENTITY,
            id text PRIMARY KEY,
            kind text NOT NULL,
            name text,
            experiment text,
            created bigint NOT NULL,
            content_hash text NOT NULL,
            fingerprint text,
            state text,
            document text NOT NULL
        )""",
        "CREATE INDEX entities_newest_first ON entities (created DESC, seq DESC)",
        "CREATE INDEX entities_by_kind ON entities (kind, created DESC, seq DESC)",
        "CREATE INDEX entities_by_name ON entities USING hash (name)",
        "CREATE INDEX entities_by_experiment ON entities USING hash (experiment)",
        "CREATE INDEX entities_by_fingerprint ON entities USING hash (fingerprint) WHERE fingerprint IS NOT NULL",
        """CREATE TABLE links (
            source text NOT NULL,
            relation text NOT NULL,
            target text NOT NULL
        )""",
        "CREATE INDEX links_by_source ON links USING hash (source)",
        "CREATE INDEX links_by_target ON links (target, relation)",
        """CREATE TABLE scores (
            entity_id text NOT NULL,
            metric text NOT NULL,
            value double precision NOT NULL
        )""",
        "CREATE INDEX scores_by_entity ON scores (entity_id)",
        """CREATE TABLE points (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            run_id text NOT NULL,
            metric text NOT NULL,
            value double precision,
            epoch bigint,
            step bigint,
            timestamp bigint NOT NULL
        )""",
        "CREATE INDEX points_by_run ON points (run_id, seq)",
    ):
        connection.execute(statement)


def _add_labels(connection: psycopg.Connection) -> None:
    """Version 2: tags and annotations become queryable; backfilled from the stored documents."""
    connection.execute(
        """CREATE TABLE labels (
            entity_id text NOT NULL,
            scope text NOT NULL,
            key text NOT NULL,
            value text NOT NULL
        )"""
    )
    connection.execute("CREATE INDEX labels_by_entity ON labels USING hash (entity_id)")
    connection.execute("CREATE INDEX labels_by_key ON labels (scope, md5(key), md5(value))")
    rows = connection.execute("SELECT id, document FROM entities").fetchall()
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO labels VALUES (%s, %s, %s, %s)",
            [
                (entity_id, scope, _escape(key), _escape(value))
                for entity_id, document in rows
                for scope, field in (("tag", "tags"), ("annotation", "annotations"))
                for key, value in json.loads(document).get(field, {}).items()
            ],
        )


def _add_batches(connection: psycopg.Connection) -> None:
    """Version 3: the ids of applied batches of metric points, so that a retried batch is applied once."""
    # no primary key: two ids may be too long for a B-tree entry; claims are serialized by an advisory lock
    connection.execute("CREATE TABLE batches (batch_id text NOT NULL, run_id text NOT NULL)")
    connection.execute("CREATE INDEX batches_by_id ON batches USING hash (batch_id)")
    connection.execute("CREATE INDEX batches_by_run ON batches USING hash (run_id)")


def _index_points_by_metric(connection: psycopg.Connection) -> None:
    """Version 4: the points of one metric of one run, by step (for charts).

    The metric is indexed by its MD5 digest: a metric name may be longer than a B-tree entry can be.
    """
    connection.execute("CREATE INDEX points_by_metric ON points (run_id, md5(metric), step)")


def _add_metric_summaries(connection: psycopg.Connection) -> None:
    """Version 5: the summary of each metric of each ended run, kept when it ends (backfilled here).

    An ended run's points cannot change: a table of runs reads their summaries instead of every point.
    """
    connection.execute(
        """CREATE TABLE run_metrics (
            run_id text NOT NULL,
            metric text NOT NULL,
            count bigint NOT NULL,
            first double precision,
            last double precision,
            minimum double precision,
            maximum double precision,
            last_step bigint,
            last_epoch bigint,
            last_timestamp bigint NOT NULL
        )"""
    )
    connection.execute("CREATE INDEX run_metrics_by_run ON run_metrics USING hash (run_id)")
    ended = "SELECT id FROM entities WHERE kind = 'run' AND state <> 'TRAINING'"
    connection.execute(f"INSERT INTO run_metrics {_summaries_of_points(f'run_id IN ({ended})')}")


def _add_ranking(connection: psycopg.Connection) -> None:
    """Version 6: the ranking of every score, so that a leaderboard reads one page however long it is (backfilled).

    The text keys are MD5 digests (see ``Dialect.digest``); the index carries the dataset and the stated
    direction, so that counting a leaderboard's groups reads only the index.
    """
    index = (
        "CREATE INDEX ranking_by_data ON ranking (data, metric_key, procedure_key, value, created) "
        "INCLUDE (dataset_id, stated)"
    )
    add_ranking(connection, _DIALECT, index)


MIGRATIONS: tuple[Callable[[psycopg.Connection], None], ...] = (
    _create_tables,
    _add_labels,
    _add_batches,
    _index_points_by_metric,
    _add_metric_summaries,
    _add_ranking,
)
"""``MIGRATIONS[n]`` brings a store from version n to n + 1 (the versions of the SQLite store)."""
SCHEMA_VERSION = len(MIGRATIONS)


def _schema_version(connection: psycopg.Connection) -> int:
    """The schema version of the store that ``connection``'s search path selects (0: none yet)."""
    if connection.execute("SELECT to_regclass('mltrack_version')").fetchone()[0] is None:
        return 0
    row = connection.execute("SELECT version FROM mltrack_version").fetchone()
    if row is None:
        raise StoreCorruptError("the table mltrack_version is empty; restore the database from a backup")
    return row[0]


def _start_versioning(connection: psycopg.Connection) -> None:
    """Create the version table of a new store (version 0), unless another application's tables are there."""
    if connection.execute("SELECT to_regclass('entities')").fetchone()[0] is not None:
        raise StoreError(
            "the database already has a table named entities that mltrack did not create; give mltrack "
            "its own database, or its own schema with ?options=-csearch_path%3Dmltrack in the URI"
        )
    connection.execute("CREATE TABLE mltrack_version (version integer NOT NULL)")
    connection.execute("INSERT INTO mltrack_version VALUES (0)")


def _record_schema_version(connection: psycopg.Connection, version: int) -> None:
    connection.execute("UPDATE mltrack_version SET version = %s", (version,))


# ---------------------------------------------------------------- the store


class PostgresqlStore(RankingReads, BaseStore["psycopg.Cursor"]):
    """A :class:`~mltrack_core.store.Store` in a PostgreSQL database (a connection pool per store)."""

    @property
    def _dialect(self) -> Dialect:
        return _DIALECT

    def __init__(self, uri: str, *, read_only: bool = False) -> None:
        self.uri = without_password(uri)
        self.read_only = read_only
        self._passwords = _passwords_in(uri)
        self._opening = True  # errors name the URI only while opening: later ones may reach remote clients
        self._positions = AnsweredPositions()
        psycopg, psycopg_pool = _import_driver()
        self._psycopg = psycopg
        self._psycopg_pool = psycopg_pool
        conninfo = self._conninfo(uri)
        with self._translate(), psycopg.connect(conninfo, autocommit=True) as connection:
            self._prepare(connection)
        self._pool = psycopg_pool.ConnectionPool(
            conninfo,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            check=psycopg_pool.ConnectionPool.check_connection,
            timeout=WAIT_FOR_CONNECTION_SECONDS,
            name=f"mltrack {self.uri}",
            open=True,
        )
        self._opening = False

    # ------------------------------------------------------------ opening

    def _conninfo(self, uri: str) -> str:
        try:
            if "\x00" in uri:
                raise ValueError("it contains a NUL character")
            parameters = self._psycopg.conninfo.conninfo_to_dict(uri)
        except (self._psycopg.Error, ValueError) as exc:  # UnicodeDecodeError: %-encoded text that is not UTF-8
            raise StoreError(
                f"cannot read the PostgreSQL URI {self.uri!r}: {self._reason(exc)}; write it as "
                "postgresql://user:password@host:port/database"
            ) from None  # the driver's exception may quote the password
        parameters.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        parameters.setdefault("application_name", "mltrack")
        if self.read_only:  # the server itself refuses every write of these sessions
            parameters["options"] = f"{parameters.get('options', '')} -c default_transaction_read_only=on".strip()
        return self._psycopg.conninfo.make_conninfo(**parameters)

    def _prepare(self, connection: psycopg.Connection) -> None:
        version = _schema_version(connection)
        check_schema_version(self.uri, version, SCHEMA_VERSION)
        if version < SCHEMA_VERSION and self.read_only:
            raise self._unusable_read_only(version)
        if version < SCHEMA_VERSION:
            version = self._migrate_under_lock(connection)
        check_schema_version(self.uri, version, SCHEMA_VERSION)

    def _unusable_read_only(self, version: int) -> StoreError:
        """The error for a store opened read-only that has no tables yet, or tables of an older schema."""
        if version == 0:
            return StoreError(
                f"there is no mltrack store in {self.uri}: the schemas of its search path hold no mltrack tables. "
                "Check the URI or MLTRACK_URI (database, ?options=-csearch_path%3D...), or open it once for "
                "writing to create the tables"
            )
        return StoreVersionError(
            f"the store {self.uri} has schema version {version}, made by an older mltrack; this one reads "
            f"version {SCHEMA_VERSION}. Open it once for writing (without read_only) to migrate it, then read it"
        )

    def _migrate_under_lock(self, connection: psycopg.Connection) -> int:
        """Migrate to SCHEMA_VERSION unless another process did; return the version found under the lock."""
        # A session lock, taken before the transaction starts: a transaction sees the tables other
        # sessions created only if it starts after they committed (PostgreSQL's catalog caches).
        lock = "(%s, hashtext(coalesce(current_schema(), '')))"
        connection.execute(f"SELECT pg_advisory_lock{lock}", (_MIGRATION_LOCK,))
        try:
            with connection.transaction():
                version = _schema_version(connection)
                if version == 0:
                    _start_versioning(connection)
                return migrate(connection, MIGRATIONS, version, _record_schema_version)
        except self._psycopg.errors.InsufficientPrivilege as exc:
            raise StoreReadOnlyError(
                f"the store {self.uri} needs its tables created or migrated to schema version {SCHEMA_VERSION}, "
                f"but this user may not ({self._reason(exc)}); open it once as the owner of the database or schema"
            ) from exc
        except self._psycopg.errors.InvalidSchemaName as exc:
            raise StoreError(
                f"no schema of the search path of {self.uri} exists to create mltrack's tables in: "
                "create it (CREATE SCHEMA name) or fix options=-csearch_path in the URI"
            ) from exc
        finally:
            with contextlib.suppress(self._psycopg.Error):  # a broken connection has lost the lock anyway
                connection.execute(f"SELECT pg_advisory_unlock{lock}", (_MIGRATION_LOCK,))

    # ------------------------------------------------------------ connections, transactions, errors

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except self._psycopg.Error as exc:
            raise self._store_error(exc) from exc

    def _store_error(self, exc: psycopg.Error) -> StoreError:
        """The StoreError for ``exc``; it names the URI only while opening (see ``_opening``)."""
        errors = self._psycopg.errors
        reason = self._reason(exc)
        uri = f" {self.uri}" if self._opening else ""
        if isinstance(exc, self._psycopg_pool.PoolTimeout):
            return StoreUnavailableError(
                f"got no connection to the PostgreSQL store{uri} within {self._pool.timeout:g} s; "
                "is the server running and reachable?"
            )
        if isinstance(exc, self._psycopg_pool.PoolClosed):
            return StoreError("the store was closed; connect again")
        if isinstance(exc, (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction)):
            return StoreReadOnlyError(f"the store{uri} cannot be written by this user or server: {reason}")
        if isinstance(exc, (errors.UndefinedTable, errors.UndefinedColumn)):
            return StoreCorruptError(
                f"the tables of the store{uri} are missing or were changed ({reason}); restore the "
                "database from a backup or point MLTRACK_URI at another database"
            )
        if isinstance(exc, errors.TransactionRollback):
            return StoreUnavailableError(f"writing to the store{uri} kept conflicting with other writers: {reason}")
        if isinstance(exc, (self._psycopg.OperationalError, self._psycopg.InterfaceError)):
            if re.search(r"password|authentication|role \S+ does not exist", reason):
                return StoreError(
                    f"the PostgreSQL server refused the login to{uri or ' the store'}: {reason}. Check the user and "
                    "password in the URI (or PGPASSWORD, ~/.pgpass)"
                )
            if re.search(r"\binvalid\b", reason):
                return StoreError(f"the PostgreSQL URI{uri} is not valid: {reason}; fix it")
            if re.search(r"database \S+ does not exist", reason):
                return StoreError(
                    f"the database of the store{uri} does not exist: {reason}. Create it (createdb, or CREATE "
                    "DATABASE) or fix the URI"
                )
            hint = "" if "server running" in reason else ". Is the server running and accepting connections?"
            return StoreUnavailableError(f"cannot reach the PostgreSQL store{uri}: {reason}{hint}")
        return StoreError(f"the PostgreSQL store{uri} failed: {reason}")

    def _reason(self, exc: BaseException) -> str:
        """The driver's message on one line, without the password."""
        reason = " ".join(str(exc).split()) or type(exc).__name__
        for password in self._passwords:
            reason = reason.replace(password, "***")
        return reason

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]:
        with self._translate(), self._pool.connection() as connection:
            return connection.execute(sql, parameters).fetchall()

    def _read_planned_for(self, sql: str, parameters: Sequence[object]) -> list[tuple]:
        # not prepared: psycopg prepares a statement run 5 times, and PostgreSQL may then plan it once for any
        # parameters (for an average leaderboard: 500 ms on the page of one with 1,000,000 evaluations)
        with self._translate(), self._pool.connection() as connection:
            return connection.execute(sql, parameters, prepare=False).fetchall()

    def _in_transaction(self, action: Callable[[psycopg.Cursor], _T]) -> _T:
        """Run ``action`` in one transaction; conflicts with concurrent writers are retried."""
        if self.read_only:
            raise StoreReadOnlyError("the store was opened read-only (read_only=True); connect without it to write")
        errors = self._psycopg.errors
        with self._translate():
            for attempt in range(1, WRITE_ATTEMPTS + 1):
                try:
                    with self._pool.connection() as connection, connection.transaction(), connection.cursor() as cursor:
                        return action(cursor)
                except (errors.DeadlockDetected, errors.SerializationFailure):
                    if attempt == WRITE_ATTEMPTS:
                        raise
                    time.sleep(min(0.01 * 2**attempt, 1.0) * _JITTER.random())
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------ the Store contract

    def put(self, records: Sequence[Record], points: Sequence[Point] = ()) -> list[str]:
        if not records and not points:
            return []  # nothing to write: no round trip to the server
        return super().put(records, points)

    def get(self, ids: Sequence[str]) -> dict[str, StoredDocument]:
        ids = _storable(ids)
        if not ids:
            return {}
        rows = self._read("SELECT id, kind, document FROM entities WHERE id = ANY(%s)", (ids,))
        return {id_: StoredDocument(kind, document) for id_, kind, document in rows}

    def find(self, query: Query) -> list[str]:
        if _matches_nothing(query):
            return []
        where, parameters = _DIALECT.where(query)
        sql = f"SELECT id FROM entities WHERE {where} ORDER BY {_DIALECT.order_by(query.order)} LIMIT %s OFFSET %s"
        return [row[0] for row in self._read(sql, [*parameters, query.limit, query.offset])]

    def count(self, query: Query) -> int:
        if _matches_nothing(query):
            return 0
        where, parameters = _DIALECT.where(query)
        return self._read(f"SELECT count(*) FROM entities WHERE {where}", parameters)[0][0]

    def links(self, ids: Sequence[str], direction: Literal["out", "in"]) -> list[Link]:
        column = "source" if direction == "out" else "target"
        ids = _storable(ids)
        if not ids:
            return []
        rows = self._read(f"SELECT source, relation, target FROM links WHERE {column} = ANY(%s)", (ids,))
        return [Link(*row) for row in rows]

    def scores(self, dataset_ids: Sequence[str], metric: str) -> list[tuple[str, float]]:
        dataset_ids = _storable(dataset_ids)
        if not dataset_ids or not _encodable(metric):
            return []
        rows = self._read(
            "SELECT s.entity_id, s.value FROM links AS l JOIN scores AS s ON s.entity_id = l.source "
            "AND s.metric = %s WHERE l.target = ANY(%s) AND l.relation = 'on_dataset'",
            (_escape(metric), dataset_ids),
        )
        return [(entity_id, value) for entity_id, value in rows]

    def points(self, run_id: str) -> list[Point]:
        if not _storable([run_id]):
            return []
        rows = self._read(
            "SELECT run_id, metric, value, epoch, step, timestamp FROM points WHERE run_id = %s ORDER BY seq",
            (run_id,),
        )
        return [
            Point(id_, _unescape(metric), value, epoch, step, stamp) for id_, metric, value, epoch, step, stamp in rows
        ]

    # ------------------------------------------------------------ the optional reads of charts and tables

    def points_since(self, run_id: str, count: int) -> list[Point]:
        """The run's points after the first ``count``, in append order."""
        if not _storable([run_id]):
            return []
        # A live chart asks again and again with a growing count: the seq of the last point answered is
        # remembered, so that each call reads the new points only (a run's points are only ever appended).
        known_count, known_seq = self._positions.nearest(run_id, count)
        boundary = known_seq
        if count > known_count:  # the seq of the count-th point
            found = self._read(
                "SELECT seq FROM points WHERE run_id = %s AND seq > %s ORDER BY seq LIMIT 1 OFFSET %s",
                (run_id, known_seq, count - known_count - 1),
            )
            if not found:
                return []  # fewer points than count
            boundary = found[0][0]
        rows = self._read(
            "SELECT seq, run_id, metric, value, epoch, step, timestamp FROM points WHERE run_id = %s AND seq > %s "
            "ORDER BY seq",
            (run_id, boundary),
        )
        self._positions.remember(run_id, count, boundary, [row[0] for row in rows])
        return [
            Point(id_, _unescape(metric), value, epoch, step, stamp)
            for _, id_, metric, value, epoch, step, stamp in rows
        ]

    def metric_summaries(self, run_ids: Sequence[str], metrics: Sequence[str] | None) -> dict[str, dict]:
        """Per run with points, the :class:`~mltrack_core.series.MetricSummary` of each metric, in one query.

        Ended runs' summaries were kept when they ended; those of training runs are computed from their points.
        """
        from mltrack_core.series import summary_of

        run_ids = _storable(run_ids)
        if not run_ids:
            return {}
        parameters: dict[str, object] = {"runs": run_ids}
        of_metrics = ""
        if metrics is not None:
            of_metrics = " AND metric = ANY(%(metrics)s)"
            parameters["metrics"] = [_escape(metric) for metric in dict.fromkeys(metrics) if _encodable(metric)]
        wanted = "run_id = ANY(%(runs)s)"
        kept = f"SELECT * FROM run_metrics WHERE {wanted}{of_metrics}"
        # the runs without kept summaries are chosen before any point is read
        not_kept = (
            "run_id = ANY(ARRAY(SELECT unnest(%(runs)s::text[]) EXCEPT "
            f"SELECT run_id FROM run_metrics WHERE {wanted})){of_metrics}"
        )
        rows = self._read(f"{kept} UNION ALL {_summaries_of_points(not_kept)}", parameters)
        found: dict[str, dict] = {}
        for run_id, metric, count, first, last, low, high, step, epoch, stamp in rows:
            name = _unescape(metric)
            found.setdefault(run_id, {})[name] = summary_of(name, count, first, last, low, high, step, epoch, stamp)
        return found

    def metric_series(
        self, run_id: str, metric: str, axis: str, start: int | None, end: int | None, max_points: int
    ) -> SeriesData:
        """The series of one metric (see :mod:`mltrack_core.series`), aggregated by PostgreSQL."""
        if not (_storable([run_id]) and _encodable(metric)):
            return EMPTY
        x = {"step": "coalesce(step, row_number() OVER (ORDER BY seq) - 1)", "epoch": "epoch", "time": "timestamp"}
        rows = self._read(
            f"""WITH chosen AS MATERIALIZED (
                SELECT x, value AS v, w, {_FINITE} AS finite FROM (
                    SELECT {x[axis]} AS x, value, seq AS w FROM points
                    WHERE run_id = %(run)s AND md5(metric) = md5(%(metric)s) AND metric = %(metric)s
                ) AS numbered WHERE x BETWEEN %(start)s AND %(end)s
            ),
            extent AS (SELECT min(x) AS low, max(x)::numeric - min(x) + 1 AS span, count(*) AS total FROM chosen),
            bucketed AS MATERIALIZED (
                SELECT least(%(buckets)s - 1, div((x - low)::numeric * %(buckets)s, span))::bigint AS b, x, v, w, finite
                FROM chosen, extent WHERE total > %(max_points)s
            )
            SELECT 3, w, x, v, total FROM chosen, extent WHERE total <= %(max_points)s
            UNION ALL SELECT 0, b, x, v, count FROM (
                SELECT DISTINCT ON (b) b, x, CASE WHEN finite THEN v END AS v, count(*) OVER (PARTITION BY b) AS count
                FROM bucketed ORDER BY b, finite DESC, v, x, w
            ) AS lows
            UNION ALL SELECT 1, b, x, v, 0 FROM (
                SELECT DISTINCT ON (b) b, x, CASE WHEN finite THEN v END AS v
                FROM bucketed ORDER BY b, finite DESC, v DESC, x, w
            ) AS highs
            UNION ALL SELECT 2, b, min(x), NULL, 0 FROM bucketed WHERE NOT finite GROUP BY b""",
            {
                "run": run_id,
                "metric": _escape(metric),
                "start": 0 if start is None else start,
                "end": MAX_COUNT if end is None else end,
                "buckets": bucket_count(max_points),
                "max_points": max_points,
            },
        )
        return series_from_rows(rows, max_points)

    def close(self) -> None:
        self._pool.close()

    # ------------------------------------------------------------ the primitives of BaseStore

    def _insert_absent(self, cursor: psycopg.Cursor, records: list[Record]) -> dict[str, str]:
        inserted = self._insert_entities(cursor, records)
        # ON CONFLICT waited for the transactions writing these ids: the taken ones are committed, visible
        taken_ids = [record.id for record in records if record.id not in inserted]
        taken = self._select_by_id(cursor, "SELECT id, content_hash FROM entities WHERE id = ANY(%s)", taken_ids)
        self._insert_related(cursor, [record for record in records if record.id in inserted])
        return taken

    def _stored_kinds(self, cursor: psycopg.Cursor, ids: list[str]) -> dict[str, str]:
        return self._select_by_id(cursor, "SELECT id, kind FROM entities WHERE id = ANY(%s)", ids)

    def _run_states(self, cursor: psycopg.Cursor, run_ids: list[str], *, exclusive: bool) -> dict[str, str]:
        lock = "FOR UPDATE" if exclusive else "FOR SHARE"
        select = f"SELECT id, state FROM entities WHERE id = ANY(%s) AND kind = 'run' ORDER BY id {lock}"
        return self._select_by_id(cursor, select, run_ids)

    def _replace_run(self, cursor: psycopg.Cursor, record: Record) -> None:
        cursor.execute(
            "UPDATE entities SET name = %s, experiment = %s, content_hash = %s, state = %s, document = %s "
            "WHERE id = %s",
            (
                _escape_optional(record.name),
                _escape_optional(record.experiment),
                record.content_hash,
                record.state,
                record.document,
                record.id,
            ),
        )
        cursor.execute("DELETE FROM links WHERE source = %s", (record.id,))
        cursor.execute("DELETE FROM labels WHERE entity_id = %s", (record.id,))
        self._insert_related(cursor, [record])

    def _insert_points(self, cursor: psycopg.Cursor, points: Sequence[Point]) -> None:
        with cursor.copy("COPY points (run_id, metric, value, epoch, step, timestamp) FROM STDIN") as copy:
            for run_id, metric, value, epoch, step, timestamp in points:
                copy.write_row((run_id, _escape(metric), value, epoch, step, timestamp))

    def _claim_batch(self, cursor: psycopg.Cursor, batch_id: str, run_ids: list[str]) -> bool:
        # A transaction claiming the same id waits here until this one ends; its next statement then
        # sees this one's rows (READ COMMITTED: each statement reads what was committed when it began).
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_BATCH_LOCK, batch_id))
        cursor.execute(
            "INSERT INTO batches SELECT %s, unnest(%s::text[]) "
            "WHERE NOT EXISTS (SELECT 1 FROM batches WHERE batch_id = %s)",
            (batch_id, run_ids, batch_id),
        )
        return cursor.rowcount > 0

    def _forget_batches(self, cursor: psycopg.Cursor, run_id: str) -> None:
        cursor.execute("DELETE FROM batches WHERE run_id = %s", (run_id,))

    def _keep_metric_summaries(self, cursor: psycopg.Cursor, run_id: str) -> None:
        cursor.execute("DELETE FROM run_metrics WHERE run_id = %(run)s", {"run": run_id})
        cursor.execute(f"INSERT INTO run_metrics {_summaries_of_points('run_id = %(run)s')}", {"run": run_id})

    # ------------------------------------------------------------ internals

    @staticmethod
    def _select_by_id(cursor: psycopg.Cursor, select: str, ids: list[str]) -> dict[str, str]:
        """The rows of ``select`` (two columns, one parameter: the array of ``ids``) as a dict; no query without ids.

        Ids no row can have (with NUL, say) are not sent: they are simply not found, as on SQLite.
        """
        ids = _storable(ids)
        if not ids:
            return {}
        return dict(cursor.execute(select, (ids,)).fetchall())

    @staticmethod
    def _insert_entities(cursor: psycopg.Cursor, records: list[Record]) -> set[str]:
        """Insert the records whose id is not stored yet (in this order); return their ids."""
        columns = ("id", "kind", "name", "experiment", "created", "content_hash", "fingerprint", "state", "document")
        values = [
            [r.id for r in records],
            [r.kind for r in records],
            [_escape_optional(r.name) for r in records],
            [_escape_optional(r.experiment) for r in records],
            [r.created for r in records],
            [r.content_hash for r in records],
            [_escape_optional(r.fingerprint) for r in records],
            [r.state for r in records],
            [r.document for r in records],
        ]
        types = ("text", "text", "text", "text", "bigint", "text", "text", "text", "text")
        arrays = ", ".join(f"%s::{type_}[]" for type_ in types)
        names = ", ".join(columns)
        cursor.execute(
            f"INSERT INTO entities ({names}) SELECT {names} FROM unnest({arrays}) WITH ORDINALITY AS new ({names}, "
            "position) ORDER BY position ON CONFLICT (id) DO NOTHING RETURNING id",
            values,
        )
        return {row[0] for row in cursor.fetchall()}

    @staticmethod
    def _insert_related(cursor: psycopg.Cursor, records: list[Record]) -> None:
        links = [
            (record.id, relation, target)
            for record in records
            for relation, target in dict.fromkeys((relation, target) for relation, target, _ in record.references)
        ]
        labels = {
            (record.id, scope, key): value for record in records for scope, key, value in record.labels
        }  # one value per key, like the primary key of the SQLite store
        scores = {(record.id, metric): value for record in records for metric, value in record.scores}
        if links:
            cursor.executemany("INSERT INTO links VALUES (%s, %s, %s)", links)
        if labels:
            cursor.executemany(
                "INSERT INTO labels VALUES (%s, %s, %s, %s)",
                [(id_, scope, _escape(key), _escape(value)) for (id_, scope, key), value in labels.items()],
            )
        if scores:
            cursor.executemany(
                "INSERT INTO scores VALUES (%s, %s, %s)",
                [(id_, _escape(metric), value) for (id_, metric), value in scores.items()],
            )
        insert_ranked(cursor, _DIALECT, ranked_rows_of(records))


_FINITE = "value BETWEEN '-1.7976931348623157e308'::float8 AND '1.7976931348623157e308'::float8"
"""True for finite values: PostgreSQL sorts NaN above every number, and infinities lie outside the bounds."""


def _summaries_of_points(condition: str) -> str:
    """The query computing the rows of ``run_metrics`` from the points that meet ``condition``."""
    return f"""SELECT totals.run_id, totals.metric, totals.count, first_point.value, last_point.value, minimum,
            maximum, last_point.step, last_point.epoch, last_point.timestamp
        FROM (
            SELECT run_id, metric, count(*) AS count, min(value) FILTER (WHERE {_FINITE}) AS minimum,
                max(value) FILTER (WHERE {_FINITE}) AS maximum, min(seq) AS first, max(seq) AS last
            FROM points WHERE {condition} GROUP BY run_id, metric
        ) AS totals
        JOIN points AS first_point ON first_point.seq = totals.first
        JOIN points AS last_point ON last_point.seq = totals.last"""


def _encodable(text: object) -> bool:
    """Whether ``text`` can be sent to PostgreSQL: no lone surrogates (which no store holds, so they match nothing)."""
    try:
        str(text).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable(ids: Sequence[str]) -> list[str]:
    """The distinct ``ids`` an id column may hold, in order (ids with NUL or lone surrogates are never valid)."""
    return [id_ for id_ in dict.fromkeys(ids) if "\x00" not in id_ and _encodable(id_)]


def _matches_nothing(query: Query) -> bool:
    """Whether ``query`` compares a column holding text as it is with text that has NUL: no row can match.

    Kinds, states, ids, relations and label scopes are stored as they are (and
    never hold NUL); names, experiments, fingerprints, label keys and values are
    escaped (see :func:`_escape`), so NUL in them matches as on SQLite.
    """
    as_is = [query.kind, query.state, *(part for link in query.links for part in link)]
    as_is += [scope for scope, _, _ in query.labels]
    return any(text is not None and "\x00" in text for text in as_is)


def _passwords_in(uri: str) -> list[str]:
    """The passwords written in ``uri`` (as written and decoded), to keep them out of messages."""
    found = re.findall(r"://[^/?#@:]*:([^/?#]*)@", uri) + re.findall(r"[?&]password=([^&#]*)", uri)
    return [form for password in found if password for form in {password, unquote(password)}]


def _label_condition(scope: str, key: str, value: str) -> tuple[str, tuple[object, ...]]:
    # the MD5 digests use the index (labels may be too long to index); the texts rule out digest collisions
    key, value = _escape(key), _escape(value)
    return (
        "id IN (SELECT entity_id FROM labels WHERE scope = %s AND md5(key) = md5(%s) AND md5(value) = md5(%s) "
        "AND key = %s AND value = %s)",
        (scope, key, value, key, value),
    )


_DIALECT = Dialect(
    placeholder="%s",
    escape=_escape,
    label_condition=_label_condition,
    written="seq",
    by_code_point=' COLLATE "C"',
    unescape=_unescape,
    digest="md5",
)
