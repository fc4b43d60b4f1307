"""The ``http://`` and ``https://`` backend: a client of the mltrack metadata service.

``MLTRACK_URI=http://host:8686`` sends everything the tracker records to a
server started with ``mltrack server`` (a path prefix after the port is kept,
for a server behind a reverse proxy). The bearer token comes from
``MLTRACK_TOKEN``, or from the URI: ``https://TOKEN@host`` (or
``https://any-name:TOKEN@host``); it is never part of ``tracker.uri``.

Requests go through one keep-alive :class:`requests.Session`; the proxy and
CA-bundle settings of the environment are read once, when the client is made
(see :func:`_settle_environment`). Metric points
travel in the batches the tracker's background writer makes. Transient
failures (connection refused or dropped, timeouts, 502/503/504) are retried
with exponential backoff, which is safe because creating an entity again is a
no-op and every metric batch travels with its batch id, which the server
applies once (a batch given without one gets a fresh id from the client).

**When the server is unreachable** writes are not lost and never raise: they
go to an offline spool on local disk (``$MLTRACK_SPOOL``, else
``$MLTRACK_HOME/spool/``; see :mod:`mltrack_core.backends.spool`) and are
sent, in order, as soon as the server answers again: on the next write or
read of any client of that server on this machine, when the tracker is
closed, or with ``mltrack sync``. While the server is unreachable the client
does not wait for it on every call: it tries again after a pause that grows
from 1 to 30 seconds. A refused token or a failing server keeps the spooled
writes where they are (the error is raised); only writes the server refuses
as wrong are set aside (see below).

**Reads while writes are spooled.** Before a read, spooled writes are sent
first, so a client reads its own writes. When the server cannot be reached,
:meth:`RestStore.get` answers from what this client knows: the documents
waiting in the spool and those it wrote or read before (the run being ended,
the dataset a model is trained on), so ``run.finish()`` and
``track_model(..., trained_on=dataset)`` keep working; ids it does not know,
and every query (find, count, lineage, leaderboards, a run's points), raise
:class:`~mltrack_core.errors.StoreUnavailableError`. Writes the server
refuses when they are finally sent (a conflict made meanwhile by another
client, say) are kept in the spool's ``rejected`` table, reported with a
:class:`~mltrack_core.errors.TrackingWarning` and listed by ``mltrack sync``.
"""

from __future__ import annotations

import collections
import json
import os
import random
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import SplitResult, unquote, urlencode, urlsplit, urlunsplit

from mltrack_core import wire
from mltrack_core.backends.uris import mask_credentials
from mltrack_core.errors import (
    MissingDependencyError,
    MltrackError,
    NotFoundError,
    SchemaError,
    StoreError,
    StoreUnavailableError,
    TrackingWarning,
)
from mltrack_core.hookspecs import hookimpl
from mltrack_core.schema import ScoreAtTime, dumps, float_from_json
from mltrack_core.series import EMPTY, MetricSummary, SeriesData
from mltrack_core.store import Link, Point, Query, Record, StoredDocument, check_batch_id

_JITTER = random.Random()  # retry jitter from a private generator: the program's random draws stay its own

if TYPE_CHECKING:
    import requests

    from mltrack_core.backends.spool import Spool, SpooledWrite

__all__ = [
    "SCHEMES",
    "SPOOL_VARIABLE",
    "TOKEN_VARIABLE",
    "RestStore",
    "SyncResult",
    "server_uri",
    "spool_folder",
    "spool_of",
]

