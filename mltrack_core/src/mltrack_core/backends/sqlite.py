"""The ``sqlite://`` backend: the embedded store, one file, no server.

URIs follow SQLAlchemy's convention: ``sqlite:///relative/path.db`` (three
slashes) and ``sqlite:////absolute/path.db`` (four); ``~`` is expanded;
``?mode=ro`` opens the store read-only.

Several processes and threads may write at once. The database runs in WAL
mode; every write is one ``BEGIN IMMEDIATE`` transaction (so a write never
fails half-way and never needs a lock upgrade), and a busy database is waited
for and retried rather than reported as "database is locked". Creating the
tables happens inside such a transaction too, so processes racing to create a
new store all succeed. The schema is versioned (``PRAGMA user_version``) and
migrated forward when a store made by an older release is opened.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from mltrack_core.backends.sql import Dialect, check_schema_version, migrate
from mltrack_core.errors import (
    StoreCorruptError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from mltrack_core.hookspecs import hookimpl
from mltrack_core.store import BaseStore, Link, Point, Query, Record, StoredDocument

BUSY_TIMEOUT_SECONDS = 30.0
"""How long one SQLite call waits for a lock before mltrack retries it."""
GIVE_UP_AFTER_SECONDS = 300.0
"""How long a write keeps retrying a busy database before raising StoreUnavailableError."""
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit

_Result = TypeVar("_Result")


@hookimpl
def mltrack_open_store(uri: str) -> SqliteStore:
    """The SQLite store a ``sqlite://`` URI names, created when missing (entry point ``sqlite``)."""
    path, read_only = parse_uri(uri)
    return SqliteStore(path, read_only=read_only, uri=uri)


def parse_uri(uri: str) -> tuple[Path, bool]:
    """The file path and read-only flag of a ``sqlite://`` URI."""
    parts = urlsplit(uri)
    if parts.netloc or not parts.path.startswith("/") or len(parts.path) < 2:
        raise StoreError(
            f"cannot read the SQLite store path from {uri!r}: write sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    options = parse_qs(parts.query)
    unknown = sorted(set(options) - {"mode"})
    mode = options.get("mode", ["rw"])[-1]
    if unknown or mode not in ("ro", "rw"):
        raise StoreError(f"unsupported option in {uri!r}: only ?mode=ro (read-only) or ?mode=rw is understood")
    return Path(unquote(parts.path[1:])).expanduser(), mode == "ro"


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


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_create_tables, _add_labels)
"""``MIGRATIONS[n]`` brings a store from version n to n + 1. Append; never edit a released step."""
SCHEMA_VERSION = len(MIGRATIONS)


