"""The ``sqlite://`` backend: the embedded store, one file, no server.

URIs follow SQLAlchemy's convention: ``sqlite:///relative/path.db`` (three
slashes) and ``sqlite:////absolute/path.db`` (four); ``~`` is expanded;
``?mode=ro`` opens the store read-only, like ``connect(uri, read_only=True)``.

Several processes and threads may write at once. The database runs in WAL
mode; every write is one ``BEGIN IMMEDIATE`` transaction (so a write never
fails half-way and never needs a lock upgrade), and a busy database is waited
for and retried rather than reported as "database is locked". Creating the
tables happens inside such a transaction too, so processes racing to create a
new store all succeed. The schema is versioned (``PRAGMA user_version``) and
migrated forward when a store made by an older release is opened.

Reading never changes a file. A store opened read-only is never created,
migrated or switched to WAL mode: a missing file, a file that is not an
mltrack store (another application's database is never given mltrack's
tables, not even when opened for writing) and a store made by an older
release are refused with a message saying so. A store whose file or folder
this process cannot write (a read-only mount, another user's store) is opened
read-only even when writing was asked for: reads work, writes raise
:class:`~mltrack_core.errors.StoreReadOnlyError`. To read a WAL database,
SQLite needs its ``-shm`` file, which it creates when missing; in a folder
that nobody may write (a read-only filesystem, or a folder without any write
permission) the store cannot change while it is read, so it is then read as
immutable (SQLite's ``immutable=1``) without that file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

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
from mltrack_core.backends.uris import mask_credentials
from mltrack_core.errors import (
    StoreCorruptError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
    StoreVersionError,
)
from mltrack_core.hookspecs import hookimpl
from mltrack_core.schema import MAX_COUNT
from mltrack_core.series import (
    EMPTY,
    Bucket,
    SeriesData,
    bucket_bounds,
    bucket_count,
    downsample,
    is_finite,
    series_from_buckets,
    series_from_rows,
)
from mltrack_core.store import BaseStore, Link, Point, Query, Record, StoredDocument

_JITTER = random.Random()  # retry jitter from a private generator: the program's random draws stay its own

BUSY_TIMEOUT_SECONDS = 30.0
"""How long one SQLite call waits for a lock before mltrack retries it."""
GIVE_UP_AFTER_SECONDS = 300.0
"""How long a write keeps retrying a busy database before raising StoreUnavailableError."""
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
_EFFECTIVE_IDS = os.access in os.supports_effective_ids  # permissions of the effective user, as open() sees them
_ASKED_READ_ONLY = "the store was opened read-only (read_only=True or ?mode=ro); connect without them to write"
_CANNOT_WRITE = (
    "the store cannot be written: its file or folder is read-only for this process (a read-only filesystem, "
    "or no write permission); it can still be read"
)

_Result = TypeVar("_Result")


@hookimpl
def mltrack_open_store(uri: str, read_only: bool) -> SqliteStore:
    """The SQLite store a ``sqlite://`` URI names, created when missing unless read-only (entry point ``sqlite``)."""
    path, read_only_uri = parse_uri(uri)
    return SqliteStore(path, read_only=read_only or read_only_uri, uri=uri)


_HOW_TO_WRITE = "write sqlite:///relative/path.db or sqlite:////absolute/path.db"


def parse_uri(uri: str) -> tuple[Path, bool]:
    """The file path and read-only flag of a ``sqlite://`` URI.

    Args:
        uri: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``, maybe with ``?mode=ro``.

    Returns:
        The path (``~`` expanded) and whether ``?mode=ro`` was given.

    Raises:
        StoreError: ``uri`` is malformed, has an unknown option or names no possible file.
    """
    shown = mask_credentials(uri)
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise StoreError(f"cannot read {shown!r} as a URI ({exc}): {_HOW_TO_WRITE}") from None
    if parts.netloc or not parts.path.startswith("/") or len(parts.path) < 2:
        raise StoreError(f"cannot read the SQLite store path from {shown!r}: {_HOW_TO_WRITE}")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - {"mode"})
    mode = options.get("mode", ["rw"])[-1]
    if unknown or mode not in ("ro", "rw"):
        raise StoreError(f"unsupported option in {shown!r}: only ?mode=ro (read-only) or ?mode=rw is understood")
    try:
        text = unquote(parts.path[1:], errors="strict")
    except UnicodeDecodeError:
        raise StoreError(f"the store path in {shown!r} is not percent-encoded UTF-8; {_HOW_TO_WRITE}") from None
    if "\x00" in text:
        raise StoreError(f"the store path in {shown!r} contains a NUL character (%00), which no file name can hold")
    try:
        return Path(text).expanduser(), mode == "ro"
    except RuntimeError as exc:  # ~name of an unknown user
        raise StoreError(f"cannot expand the ~ of the store path in {shown!r}: {exc}") from None