SCHEMES = ("http", "https")
TOKEN_VARIABLE = "MLTRACK_TOKEN"
SPOOL_VARIABLE = "MLTRACK_SPOOL"
ATTEMPTS = 4
"""Tries of one request before the server counts as unreachable (backoff 0.2 s, 0.4 s, 0.8 s between them)."""
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 120.0
OFFLINE_PAUSE_SECONDS = (1.0, 30.0)
"""First and longest pause before an unreachable server is tried again."""
KNOWN_DOCUMENTS = 4096
"""How many documents written or read are remembered for reads while the server is unreachable."""
_TRANSIENT_STATUSES = {429, 502, 503, 504}
_MAYBE_PROCESSED_STATUSES = {502, 504}  # a proxy answered: the server may have done the work
_REFUSED_STATUSES = {400, 404, 409, 413, 422}  # the write itself is wrong: sending it again cannot help


@hookimpl
def mltrack_open_store(uri: str) -> RestStore:
    """A client of the metadata server the URI names (entry points ``http``, ``https``)."""
    return RestStore(uri)


@dataclass(frozen=True)
class SyncResult:
    """What :meth:`RestStore.sync` did: writes sent, writes still waiting, writes the server refused."""

    server: str
    spool: str
    sent: int
    pending: int
    rejected: int
    reachable: bool


class _Unreachable(Exception):
    """The server did not answer (after retries); ``maybe_sent``: the request may have been processed."""

    def __init__(self, reason: str, maybe_sent: bool) -> None:
        super().__init__(reason)
        self.maybe_sent = maybe_sent


_SPOOLED: dict[str, Any] = {}  # what _write returns when the write went to the spool


