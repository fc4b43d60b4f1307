"""The REST client's offline spool: writes kept on local disk while the metadata server is unreachable.

One SQLite file per server, in ``$MLTRACK_SPOOL`` (else ``$MLTRACK_HOME/spool/``), shared by every
process of the machine that writes to that server. Writes are kept in the
order they were made and sent again in that order (by the process that made
them as soon as the server answers, or by ``mltrack sync``). A file lock next
to the spool lets one process at a time replay it.

Sending a write again is always safe: entity writes are idempotent, and a
batch of metric points keeps the batch id it was given, which the server
applies once. A spooled write is marked *maybe sent* before each attempt to
send it (the server may have stored it although its answer never came): such
a write, like a batch whose earlier call failed, is sent alone under its own
batch id; batches that cannot have reached the server are merged into one
write, sent under the id of the first. Writes the server refuses (a conflict,
a reference it does not hold) are moved to a ``rejected`` table, never
dropped silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mltrack_core.errors import StoreError
from mltrack_core.store import StoredDocument

__all__ = ["MAX_MERGED_POINTS", "RejectedWrite", "Spool", "SpooledWrite", "spool_path", "spool_paths"]

MAX_MERGED_POINTS = 50_000
"""Metric points spooled one after another are merged into one write of at most this many points."""

Operation = Literal["put", "end", "points"]


@dataclass(frozen=True)
class SpooledWrite:
    """One write waiting for the server: the request to send, in spool order."""

    seq: int
    operation: Operation
    path: str
    body: str
    maybe_sent: bool
    batch: str | None = None
    """The batch id of metric points (None for other writes, and for points spooled before batch ids existed)."""


@dataclass(frozen=True)
class RejectedWrite:
    """A spooled write the server refused, with its answer."""

    seq: int
    operation: Operation
    path: str
    body: str
    error: str
    spooled_at: int
    rejected_at: int


def spool_path(folder: Path, server_uri: str) -> Path:
    """The spool file of the server ``server_uri`` (credentials removed) in ``folder``."""
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", server_uri.partition("://")[2]).strip("_")[:60]
    digest = hashlib.sha256(server_uri.encode()).hexdigest()[:10]
    return folder / f"{readable}-{digest}.sqlite"


def spool_paths(folder: Path) -> list[Path]:
    """Every spool file in ``folder``."""
    return sorted(folder.glob("*.sqlite")) if folder.is_dir() else []


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS writes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        operation TEXT NOT NULL,
        path TEXT NOT NULL,
        body TEXT NOT NULL,
        points INTEGER NOT NULL DEFAULT 0,
        maybe_sent INTEGER NOT NULL DEFAULT 0,
        spooled_at INTEGER NOT NULL,
        batch TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS documents (
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        kind TEXT NOT NULL,
        document TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS documents_by_id ON documents (id, seq)",
    """CREATE TABLE IF NOT EXISTS rejected (
        seq INTEGER PRIMARY KEY,
        operation TEXT NOT NULL,
        path TEXT NOT NULL,
        body TEXT NOT NULL,
        error TEXT NOT NULL,
        spooled_at INTEGER NOT NULL,
        rejected_at INTEGER NOT NULL
    )""",
)


class Spool:
    """The spool file of one server; safe to use from several threads and processes."""

    def __init__(self, path: Path, server_uri: str | None = None) -> None:
        self.path = Path(path)
        self.server_uri = server_uri
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<Spool {self.path}>"

    # ------------------------------------------------------------ state

    def has_pending(self) -> bool:
        """Whether any write waits (cheap: no file means nothing waits)."""
        if self._connection is None and not self.path.exists():
            return False
        return bool(self._read("SELECT EXISTS (SELECT 1 FROM writes)")[0][0])

    def pending(self) -> int:
        """How many writes wait."""
        if self._connection is None and not self.path.exists():
            return 0
        return self._read("SELECT COUNT(*) FROM writes")[0][0]

    def stored_server_uri(self) -> str | None:
        """The server this spool belongs to, as recorded in the file."""
        if self._connection is None and not self.path.exists():
            return self.server_uri
        rows = self._read("SELECT value FROM meta WHERE key = 'server'")
        return rows[0][0] if rows else self.server_uri

    # ------------------------------------------------------------ spooling

    def add(
        self,
        operation: Operation,
        path: str,
        body: str,
        *,
        documents: Sequence[tuple[str, str, str]] = (),
        points: int = 0,
        batch: str | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Keep one write, after every write already kept.

        ``documents`` are the (id, kind, document) triples it stores, for reads
        while it waits. Metric points (``body`` a JSON array, ``batch`` their
        batch id) are merged into the last write when neither may have reached
        the server: that write holds points too and has not been tried yet, and
        ``maybe_sent`` is False. The merged write keeps the batch id of its first
        batch; the ids of the others are never sent, which is safe because none
        of them was.
        """
        with self._transaction() as connection:
            if operation == "points" and not maybe_sent and self._merge_points(connection, body, points):
                return
            seq = connection.execute(
                "INSERT INTO writes (operation, path, body, points, maybe_sent, spooled_at, batch) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (operation, path, body, points, int(maybe_sent), _now_ms(), batch),
            ).lastrowid
            connection.executemany(
                "INSERT INTO documents VALUES (?, ?, ?, ?)", [(seq, id_, kind, doc) for id_, kind, doc in documents]
            )

    def _merge_points(self, connection: sqlite3.Connection, body: str, points: int) -> bool:
        last = connection.execute(
            "SELECT seq, operation, body, points, maybe_sent FROM writes ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if last is None or last[1] != "points" or last[4] or last[3] + points > MAX_MERGED_POINTS:
            return False
        merged = last[2][:-1] + "," + body[1:]  # two JSON arrays become one
        connection.execute("UPDATE writes SET body = ?, points = ? WHERE seq = ?", (merged, last[3] + points, last[0]))
        return True

    # ------------------------------------------------------------ replaying

    def claim_first(self) -> SpooledWrite | None:
        """The oldest waiting write, marked *maybe sent* (durably) before it is returned to be sent.

        Its ``maybe_sent`` says whether it was marked before, by an earlier attempt whose outcome is
        unknown. Reading and marking are one transaction, so no points are merged into a write
        after it was read for sending.
        """
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT seq, operation, path, body, maybe_sent, batch FROM writes ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            if not row[4]:
                connection.execute("UPDATE writes SET maybe_sent = 1 WHERE seq = ?", (row[0],))
        seq, operation, path, body, maybe_sent, batch = row
        return SpooledWrite(seq, operation, path, body, bool(maybe_sent), batch)

    def remove(self, write: SpooledWrite) -> None:
        """Forget a write the server has stored."""
        with self._transaction() as connection:
            connection.execute("DELETE FROM writes WHERE seq = ?", (write.seq,))
            connection.execute("DELETE FROM documents WHERE seq = ?", (write.seq,))

    def reject(self, write: SpooledWrite, error: str) -> None:
        """Move a write the server refused to the ``rejected`` table."""
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO rejected SELECT seq, operation, path, body, ?, spooled_at, ? FROM writes WHERE seq = ?",
                (error, _now_ms(), write.seq),
            )
            connection.execute("DELETE FROM writes WHERE seq = ?", (write.seq,))
            connection.execute("DELETE FROM documents WHERE seq = ?", (write.seq,))

    def rejected(self) -> list[RejectedWrite]:
        """The writes the server refused, oldest first."""
        if self._connection is None and not self.path.exists():
            return []
        rows = self._read(
            "SELECT seq, operation, path, body, error, spooled_at, rejected_at FROM rejected ORDER BY seq"
        )
        return [RejectedWrite(*row) for row in rows]

    # ------------------------------------------------------------ reads while writes wait

    def documents(self, ids: Sequence[str]) -> dict[str, StoredDocument]:
        """The newest spooled document of each of ``ids`` that a waiting write holds."""
        if not ids or not self.has_pending():
            return {}
        found: dict[str, StoredDocument] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._read(f"SELECT id, kind, document FROM documents WHERE id IN ({marks}) ORDER BY seq", chunk)
            for id_, kind, document in rows:
                found[id_] = StoredDocument(kind, document)  # later writes (a run's end) win
        return found

    # ------------------------------------------------------------ the file

    def lock_path(self) -> Path:
        """The file lock that lets one process at a time replay this spool."""
        return self.path.with_name(self.path.name + ".lock")

    def close(self) -> None:
        """Close the file (it is reopened when used again)."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = FULL")
                connection.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:
                    connection.execute(statement)
                _add_batch_column(connection)
                if self.server_uri:
                    connection.execute("INSERT OR IGNORE INTO meta VALUES ('server', ?)", (self.server_uri,))
                connection.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(
                    f"cannot open the offline spool {self.path}: {exc}; check the folder's permissions "
                    "(set MLTRACK_SPOOL to keep spools elsewhere)"
                ) from exc
            self._connection = connection
        return self._connection

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._open().execute(sql, parameters).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"the offline spool {self.path} cannot be read: {exc}") from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            connection = self._open()
            try:
                connection.execute("BEGIN IMMEDIATE")
                yield connection
                connection.execute("COMMIT")
            except sqlite3.Error as exc:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise StoreError(f"the offline spool {self.path} cannot be written: {exc}") from exc
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise


def _add_batch_column(connection: sqlite3.Connection) -> None:
    """Give a spool made before batch ids existed the column that keeps them (its writes get None)."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(writes)")}
    if "batch" not in columns:
        connection.execute("ALTER TABLE writes ADD COLUMN batch TEXT")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