# ---------------------------------------------------------------- schema and migrations


def _create_tables(connection: sqlite3.Connection) -> None:
    for statement in (
        """CREATE TABLE entities (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            name TEXT,
            experiment TEXT,
            created INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            fingerprint TEXT,
            state TEXT,
            document TEXT NOT NULL
        )""",
        "CREATE INDEX entities_by_kind ON entities (kind, created DESC)",
        "CREATE INDEX entities_by_name ON entities (name)",
        "CREATE INDEX entities_by_experiment ON entities (experiment)",
        "CREATE INDEX entities_by_fingerprint ON entities (fingerprint) WHERE fingerprint IS NOT NULL",
        """CREATE TABLE links (
            source TEXT NOT NULL,
            relation TEXT NOT NULL,
            target TEXT NOT NULL,
            PRIMARY KEY (source, relation, target)
        ) WITHOUT ROWID""",
        "CREATE INDEX links_by_target ON links (target, relation, source)",
        """CREATE TABLE scores (
            entity_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (entity_id, metric)
        ) WITHOUT ROWID""",
        """CREATE TABLE points (
            run_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            value REAL,
            epoch INTEGER,
            step INTEGER,
            timestamp INTEGER NOT NULL
        )""",
        "CREATE INDEX points_by_run ON points (run_id)",
    ):
        connection.execute(statement)


def _add_labels(connection: sqlite3.Connection) -> None:
    """Version 2: tags and annotations become queryable; backfilled from the stored documents."""
    connection.execute(
        """CREATE TABLE labels (
            entity_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (entity_id, scope, key)
        ) WITHOUT ROWID"""
    )
    connection.execute("CREATE INDEX labels_by_key ON labels (scope, key, value)")
    rows = connection.execute("SELECT id, document FROM entities").fetchall()
    for entity_id, document in rows:
        parsed = json.loads(document)
        connection.executemany(
            "INSERT INTO labels VALUES (?, ?, ?, ?)",
            [
                (entity_id, scope, key, value)
                for scope, field in (("tag", "tags"), ("annotation", "annotations"))
                for key, value in parsed.get(field, {}).items()
            ],
        )


def _add_batches(connection: sqlite3.Connection) -> None:
    """Version 3: the ids of applied batches of metric points, so that a retried batch is applied once."""
    connection.execute(
        """CREATE TABLE batches (
            batch_id TEXT NOT NULL,
            run_id TEXT NOT NULL,
            PRIMARY KEY (batch_id, run_id)
        ) WITHOUT ROWID"""
    )
    connection.execute("CREATE INDEX batches_by_run ON batches (run_id)")


def _index_points_by_metric(connection: sqlite3.Connection) -> None:
    """Version 4: the points of one metric of one run, by step, covering every column (for charts).

    A metric's series reads only that metric's index entries, in step order, without visiting the table.
    """
    connection.execute("CREATE INDEX points_by_metric ON points (run_id, metric, step, value, epoch, timestamp)")


def _add_metric_summaries(connection: sqlite3.Connection) -> None:
    """Version 5: the summary of each metric of each ended run, kept when it ends (backfilled here).

    An ended run's points cannot change: a table of runs reads their summaries instead of every point, and a
    chart of a whole long history its ``overview``, kept when the run ends (not backfilled: computed when asked).
    """
    connection.execute(
        """CREATE TABLE run_metrics (
            run_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            count INTEGER NOT NULL,
            first REAL,
            last REAL,
            minimum REAL,
            maximum REAL,
            last_step INTEGER,
            last_epoch INTEGER,
            last_timestamp INTEGER NOT NULL,
            overview TEXT,
            PRIMARY KEY (run_id, metric)
        ) WITHOUT ROWID"""
    )
    ended = "SELECT id FROM entities WHERE kind = 'run' AND state <> 'TRAINING'"
    connection.execute(f"INSERT INTO run_metrics ({_SUMMARY_COLUMNS}) {_summaries_of_points(f'run_id IN ({ended})')}")


def _add_ranking(connection: sqlite3.Connection) -> None:
    """Version 6: the ranking of every score, so that a leaderboard reads one page however long it is (backfilled)."""
    index = (
        "CREATE INDEX ranking_by_data "
        "ON ranking (data, metric_key, procedure_key, value, created, evaluation_id, dataset_id, stated)"
    )
    add_ranking(connection, _DIALECT, index)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _create_tables,
    _add_labels,
    _add_batches,
    _index_points_by_metric,
    _add_metric_summaries,
    _add_ranking,
)
"""``MIGRATIONS[n]`` brings a store from version n to n + 1. Append; never edit a released step."""
SCHEMA_VERSION = len(MIGRATIONS)


def _record_schema_version(connection: sqlite3.Connection, version: int) -> None:
    connection.execute(f"PRAGMA user_version = {version}")