def _schema_version(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA user_version").fetchone()[0]


def _record_schema_version(connection: sqlite3.Connection, version: int) -> None:
    connection.execute(f"PRAGMA user_version = {version}")


# ---------------------------------------------------------------- the store


class SqliteStore(BaseStore[sqlite3.Connection]):
    """A :class:`~mltrack_core.store.Store` in one SQLite file (one connection per thread)."""

    def __init__(self, path: Path, *, read_only: bool = False, uri: str | None = None) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.uri = uri or f"sqlite:///{self.path}"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        if read_only and not self.path.exists():
            raise StoreError(f"no SQLite store at {self.path} to open read-only")
        if not read_only:
            self._create_parent_directory()
        self._prepare()

    # ------------------------------------------------------------ opening

    def _create_parent_directory(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of the store {self.path}: {exc.strerror}") from exc

    def _prepare(self) -> None:
        reader = self._connection()
        version = self._translate(lambda: _schema_version(reader))
        check_schema_version(self.path, version, SCHEMA_VERSION)
        if version == SCHEMA_VERSION:
            return
        if self.read_only:
            raise StoreReadOnlyError(
                f"the store {self.path} has schema version {version} and needs migrating to "
                f"{SCHEMA_VERSION}; open it once without ?mode=ro"
            )
        self._retry_busy(self._switch_to_wal)
        version = self._in_transaction(
            lambda connection: migrate(connection, MIGRATIONS, _schema_version(connection), _record_schema_version)
        )
        check_schema_version(self.path, version, SCHEMA_VERSION)

    def _switch_to_wal(self) -> None:
        mode = self._connection().execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"cannot switch the store {self.path} to WAL mode (it reports {mode!r})")

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        if self._closed:
            raise StoreError(f"the store {self.uri} was closed; connect again")
        if self.read_only:
            target, uri = f"file:{self.path}?mode=ro", True
        else:
            target, uri = str(self.path), False
        try:
            connection = sqlite3.connect(
                target, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False, uri=uri
            )
            # in WAL mode, NORMAL keeps commits across a crash of the process and syncs at checkpoints
            connection.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise self._store_error(exc) from exc
        with self._connections_lock:
            self._connections.append(connection)
        self._local.connection = connection
        return connection

    # ------------------------------------------------------------ transactions and errors

    def _in_transaction(self, action: Callable[[sqlite3.Connection], _Result]) -> _Result:
        if self.read_only:
            raise StoreReadOnlyError(f"the store {self.uri} was opened read-only (?mode=ro); it cannot be written")
        connection = self._connection()
        self._retry_busy(lambda: connection.execute("BEGIN IMMEDIATE"))
        try:
            result = action(connection)
            self._retry_busy(lambda: connection.execute("COMMIT"))
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return result

    def _retry_busy(self, action: Callable[[], object]) -> object:
        deadline = time.monotonic() + GIVE_UP_AFTER_SECONDS
        delay = 0.01
        while True:
            try:
                return self._translate(action)
            except StoreUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)

    def _translate(self, action: Callable[[], object]) -> object:
        try:
            return action()
        except sqlite3.Error as exc:
            raise self._store_error(exc) from exc

    def _store_error(self, exc: sqlite3.Error) -> StoreError:
        message = str(exc)
        if "locked" in message or "busy" in message:
            return StoreUnavailableError(f"the store {self.path} stayed locked by another writer: {message}")
        if "readonly" in message or "read-only" in message:
            return StoreReadOnlyError(f"the store {self.path} cannot be written: {message}")
        if "not a database" in message or "malformed" in message or "file is encrypted" in message:
            return StoreCorruptError(
                f"{self.path} is not a readable mltrack store ({message}); point MLTRACK_URI at another "
                "file or restore this one from a backup"
            )
        if "unable to open" in message:
            return StoreError(f"cannot open the store {self.path}: {message} (check the path and permissions)")
        return StoreError(f"the store {self.path} failed: {message}")

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]:
        connection = self._connection()
        return self._translate(lambda: connection.execute(sql, parameters).fetchall())  # type: ignore[return-value]

    # ------------------------------------------------------------ the Store contract

    def get(self, ids: Sequence[str]) -> dict[str, StoredDocument]:
        found = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            for id_, kind, document in self._read(
                f"SELECT id, kind, document FROM entities WHERE id IN ({marks})", chunk
            ):
                found[id_] = StoredDocument(kind, document)
        return found

    def find(self, query: Query) -> list[str]:
        where, parameters = _DIALECT.where(query)
        sql = f"SELECT id FROM entities WHERE {where} ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?"
        limit = -1 if query.limit is None else query.limit
        return [row[0] for row in self._read(sql, [*parameters, limit, query.offset])]

    def count(self, query: Query) -> int:
        where, parameters = _DIALECT.where(query)
        return self._read(f"SELECT COUNT(*) FROM entities WHERE {where}", parameters)[0][0]

    def links(self, ids: Sequence[str], direction: Literal["out", "in"]) -> list[Link]:
        column = "source" if direction == "out" else "target"
        found = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            rows = self._read(f"SELECT source, relation, target FROM links WHERE {column} IN ({marks})", chunk)
            found.extend(Link(*row) for row in rows)
        return found

    def scores(self, dataset_ids: Sequence[str], metric: str) -> list[tuple[str, float]]:
        found = []
        for chunk in _chunks(list(dict.fromkeys(dataset_ids))):
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                "SELECT s.entity_id, s.value FROM links AS l JOIN scores AS s "
                f"ON s.entity_id = l.source AND s.metric = ? WHERE l.target IN ({marks}) AND l.relation = 'on_dataset'",
                [metric, *chunk],
            )
            found.extend((row[0], row[1]) for row in rows)
        return found

    def points(self, run_id: str) -> list[Point]:
        rows = self._read("SELECT * FROM points WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [Point(*row) if row[2].__class__ is float else Point(*row[:2], float(row[2]), *row[3:]) for row in rows]

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


_DIALECT = Dialect(placeholder="?", escape=_as_is, label_condition=_label_condition)