class RestStore:
    """A :class:`~mltrack_core.store.Store` served by an mltrack metadata server."""

    def __init__(self, uri: str, *, token: str | None = None, spool_folder: os.PathLike[str] | None = None) -> None:
        try:
            import requests
            import requests.adapters
        except ImportError as exc:  # pragma: no cover - requests is a dependency of mltrack-core
            raise MissingDependencyError("the http(s):// backend needs requests: pip install requests") from exc
        parts = _parse_server_uri(uri)
        uri_token = unquote(parts.password or parts.username or "") or None
        self.uri = server_uri(uri)
        self._token = token or uri_token or os.environ.get(TOKEN_VARIABLE) or None
        self._requests = requests
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=32, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"Content-Type": "application/json", "User-Agent": "mltrack-rest-client/1"})
        _settle_environment(self._session, self.uri)
        if self._token:
            self._session.headers["Authorization"] = f"Bearer {self._token}"
        self.spool: Spool = spool_of(self.uri, spool_folder)
        self._state_lock = threading.Lock()
        self._offline_until = 0.0
        self._offline_pause = OFFLINE_PAUSE_SECONDS[0]
        self._warned_offline = False
        self._known: collections.OrderedDict[str, StoredDocument] = collections.OrderedDict()
        self._replaying = threading.Lock()
        self._unsure_batches: set[str] = set()  # ids of batches whose last call failed: they may be stored
        self._closed = False

    def __repr__(self) -> str:
        return f"<RestStore {self.uri}>"

    # ------------------------------------------------------------ writes

    def put(self, records: Sequence[Record], points: Sequence[Point] = ()) -> list[str]:
        body = '{"entities":[' + ",".join(_documents_with_points(records, points)) + "]}"
        documents = [(record.id, record.kind, record.document) for record in records]
        answer = self._write("put", wire.ENTITIES, body, documents=documents)
        self._remember(documents)
        if answer is _SPOOLED:
            return list(dict.fromkeys(record.id for record in records))
        return answer["written"]

    def update_run(self, record: Record) -> None:
        path = wire.path(wire.END_RUN, run_id=record.id)
        documents = [(record.id, record.kind, record.document)]
        self._write("end", path, '{"run":' + record.document + "}", documents=documents)
        self._remember(documents)

    def append_points(self, points: Sequence[Point], batch_id: str | None = None) -> bool:
        if not points:
            return True
        if batch_id is None:
            batch_id = uuid.uuid4().hex  # the retries of this call are applied once all the same
        check_batch_id(batch_id)
        rows = dumps(points, separators=(",", ":"))  # tuples become JSON arrays
        # a batch whose last call failed may have reached the server: never merge it in the spool
        unsure = batch_id in self._unsure_batches
        try:
            answer = self._write("points", wire.POINTS, rows, points=len(points), batch=batch_id, maybe_sent=unsure)
        except BaseException as exc:
            if not (isinstance(exc, MltrackError) and wire.status_of(exc) in _REFUSED_STATUSES):
                self._unsure_batches.add(batch_id)  # not refused as wrong: it may have been stored
            raise
        self._unsure_batches.discard(batch_id)
        return answer.get("appended") != 0  # 0: the server had applied the batch before this call

    # ------------------------------------------------------------ reads

    def get(self, ids: Sequence[str]) -> dict[str, StoredDocument]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        try:
            answer = self._read("POST", wire.LOOKUP, {"ids": unique})
        except StoreUnavailableError:
            return self._known_documents(unique)
        found = {
            id_: StoredDocument(document["kind"], _canonical(document)) for id_, document in answer["entities"].items()
        }
        if self.spool.has_pending():  # writes still waiting (another process is sending them) are newer
            found.update(self.spool.documents(unique))
        self._remember([(id_, stored.kind, stored.document) for id_, stored in found.items()])
        return found

    def find(self, query: Query) -> list[str]:
        return self._read("POST", wire.QUERY_IDS, wire.query_to_json(query))["ids"]

    def count(self, query: Query) -> int:
        return self._read("POST", wire.QUERY_COUNT, wire.query_to_json(query))["count"]

    def links(self, ids: Sequence[str], direction: Literal["out", "in"]) -> list[Link]:
        answer = self._read("POST", wire.LINKS, {"ids": list(dict.fromkeys(ids)), "direction": direction})
        return [Link(*link) for link in answer["links"]]

    def scores(self, dataset_ids: Sequence[str], metric: str) -> list[tuple[str, float]]:
        answer = self._read("POST", wire.SCORES, {"datasets": list(dict.fromkeys(dataset_ids)), "metric": metric})
        return [(id_, float_from_json(value)) for id_, value in answer["scores"]]

    def points(self, run_id: str) -> list[Point]:
        try:
            answer = self._read("GET", wire.path(wire.RUN_POINTS, run_id=run_id))
        except NotFoundError:
            return []  # the Store contract: an unknown run has no points
        return [Point(run, metric, float_from_json(value), *rest) for run, metric, value, *rest in answer["points"]]

    # ------------------------------------------------------------ the optional reads of charts and tables

    def points_since(self, run_id: str, count: int) -> list[Point]:
        """The run's points after the first ``count``, in append order (``GET /v1/runs/{id}/points?after=``)."""
        try:
            answer = self._read("GET", wire.path(wire.RUN_POINTS, run_id=run_id) + f"?after={int(count)}")
        except NotFoundError:
            return []
        return [Point(run, metric, float_from_json(value), *rest) for run, metric, value, *rest in answer["points"]]

    def metric_series(
        self, run_id: str, metric: str, axis: str, start: int | None, end: int | None, max_points: int
    ) -> SeriesData:
        """The series of one metric, downsampled by the server (``GET /v1/runs/{id}/series``)."""
        parameters = {"metric": metric, "axis": axis, "start": start, "end": end, "max_points": max_points}
        try:
            query = urlencode({name: value for name, value in parameters.items() if value is not None})
        except UnicodeEncodeError:  # a lone surrogate: no stored metric has such a name
            return EMPTY
        try:
            answer = self._read("GET", wire.path(wire.RUN_SERIES, run_id=run_id) + "?" + query)
        except NotFoundError:
            return EMPTY
        y = [None if value is None else float(value) for value in answer["y"]]
        return SeriesData(answer["total"], answer["x"], y, answer["downsampled"])

    def metric_summaries(self, run_ids: Sequence[str], metrics: Sequence[str] | None) -> dict[str, dict]:
        """Per run, the :class:`~mltrack_core.series.MetricSummary` of each metric (``POST /v1/runs/summaries``)."""
        wanted = None if metrics is None else [metric for metric in metrics if metric]  # no metric is unnamed
        body = {"runs": list(dict.fromkeys(run_ids)), "metrics": wanted}
        answer = self._read("POST", wire.RUN_SUMMARIES, body)
        return {
            run_id: {name: _summary_from_json(summary) for name, summary in summaries.items()}
            for run_id, summaries in answer["runs"].items()
            if summaries
        }

    # ------------------------------------------------------------ the optional queries, answered where the data is

    def leaderboard(
        self, dataset_id: str, metric: str, procedure: str | None, limit: int | None, offset: int = 0
    ) -> dict[str, Any]:
        """The leaderboard the server ranks (``GET /v1/datasets/{id}/leaderboard``), as its JSON answer."""
        query = _query_string(metric=metric, procedure=procedure, limit=limit, offset=offset or None)
        return self._read("GET", wire.path(wire.LEADERBOARD, dataset_id=dataset_id) + query)

    def lineage(self, root: str, direction: str, depth: int | None) -> dict[str, Any]:
        """The lineage the server walks (``GET /v1/entities/{id}/lineage``), as its JSON answer."""
        query = _query_string(direction=direction, depth=depth)
        return self._read("GET", wire.path(wire.LINEAGE, entity_id=root) + query)

    def comparable(self, a: str, b: str, metric: str | None) -> dict[str, Any]:
        """Whether the server finds two evaluations comparable (``GET /v1/evaluations/{a}/comparable/{b}``)."""
        return self._read("GET", wire.path(wire.COMPARABLE, a=a, b=b) + _query_string(metric=metric))

    def diff(self, a: str, b: str) -> dict[str, Any]:
        """What the server finds different between two models (``GET /v1/models/{a}/diff/{b}``)."""
        return self._read("GET", wire.path(wire.DIFF, a=a, b=b))

    # ------------------------------------------------------------ the spool

    def sync(self, wait: float = 60.0) -> SyncResult:
        """Send the spooled writes now, in order; wait up to ``wait`` s for another process replaying them."""
        with self._state_lock:
            self._offline_until = 0.0  # try now, whatever the pause
        sent, reachable = self._replay(wait)
        return SyncResult(
            server=self.uri,
            spool=str(self.spool.path),
            sent=sent,
            pending=self.spool.pending(),
            rejected=len(self.spool.rejected()),
            reachable=reachable,
        )

    def close(self, *, send_spooled: bool = True) -> None:
        """Send what the spool holds (when the server answers and ``send_spooled``), then release the session."""
        if self._closed:
            return
        self._closed = True
        try:
            if send_spooled and self.spool.has_pending() and not self._offline():
                self._replay(wait=5.0)
        except MltrackError as exc:  # the writes stay in the spool for mltrack sync
            warnings.warn(f"mltrack: spooled writes to {self.uri} were not sent: {exc}", TrackingWarning, stacklevel=2)
        self.spool.close()
        self._session.close()

    # ------------------------------------------------------------ internals: writing

    def _write(
        self,
        operation: Literal["put", "end", "points"],
        path: str,
        body: str,
        *,
        documents: Sequence[tuple[str, str, str]] = (),
        points: int = 0,
        batch: str | None = None,
        maybe_sent: bool = False,
    ) -> dict[str, Any]:
        if self.spool.has_pending():
            self._replay(wait=0.0)
        if self._offline() or self.spool.has_pending():
            self.spool.add(
                operation, path, body, documents=documents, points=points, batch=batch, maybe_sent=maybe_sent
            )
            return _SPOOLED
        try:
            answer = self._send(operation, path, body, batch=batch)
        except _Unreachable as exc:
            self._went_offline(str(exc))
            maybe_sent = maybe_sent or exc.maybe_sent
            self.spool.add(
                operation, path, body, documents=documents, points=points, batch=batch, maybe_sent=maybe_sent
            )
            return _SPOOLED
        if self._warned_offline:
            self._back_online()
        return answer

    def _send(self, operation: str, path: str, body: str, *, batch: str | None = None) -> dict[str, Any]:
        """Send one write, retrying transient failures; raises _Unreachable when they do not pass.

        Metric points come as a JSON array of rows (as the spool keeps them, so they can be merged)
        with their batch id: the server applies a batch once, so sending it again is always safe.
        """
        if operation == "points":
            batch = batch or uuid.uuid4().hex  # points spooled by a release that kept no batch id
            body = '{"points":' + body + ',"batch":' + json.dumps(batch) + "}"
        reason = ""
        maybe_sent = False
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(0.2 * 2 ** (attempt - 1) * (1 + _JITTER.random() / 2))
            try:
                response = self._request("POST", path, body)
            except _Unreachable as exc:
                maybe_sent = maybe_sent or exc.maybe_sent
                reason = str(exc)
                continue
            if response.status_code in _TRANSIENT_STATUSES:
                maybe_sent = maybe_sent or response.status_code in _MAYBE_PROCESSED_STATUSES
                reason = f"HTTP {response.status_code}: {_message_of(response)}"
                continue
            answer = self._answer(response)
            if maybe_sent and answer.get("appended") == 0:
                answer["appended"] = None  # not applied before this call: by its attempt whose answer was lost
            return answer
        raise _Unreachable(reason, maybe_sent)

    def _replay(self, wait: float) -> tuple[int, bool]:
        """Send spooled writes in order until none is left or the server stops answering.

        Returns (writes sent, whether the server answered). One thread of this
        process and one process of this machine replay at a time; others return at once
        (or wait up to ``wait`` seconds).
        """
        from filelock import FileLock, Timeout

        if self._offline():
            return 0, False
        acquired = self._replaying.acquire(timeout=wait) if wait > 0 else self._replaying.acquire(blocking=False)
        if not acquired:
            return 0, True
        sent = 0
        try:
            with FileLock(self.spool.lock_path(), timeout=wait if wait > 0 else 0, thread_local=False):
                while (write := self.spool.claim_first()) is not None:
                    outcome = self._replay_one(write)
                    if outcome is None:
                        return sent, False
                    sent += outcome
        except Timeout:
            return sent, True
        finally:
            self._replaying.release()
        self._back_online()
        return sent, True

    def _replay_one(self, write: SpooledWrite) -> int | None:
        """Send one spooled write: 1 when stored, 0 when the server refused it, None when unreachable."""
        try:
            self._send(write.operation, write.path, write.body, batch=write.batch)
        except _Unreachable as exc:
            self._went_offline(str(exc))
            return None
        except MltrackError as exc:
            if wire.status_of(exc) not in _REFUSED_STATUSES:
                raise  # not the write's fault (a token refused, the server failing): it stays in the spool
            self.spool.reject(write, f"{type(exc).__name__}: {exc}")
            warnings.warn(
                f"mltrack: the server {self.uri} refused a write kept while it was unreachable "
                f"({write.operation} {write.path}): {exc}; it is kept in {self.spool.path} (mltrack sync --status)",
                TrackingWarning,
                stacklevel=4,
            )
            return 0
        self.spool.remove(write)
        return 1

    # ------------------------------------------------------------ internals: reading

    def _read(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """A read, after the spooled writes are sent; StoreUnavailableError when the server cannot be reached."""
        if self.spool.has_pending():
            self._replay(wait=30.0)
        if self._offline():
            raise self._unavailable("it did not answer a moment ago")
        body = None if payload is None else dumps(payload, separators=(",", ":"))
        reason = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(0.2 * 2 ** (attempt - 1) * (1 + _JITTER.random() / 2))
            try:
                response = self._request(method, path, body)
            except _Unreachable as exc:
                reason = str(exc)
                continue
            if response.status_code in _TRANSIENT_STATUSES:
                reason = f"HTTP {response.status_code}: {_message_of(response)}"
                continue
            return self._answer(response)
        self._went_offline(reason)
        raise self._unavailable(reason)

    def _known_documents(self, ids: list[str]) -> dict[str, StoredDocument]:
        found = self.spool.documents(ids)
        with self._state_lock:
            for id_ in ids:
                if id_ not in found and id_ in self._known:
                    found[id_] = self._known[id_]
        missing = [id_ for id_ in ids if id_ not in found]
        if missing:
            shown = ", ".join(repr(id_) for id_ in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise self._unavailable(f"and this client has not seen {shown} before")
        return found

    def _remember(self, documents: Sequence[tuple[str, str, str]]) -> None:
        with self._state_lock:
            for id_, kind, document in documents:
                self._known[id_] = StoredDocument(kind, document)
                self._known.move_to_end(id_)
            while len(self._known) > KNOWN_DOCUMENTS:
                self._known.popitem(last=False)

    # ------------------------------------------------------------ internals: HTTP

    def _request(self, method: str, path: str, body: str | None = None) -> requests.Response:
        requests = self._requests
        try:
            return self._session.request(
                method,
                self.uri + path,
                data=None if body is None else body.encode("utf-8"),
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Unreachable(_reason(exc), maybe_sent=not _never_sent(exc)) from exc
        except requests.exceptions.ChunkedEncodingError as exc:  # the server died while it answered
            raise _Unreachable(_reason(exc), maybe_sent=True) from exc

    def _answer(self, response: requests.Response) -> dict[str, Any]:
        """The JSON of a successful answer, or the mltrack error the server reported."""
        if response.ok:
            return json.loads(response.content)
        exc = wire.error_from_answer(response.status_code, response.content)
        if response.status_code == 401:
            raise type(exc)(f"{exc} (server {self.uri}; set {TOKEN_VARIABLE})")
        raise exc

    # ------------------------------------------------------------ internals: offline state

    def _offline(self) -> bool:
        with self._state_lock:
            return time.monotonic() < self._offline_until

    def _went_offline(self, reason: str) -> None:
        with self._state_lock:
            self._offline_until = time.monotonic() + self._offline_pause
            self._offline_pause = min(self._offline_pause * 2, OFFLINE_PAUSE_SECONDS[1])
            warn = not self._warned_offline
            self._warned_offline = True
        if warn:
            warnings.warn(
                f"mltrack: the metadata server {self.uri} is unreachable ({reason}); writes are kept in "
                f"{self.spool.path} and sent when it answers again (or run: mltrack sync)",
                TrackingWarning,
                stacklevel=5,
            )

    def _back_online(self) -> None:
        with self._state_lock:
            self._offline_until = 0.0
            self._offline_pause = OFFLINE_PAUSE_SECONDS[0]
            self._warned_offline = False

    def _unavailable(self, reason: str) -> StoreUnavailableError:
        waiting = self.spool.pending()
        spooled = f"; {waiting} write(s) wait in {self.spool.path} (mltrack sync sends them)" if waiting else ""
        return StoreUnavailableError(f"the metadata server {self.uri} cannot be reached ({reason}){spooled}")


# ---------------------------------------------------------------- helpers


def server_uri(uri: str) -> str:
    """The server's URI as mltrack shows and files it: credentials and a trailing slash removed."""
    return _without_credentials(uri).rstrip("/")


def spool_folder() -> Path:
    """Where spools are kept: ``$MLTRACK_SPOOL``, else the ``spool`` folder in ``$MLTRACK_HOME`` (``~/.mltrack``)."""
    from mltrack_core.artifacts import mltrack_home

    return Path(os.environ.get(SPOOL_VARIABLE) or mltrack_home() / "spool").expanduser()


def spool_of(uri: str, folder: os.PathLike[str] | str | None = None) -> Spool:
    """The offline spool of the server ``uri`` (in ``folder``, default :func:`spool_folder`)."""
    from mltrack_core.backends.spool import Spool, spool_path

    where = Path(folder) if folder is not None else spool_folder()
    return Spool(spool_path(where, server_uri(uri)), server_uri(uri))


def _parse_server_uri(uri: str) -> SplitResult:
    """The parts of a server URI, checked: a scheme of :data:`SCHEMES`, a host, a port number, nothing after the path.

    Raises:
        StoreError: ``uri`` is not such a URI; the message quotes it without credentials.
    """
    shown = mask_credentials(uri)
    problem = None
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme.lower() not in SCHEMES or not parts.hostname:
            problem = "no http:// or https:// server address"
        elif parts.query or parts.fragment:
            problem = "a server URI takes no ?query or #fragment"
        elif any(not character.isprintable() or character.isspace() for character in uri):
            problem = "it contains spaces or control characters"
    if problem is not None:
        raise StoreError(f"cannot read a server address from {shown!r} ({problem}): write http://host:port")
    return parts


def _without_credentials(uri: str) -> str:
    try:
        parts = urlsplit(uri)
    except ValueError:  # not a URI: mask what may be credentials in its text
        return mask_credentials(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _query_string(**parameters: Any) -> str:
    """``?name=value&...`` of the parameters that are not None ('' when none is).

    Raises:
        SchemaError: a value is text that is not valid Unicode (a lone surrogate): no server can be asked it.
    """
    given = {name: value for name, value in parameters.items() if value is not None}
    try:
        return "?" + urlencode(given) if given else ""
    except UnicodeEncodeError as exc:
        raise SchemaError(f"{exc.object!r:.80} is not valid Unicode text") from None


def _settle_environment(session: requests.Session, uri: str) -> None:
    """Read the proxy and CA-bundle settings of the environment once, for every request of ``session``.

    requests reads them again on every call (a third of the client's CPU per request): the
    variables it honours (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``,
    ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) are read here, when the client is made, instead.
    """
    import requests.utils

    session.proxies.update(requests.utils.get_environ_proxies(uri))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


def _canonical(document: dict[str, Any]) -> str:
    from mltrack_core.schema import canonical_json

    return canonical_json(document)


def _documents_with_points(records: Sequence[Record], points: Sequence[Point]) -> list[str]:
    """The JSON documents of ``records``, each training run with its ``points`` as its scores over time."""
    by_run: dict[str, list[Point]] = {}
    for point in points:
        by_run.setdefault(point[0], []).append(point)
    documents = []
    for record in records:
        run_points = by_run.pop(record.id, None) if record.kind == "run" else None
        if not run_points:
            documents.append(record.document)
            continue
        scores = [ScoreAtTime.from_stored(p[1], p[2], p[5], p[3], p[4]).to_json() for p in run_points]
        # the stored document is kept as it is (its hash is the run's content) and gets one key more
        documents.append(record.document[:-1] + ',"scores_over_time":' + dumps(scores, separators=(",", ":")) + "}")
    if by_run:
        raise SchemaError(
            f"a metric point of {next(iter(by_run))!r:.600} is written with entities that hold no training run "
            "with that id; write the run with its points, or append points to a stored run with append_points"
        )
    return documents


def _summary_from_json(document: dict[str, Any]) -> MetricSummary:
    """A metric summary as the server sends it (NaN and infinities spelled as strings)."""
    floats = ("first", "last", "minimum", "maximum", "best")
    return MetricSummary(
        **{name: float_from_json(value) if name in floats else value for name, value in document.items()}
    )


def _never_sent(exc: Exception) -> bool:
    """Whether a failed request certainly never reached the server (the connection was not even made)."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _reason(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)
    text = str(reason)
    return text if len(text) <= 160 else text[:157] + "..."


def _message_of(response: requests.Response) -> str:
    try:
        return str(json.loads(response.content)["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return response.reason or ""