def _schema_state(connection: sqlite3.Connection) -> tuple[int, bool]:
    """The schema version and whether the file holds any table, read at once (another process may be creating them)."""
    version, tables = connection.execute(
        "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)"
    ).fetchone()
    return version, tables > 0


# ---------------------------------------------------------------- files, permissions, SQLite's error codes


def _may_write(path: Path) -> bool:
    """Whether this process may write ``path`` (a file, or a folder to create files in)."""
    if _on_read_only_filesystem(path):  # access() may only look at the permission bits
        return False
    return os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0), effective_ids=_EFFECTIVE_IDS)


def _nobody_may_write(folder: Path) -> bool:
    """Whether no one (root aside) may create files in ``folder``: a read-only filesystem, or no write permission."""
    return _on_read_only_filesystem(folder) or folder.stat().st_mode & 0o222 == 0


def _on_read_only_filesystem(path: Path) -> bool:
    statvfs = getattr(os, "statvfs", None)  # not on Windows
    return statvfs is not None and bool(statvfs(path).f_flag & os.ST_RDONLY)


def _in_wal_mode(path: Path) -> bool:
    """Whether the SQLite file ``path`` is a WAL database (its header's read and write versions are 2)."""
    with path.open("rb") as file:
        header = file.read(20)
    return len(header) == 20 and header.startswith(b"SQLite format 3\x00") and header[18:20] == b"\x02\x02"


def _is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says another connection holds a lock (worth waiting for and retrying)."""
    name = getattr(exc, "sqlite_errorname", "")  # Python 3.11+
    message = str(exc)
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in message or "busy" in message


# ---------------------------------------------------------------- the store


class SqliteStore(RankingReads, BaseStore[sqlite3.Connection]):
    """A :class:`~mltrack_core.store.Store` in one SQLite file (one connection per thread)."""

    @property
    def _dialect(self) -> Dialect:
        return _DIALECT

    def __init__(self, path: Path, *, read_only: bool = False, uri: str | None = None) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.uri = uri or f"sqlite:///{self.path}"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._positions = AnsweredPositions()
        self._opening = True  # errors name the file only while opening: later ones may reach remote clients
        self._refusal = _ASKED_READ_ONLY if read_only else None  # why writes are refused, if they are
        self._pragmas = ["PRAGMA query_only = ON"] if read_only else []
        self._target, self._target_is_uri = self._choose_access()
        # in WAL mode, NORMAL keeps commits across a crash of the process and syncs at checkpoints
        self._pragmas.append("PRAGMA synchronous = NORMAL")
        self._prepare()
        self._opening = False

    # ------------------------------------------------------------ opening

    def _choose_access(self) -> tuple[str, bool]:
        """What to connect to (a path, or a ``file:`` URI and True), deciding whether writes are refused."""
        try:
            if self.path.is_dir():
                raise StoreError(
                    f"{self.path} is a folder, not an mltrack store; name a file in it, "
                    f"e.g. sqlite:///{self.path / 'store.db'}"
                )
            if not self.path.exists():
                if self.read_only:
                    raise StoreError(
                        f"there is no mltrack store at {self.path} (no SQLite store file there); "
                        "check the path or MLTRACK_URI"
                    )
                self._create_parent_directory()
                return str(self.path), False
            if not (_may_write(self.path) and _may_write(self._folder())):
                self._refusal = _CANNOT_WRITE
                return f"file:{quote(str(self.path))}?mode=ro{self._immutable_option()}", True
            # mode=rw: never creates the file; read_only then relies on query_only, and SQLite cleans up
            # its -wal and -shm files when the last connection closes, as it cannot after a mode=ro one
            return f"file:{quote(str(self.path))}?mode=rw", True
        except StoreError:  # some are OSErrors too (StoreReadOnlyError is a PermissionError)
            raise
        except OSError as exc:
            raise StoreError(
                f"cannot open the store {self.path}: {exc.strerror or exc} (check the path and permissions)"
            ) from exc

    def _create_parent_directory(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            error = StoreReadOnlyError if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else StoreError
            raise error(f"cannot create the folder of the store {self.path}: {exc.strerror}") from exc
        if not _may_write(self.path.parent):
            raise StoreReadOnlyError(
                f"cannot create the store {self.path}: its folder cannot be written (a read-only filesystem, "
                "or no write permission); choose another path"
            )

    def _folder(self) -> Path:
        """The folder SQLite keeps the ``-wal`` and ``-shm`` files in: the real file's, symlinks followed."""
        return Path(os.path.realpath(self.path)).parent

    def _immutable_option(self) -> str:
        """``&immutable=1`` when the store must and may be read without its ``-shm`` file, else nothing.

        Returns:
            The option to add to the read-only ``file:`` URI, or an empty string.

        Raises:
            StoreError: the store is a WAL database that SQLite cannot read here and that may change.
        """
        real = os.path.realpath(self.path)
        if not _in_wal_mode(self.path) or os.path.exists(f"{real}-shm") or _may_write(self._folder()):
            return ""  # SQLite reads it as it is, or creates the -shm file it needs
        if not os.path.exists(f"{real}-wal") and _nobody_may_write(self._folder()):
            return "&immutable=1"  # no -wal and nobody may create one: nothing can change the file
        raise StoreError(
            f"cannot read the store {self.path}: SQLite needs to create {real}-shm to read it, and this user may "
            "not write its folder, while others may (so it could change while read). Make the folder writable "
            "for this user, or read-only for everyone (chmod a-w, or a read-only mount), or read it through "
            "`mltrack server`"
        )

    def _prepare(self) -> None:
        reader = self._connection()
        version, has_tables = self._translate(lambda: _schema_state(reader))
        check_schema_version(self.path, version, SCHEMA_VERSION)
        if version == SCHEMA_VERSION:
            return
        if version == 0 and (self.read_only or has_tables):
            raise self._not_a_store_error()
        if self.read_only:
            raise StoreVersionError(
                f"the store {self.path} has schema version {version}, made by an older mltrack; this one reads "
                f"version {SCHEMA_VERSION}. Open it once for writing to migrate it (mt.connect(uri) without "
                "read_only or ?mode=ro), then read it"
            )
        if self._refusal is not None:
            raise StoreReadOnlyError(
                f"the store {self.path} needs its tables created or migrated to schema version {SCHEMA_VERSION}, "
                "but its file or folder cannot be written by this process; open it once where it can be written"
            )
        self._retry_busy(self._switch_to_wal)
        version = self._in_transaction(self._migrate)
        check_schema_version(self.path, version, SCHEMA_VERSION)

    def _migrate(self, connection: sqlite3.Connection) -> int:
        """Create or migrate the tables, unless another process did (the version is read again under the lock)."""
        version, has_tables = _schema_state(connection)
        if version == 0 and has_tables:
            raise self._not_a_store_error()
        return migrate(connection, MIGRATIONS, version, _record_schema_version)

    def _not_a_store_error(self) -> StoreCorruptError:
        if self.path.stat().st_size == 0:
            return StoreCorruptError(
                f"{self.path} is an empty file, not an mltrack store; check the path or MLTRACK_URI"
            )
        return StoreCorruptError(
            f"{self.path} is an SQLite database but not an mltrack store; check the path or MLTRACK_URI "
            "(mltrack does not add its tables to another application's database)"
        )

    def _switch_to_wal(self) -> None:
        mode = self._connection().execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"cannot switch the store {self.path} to WAL mode (it reports {mode!r})")

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        if self._closed:
            raise StoreError("the store was closed; connect again")
        try:
            connection = sqlite3.connect(
                self._target,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
                uri=self._target_is_uri,
            )
        except sqlite3.Error as exc:
            raise self._store_error(exc) from exc
        try:
            for pragma in self._pragmas:
                connection.execute(pragma)
        except sqlite3.Error as exc:
            connection.close()
            raise self._store_error(exc) from exc
        with self._connections_lock:
            self._connections.append(connection)
        self._local.connection = connection
        return connection

    # ------------------------------------------------------------ transactions and errors

    def _in_transaction(self, action: Callable[[sqlite3.Connection], _Result]) -> _Result:
        if self._refusal is not None:
            raise StoreReadOnlyError(self._refusal)
        connection = self._connection()
        self._retry_busy(lambda: connection.execute("BEGIN IMMEDIATE"))
        try:
            result = self._translate(lambda: action(connection))
            self._retry_busy(lambda: connection.execute("COMMIT"))
        except BaseException:
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the error that got here says more
                    connection.execute("ROLLBACK")
            raise
        return result

    def _retry_busy(self, action: Callable[[], _Result]) -> _Result:
        deadline = time.monotonic() + GIVE_UP_AFTER_SECONDS
        delay = 0.01
        while True:
            try:
                return action()
            except sqlite3.Error as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise self._store_error(exc) from exc
            time.sleep(delay * (1 + _JITTER.random()))
            delay = min(delay * 2, 1.0)

    def _translate(self, action: Callable[[], _Result]) -> _Result:
        try:
            return action()
        except sqlite3.Error as exc:
            raise self._store_error(exc) from exc

    def _store_error(self, exc: sqlite3.Error) -> StoreError:
        """The StoreError for ``exc``; it names the file only while opening (see ``_opening``)."""
        message = str(exc)
        name = getattr(exc, "sqlite_errorname", "")  # Python 3.11+
        store = f"the store {self.path}" if self._opening else "the store"
        if self._closed:
            return StoreError("the store was closed; connect again")
        if _is_busy(exc):
            return StoreUnavailableError(f"{store} stayed locked by another writer: {message}")
        if name.startswith("SQLITE_READONLY") or "readonly" in message or "read-only" in message:
            return StoreReadOnlyError(
                f"{store} cannot be written: its file or folder is read-only for this process ({message})"
            )
        if name == "SQLITE_FULL" or "disk is full" in message:
            return StoreUnavailableError(f"{store} cannot be written: the disk is full ({message}); free some space")
        if "not a database" in message or "malformed" in message or "file is encrypted" in message:
            what = f"{self.path} is not a readable mltrack store" if self._opening else "the store file is damaged"
            return StoreCorruptError(
                f"{what} ({message}); point MLTRACK_URI at another file or restore this one from a backup"
            )
        if "unable to open" in message:
            return StoreError(f"cannot open {store}: {message} (check the path and permissions)")
        return StoreError(f"{store} failed: {message}")

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]:
        connection = self._connection()
        return self._translate(lambda: connection.execute(sql, parameters).fetchall())  # type: ignore[return-value]

    # ------------------------------------------------------------ the Store contract

    def get(self, ids: Sequence[str]) -> dict[str, StoredDocument]:
        found = {}
        for chunk in _chunks(_storable(ids)):
            marks = ",".join("?" * len(chunk))
            for id_, kind, document in self._read(
                f"SELECT id, kind, document FROM entities WHERE id IN ({marks})", chunk
            ):
                found[id_] = StoredDocument(kind, document)
        return found

    def find(self, query: Query) -> list[str]:
        where, parameters = _DIALECT.where(query)
        sql = f"SELECT id FROM entities WHERE {where} ORDER BY {_DIALECT.order_by(query.order)} LIMIT ? OFFSET ?"
        limit = -1 if query.limit is None else query.limit
        return [row[0] for row in self._read(sql, [*parameters, limit, query.offset])]

    def count(self, query: Query) -> int:
        where, parameters = _DIALECT.where(query)
        return self._read(f"SELECT COUNT(*) FROM entities WHERE {where}", parameters)[0][0]

    def links(self, ids: Sequence[str], direction: Literal["out", "in"]) -> list[Link]:
        column = "source" if direction == "out" else "target"
        found = []
        for chunk in _chunks(_storable(ids)):
            marks = ",".join("?" * len(chunk))
            rows = self._read(f"SELECT source, relation, target FROM links WHERE {column} IN ({marks})", chunk)
            found.extend(Link(*row) for row in rows)
        return found

    def scores(self, dataset_ids: Sequence[str], metric: str) -> list[tuple[str, float]]:
        found = []
        if not _encodable(metric):
            return []
        for chunk in _chunks(_storable(dataset_ids)):
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                "SELECT s.entity_id, s.value FROM links AS l JOIN scores AS s "
                f"ON s.entity_id = l.source AND s.metric = ? WHERE l.target IN ({marks}) AND l.relation = 'on_dataset'",
                [metric, *chunk],
            )
            found.extend((row[0], row[1]) for row in rows)
        return found

    def points(self, run_id: str) -> list[Point]:
        if not _encodable(run_id):
            return []
        rows = self._read("SELECT * FROM points WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [_point(row) for row in rows]

    # ------------------------------------------------------------ the optional reads of charts and tables

    def points_since(self, run_id: str, count: int) -> list[Point]:
        """The run's points after the first ``count``, in append order.

        A live chart asks again and again with a growing ``count``: the row of the last position answered is
        remembered, so that each call steps over the new points only (a run's points are only ever appended).
        """
        if not _encodable(run_id):
            return []
        if count <= 0:
            return self.points(run_id)
        known_count, known_row = self._positions.nearest(run_id, count)
        boundary = known_row
        if count > known_count:  # the row of the count-th point
            found = self._read(
                "SELECT rowid FROM points INDEXED BY points_by_run WHERE run_id = ? AND rowid > ? "
                "ORDER BY rowid LIMIT 1 OFFSET ?",
                (run_id, known_row, count - known_count - 1),
            )
            if not found:
                return []  # fewer points than count
            boundary = found[0][0]
        rows = self._read(
            "SELECT rowid, * FROM points WHERE run_id = ? AND rowid > ? ORDER BY rowid", (run_id, boundary)
        )
        self._positions.remember(run_id, count, boundary, [row[0] for row in rows])
        return [_point(row[1:]) for row in rows]

    def metric_summaries(self, run_ids: Sequence[str], metrics: Sequence[str] | None) -> dict[str, dict]:
        """Per run with points, the :class:`~mltrack_core.series.MetricSummary` of each metric, in one query.

        Ended runs' summaries were kept when they ended; those of training runs are computed from their points.
        """
        from mltrack_core.series import summary_of

        run_ids = _storable(run_ids)
        if not run_ids or (metrics is not None and not _storable(metrics)):
            return {}
        parameters: dict[str, object] = {"runs": json.dumps(run_ids)}
        of_metrics = ""
        if metrics is not None:
            of_metrics = " AND metric IN (SELECT value FROM json_each(:metrics))"
            parameters["metrics"] = json.dumps(_storable(metrics))
        wanted = "run_id IN (SELECT value FROM json_each(:runs))"
        kept = f"SELECT {_SUMMARY_COLUMNS} FROM run_metrics WHERE {wanted}{of_metrics}"
        # the runs without kept summaries are chosen before any point is read
        not_kept = (
            "run_id IN (SELECT value FROM json_each(:runs) WHERE NOT EXISTS "
            f"(SELECT 1 FROM run_metrics WHERE run_metrics.run_id = value)){of_metrics}"
        )
        rows = self._read(f"{kept} UNION ALL {_summaries_of_points(not_kept)}", parameters)
        found: dict[str, dict] = {}
        for run_id, metric, count, first, last, low, high, step, epoch, stamp in rows:
            summary = summary_of(metric, count, float(first), float(last), low, high, step, epoch, stamp)
            found.setdefault(run_id, {})[metric] = summary
        return found

    def metric_series(
        self, run_id: str, metric: str, axis: str, start: int | None, end: int | None, max_points: int
    ) -> SeriesData:
        """The series of one metric (see :mod:`mltrack_core.series`), aggregated by SQLite."""
        if not (_encodable(run_id) and _encodable(metric)):
            return EMPTY
        if axis == "step" and start is None and end is None and max_points <= OVERVIEW_POINTS:
            kept = self._kept_overview(run_id, metric, max_points)
            if kept is not None:
                return kept
        low_bound, high_bound = 0 if start is None else start, MAX_COUNT if end is None else end
        stepless = "SELECT EXISTS (SELECT 1 FROM points WHERE run_id = ? AND metric = ? AND step IS NULL)"
        if axis == "step" and not self._read(stepless, (run_id, metric))[0][0]:
            return self._series_by_step(run_id, metric, low_bound, high_bound, max_points)
        return self._series_grouped(run_id, metric, axis, low_bound, high_bound, max_points)

    def _kept_overview(self, run_id: str, metric: str, max_points: int) -> SeriesData | None:
        """The whole series of an ended run's metric from the overview kept when it ended, or None without one."""
        rows = self._read(
            "SELECT count, overview FROM run_metrics WHERE run_id = ? AND metric = ? AND overview IS NOT NULL",
            (run_id, metric),
        )
        if not rows:
            return None
        count, overview = rows[0]
        x, y = json.loads(overview)
        reduced = downsample(
            [(at, math.nan if value is None else value) for at, value in zip(x, y, strict=True)], max_points
        )
        return SeriesData(count, reduced.x, reduced.y, True)

    def _series_by_step(self, run_id: str, metric: str, start: int, end: int, max_points: int) -> SeriesData:
        """Every point has a step: each bucket is a range of the covering index, read without sorting."""
        where = "run_id = ? AND metric = ? AND step >= ? AND step <= ?"
        low, high = self._read(
            f"SELECT (SELECT MIN(step) FROM points WHERE {where}), (SELECT MAX(step) FROM points WHERE {where})",
            (run_id, metric, start, end) * 2,
        )[0]
        if low is None:
            return EMPTY
        buckets = []
        for first, past in bucket_bounds(low, high, bucket_count(max_points)):
            bucket = Bucket()
            if first < past:
                parameters = (run_id, metric, first, past - 1)  # past may be 2**63, beyond SQLite's integers
                ((x_low, value_low, count),) = self._read(
                    f"SELECT step, MIN(value), COUNT(*) FROM points WHERE {where}", parameters
                )
                if count:
                    ((x_high, value_high),) = self._read(
                        f"SELECT step, MAX(value) FROM points WHERE {where}", parameters
                    )
                    if is_finite(value_low) and is_finite(value_high):  # NaN (kept as text) sorts above every number
                        bucket = Bucket(count, (x_low, value_low), (x_high, value_high))
                    else:
                        bucket = self._bucket_with_gaps(where, parameters, count)
            buckets.append(bucket)
        if sum(bucket.count for bucket in buckets) <= max_points:  # few points: all of them
            rows = self._read(
                f"SELECT step, value FROM points WHERE {where} ORDER BY step, rowid", (run_id, metric, start, end)
            )
            return downsample([(x, float(value)) for x, value in rows], max_points)  # more if a writer just added
        x, y = series_from_buckets(buckets, max_points)
        return SeriesData(sum(bucket.count for bucket in buckets), x, y, True)

    def _bucket_with_gaps(self, where: str, parameters: tuple[object, ...], count: int) -> Bucket:
        """A bucket holding NaN or infinities: its finite extremes and its first non-finite step, read again."""
        finite = f"SELECT step, {{}}(value) FROM points WHERE {where} AND {_FINITE}"
        ((low_x, low), (high_x, high)) = (
            self._read(finite.format(extreme), parameters)[0] for extreme in ("MIN", "MAX")
        )
        ((gap,),) = self._read(f"SELECT MIN(step) FROM points WHERE {where} AND NOT {_FINITE}", parameters)
        return Bucket(
            count, (low_x, low) if low is not None else None, (high_x, high) if high is not None else None, gap
        )

    def _series_grouped(self, run_id: str, metric: str, axis: str, start: int, end: int, max_points: int) -> SeriesData:
        """Any axis: one statement groups the points in range by bucket (SQLite sorts them to group them)."""
        x = {
            "step": "COALESCE(step, ROW_NUMBER() OVER (ORDER BY rowid) - 1)",
            "epoch": "epoch",
            "time": "timestamp",
        }[axis]
        buckets_wanted = bucket_count(max_points)
        rows = self._read(
            f"""WITH chosen AS MATERIALIZED (
                SELECT x, value AS v, w, {_FINITE} AS finite FROM (
                    SELECT {x} AS x, value, rowid AS w FROM points WHERE run_id = :run AND metric = :metric
                ) WHERE x BETWEEN :start AND :end
            ),
            extent AS (SELECT MIN(x) AS low, MAX(x) - MIN(x) + 1 AS span, COUNT(*) AS total FROM chosen),
            bucketed AS MATERIALIZED (
                SELECT MIN(:buckets - 1, ((x - low) * :buckets) / span) AS b, x, v, finite
                FROM chosen, extent WHERE total > :max_points
            )
            SELECT 3, w, x, v, total FROM chosen, extent WHERE total <= :max_points
            UNION ALL SELECT 0, b, x, MIN(CASE WHEN finite THEN v END), COUNT(*) FROM bucketed GROUP BY b
            UNION ALL SELECT 1, b, x, MAX(CASE WHEN finite THEN v END), 0 FROM bucketed GROUP BY b
            UNION ALL SELECT 2, b, MIN(x), NULL, 0 FROM bucketed WHERE NOT finite GROUP BY b""",
            {
                "run": run_id,
                "metric": metric,
                "start": start,
                "end": end,
                "buckets": buckets_wanted,
                "max_points": max_points,
            },
        )
        return series_from_rows(rows, max_points)

    def close(self) -> None:
        with self._connections_lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        self._local = threading.local()

    # ------------------------------------------------------------ the primitives of BaseStore

    def _insert_absent(self, connection: sqlite3.Connection, records: list[Record]) -> dict[str, str]:
        # BEGIN IMMEDIATE keeps every other writer out: what is not stored now can be inserted
        taken = _by_id(connection, "SELECT id, content_hash FROM entities WHERE id IN", [r.id for r in records])
        self._insert(connection, [record for record in records if record.id not in taken])
        return taken

    def _stored_kinds(self, connection: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
        return _by_id(connection, "SELECT id, kind FROM entities WHERE id IN", ids)

    def _run_states(self, connection: sqlite3.Connection, run_ids: list[str], *, exclusive: bool) -> dict[str, str]:
        # no lock to take: BEGIN IMMEDIATE keeps every other writer out
        return _by_id(connection, "SELECT id, state FROM entities WHERE kind = 'run' AND id IN", run_ids)

    def _replace_run(self, connection: sqlite3.Connection, record: Record) -> None:
        connection.execute(
            "UPDATE entities SET name = ?, experiment = ?, content_hash = ?, state = ?, document = ? WHERE id = ?",
            (record.name, record.experiment, record.content_hash, record.state, record.document, record.id),
        )
        for table, column in (("links", "source"), ("labels", "entity_id")):
            connection.execute(f"DELETE FROM {table} WHERE {column} = ?", (record.id,))
        self._insert_related(connection, [record])

    def _insert_points(self, connection: sqlite3.Connection, points: Sequence[Point]) -> None:
        # SQLite turns a NaN REAL into NULL: keep it as the text "NaN" instead (see points())
        rows = [point if point[2] == point[2] else (*point[:2], "NaN", *point[3:]) for point in points]
        connection.executemany("INSERT INTO points VALUES (?, ?, ?, ?, ?, ?)", rows)

    def _claim_batch(self, connection: sqlite3.Connection, batch_id: str, run_ids: list[str]) -> bool:
        # nothing to wait for: BEGIN IMMEDIATE keeps every other writer out
        if connection.execute("SELECT 1 FROM batches WHERE batch_id = ? LIMIT 1", (batch_id,)).fetchone():
            return False
        connection.executemany("INSERT INTO batches VALUES (?, ?)", [(batch_id, run_id) for run_id in run_ids])
        return True

    def _forget_batches(self, connection: sqlite3.Connection, run_id: str) -> None:
        connection.execute("DELETE FROM batches WHERE run_id = ?", (run_id,))

    def _keep_metric_summaries(self, connection: sqlite3.Connection, run_id: str) -> None:
        connection.execute(
            f"INSERT OR REPLACE INTO run_metrics ({_SUMMARY_COLUMNS}) {_summaries_of_points('run_id = :run')}",
            {"run": run_id},
        )
        # A long history's chart opens from its overview: the first look at a 1M-point run costs what a 1k one does.
        long_ones = "SELECT metric FROM run_metrics WHERE run_id = ? AND count > ?"
        for (metric,) in connection.execute(long_ones, (run_id, OVERVIEW_POINTS)).fetchall():
            whole = self.metric_series(run_id, metric, "step", 0, MAX_COUNT, OVERVIEW_POINTS)
            connection.execute(
                "UPDATE run_metrics SET overview = ? WHERE run_id = ? AND metric = ?",
                (json.dumps([whole.x, whole.y], allow_nan=False), run_id, metric),
            )

    # ------------------------------------------------------------ internals

    def _insert(self, connection: sqlite3.Connection, records: list[Record]) -> None:
        connection.executemany(
            "INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (r.id, r.kind, r.name, r.experiment, r.created, r.content_hash, r.fingerprint, r.state, r.document)
                for r in records
            ],
        )
        self._insert_related(connection, records)

    def _insert_related(self, connection: sqlite3.Connection, records: list[Record]) -> None:
        connection.executemany(
            "INSERT OR IGNORE INTO links VALUES (?, ?, ?)",
            [(r.id, relation, target) for r in records for relation, target, _ in r.references],
        )
        connection.executemany(
            "INSERT INTO labels VALUES (?, ?, ?, ?)",
            [(r.id, scope, key, value) for r in records for scope, key, value in r.labels],
        )
        connection.executemany(
            "INSERT OR REPLACE INTO scores VALUES (?, ?, ?)",
            [(r.id, metric, value) for r in records for metric, value in r.scores],
        )
        insert_ranked(connection, _DIALECT, ranked_rows_of(records))


_FINITE = "value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308"
"""True for finite values: false for infinities and for NaN (kept as the text "NaN", which sorts above numbers)."""


OVERVIEW_POINTS = 2_000
"""Points of the overview kept of an ended run's metric with more points than this (what a chart of it all needs)."""
_SUMMARY_COLUMNS = "run_id, metric, count, first, last, minimum, maximum, last_step, last_epoch, last_timestamp"


def _summaries_of_points(condition: str) -> str:
    """The query computing the rows of ``run_metrics`` (but the overview) from the points that meet ``condition``."""
    return f"""SELECT totals.run_id, totals.metric, count, first_point.value, last_point.value, minimum, maximum,
            last_point.step, last_point.epoch, last_point.timestamp
        FROM (
            SELECT run_id, metric, COUNT(*) AS count, MIN(CASE WHEN {_FINITE} THEN value END) AS minimum,
                MAX(CASE WHEN {_FINITE} THEN value END) AS maximum, MIN(rowid) AS first, MAX(rowid) AS last
            FROM points WHERE {condition} GROUP BY run_id, metric
        ) AS totals
        JOIN points AS first_point ON first_point.rowid = totals.first
        JOIN points AS last_point ON last_point.rowid = totals.last"""


def _point(row: tuple) -> Point:
    """A point from a row of the points table (a NaN is stored as the text "NaN")."""
    return Point(*row) if row[2].__class__ is float else Point(*row[:2], float(row[2]), *row[3:])


def _encodable(text: str) -> bool:
    """Whether SQLite can take ``text``: no lone surrogates (which no store holds, so they match nothing)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    except AttributeError:  # not text: SQLite compares it as it is
        return True
    return True


def _storable(ids: Sequence[str]) -> list[str]:
    """The distinct ``ids`` that SQLite can take, in order."""
    return [id_ for id_ in dict.fromkeys(ids) if _encodable(id_)]


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _by_id(connection: sqlite3.Connection, select: str, ids: list[str]) -> dict[str, str]:
    """The rows of ``select`` (two columns, the condition ending in ``id IN``) for ``ids``, as a dict."""
    found: dict[str, str] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        found.update(connection.execute(f"{select} ({marks})", chunk).fetchall())
    return found


def _as_is(text: str) -> str:
    return text


def _label_condition(scope: str, key: str, value: str) -> tuple[str, tuple[object, ...]]:
    return "id IN (SELECT entity_id FROM labels WHERE scope = ? AND key = ? AND value = ?)", (scope, key, value)


_DIALECT = Dialect(placeholder="?", escape=_as_is, label_condition=_label_condition, kind_beside_links="+kind")
