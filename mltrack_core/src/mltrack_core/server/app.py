"""The ASGI application of the metadata service, built with FastAPI.

The server holds no state of its own: every request reads or writes the
backing store, so several processes may serve one PostgreSQL store behind a
load balancer. Writes go through the same rule engine as an embedded store:
entities are rebuilt from the posted JSON (the schema validates them) and
handed to :meth:`Tracker.write <mltrack_core.tracker.Tracker.write>` and
:meth:`Tracker.end_run <mltrack_core.tracker.Tracker.end_run>`, and the store
checks lineage and write-once atomically. Paths, queries and errors travel as
:mod:`mltrack_core.wire` says, the module the client uses too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import time
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import unquote_to_bytes

from mltrack_core import wire
from mltrack_core.errors import (
    MissingDependencyError,
    MltrackError,
    NotFoundError,
    SchemaError,
    StoreError,
    StoreReadOnlyError,
)

try:
    from fastapi import Depends, FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.openapi.utils import get_openapi
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise MissingDependencyError(
        f"the mltrack server needs FastAPI and uvicorn ({exc.name} is missing): pip install 'mltrack-core[server]'"
    ) from exc

from mltrack_core.schema import (
    ID_RULE,
    LINK_FIELDS,
    MAX_COUNT,
    MAX_TIME,
    Entity,
    TrainingRun,
    TrainingState,
    dumps,
    entity_from_json,
    is_valid_id,
)
from mltrack_core.series import MAX_SERIES_POINTS, MIN_SERIES_POINTS, finite_or_none
from mltrack_core.server import models
from mltrack_core.server.auth import ANONYMOUS, READ, SESSION_COOKIE, WRITE, Principal, TokenSet
from mltrack_core.store import Query as StoreQuery

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_BODY_VARIABLE",
    "STORE_VARIABLE",
    "EscapedLogRecords",
    "ServerSettings",
    "app_from_environment",
    "create_app",
]

STORE_VARIABLE = "MLTRACK_SERVER_STORE"
MAX_BODY_VARIABLE = "MLTRACK_SERVER_MAX_BODY"
READ_ONLY_VARIABLE = "MLTRACK_SERVER_READ_ONLY"
DASHBOARD = "/ui"
"""Where the dashboard's pages are served."""
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest request body accepted by default (a batch of 50,000 metric points takes about 5 MB)."""

logger = logging.getLogger("mltrack.server")


@dataclass(frozen=True)
class ServerSettings:
    """What a server process needs: the backing store, the tokens, the body size limit."""

    store_uri: str
    tokens: TokenSet = dataclasses.field(default_factory=TokenSet)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    read_only: bool = False
    """Open the store read-only (``mltrack ui``): every write is answered 403."""

    @classmethod
    def from_environment(cls) -> ServerSettings:
        """Settings from the environment: the store, the body limit, read-only (``1``) and the token variables."""
        from mltrack_core.tracker import default_uri

        limit = os.environ.get(MAX_BODY_VARIABLE)
        return cls(
            read_only=os.environ.get(READ_ONLY_VARIABLE) == "1",
            store_uri=os.environ.get(STORE_VARIABLE) or default_uri(),
            tokens=TokenSet.from_environment(),
            max_body_bytes=parse_size(limit, MAX_BODY_VARIABLE) if limit else DEFAULT_MAX_BODY_BYTES,
        )


def parse_size(text: str, where: str) -> int:
    """Bytes from ``"32M"``, ``"512K"``, ``"1G"`` or a plain number."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = units.get(cleaned[-1:], 1)
    number = cleaned[:-1] if cleaned[-1:] in units else cleaned
    if not number.isdigit() or int(number) <= 0:
        raise SchemaError(f"{where}: {text!r} is not a size; write e.g. 32M, 512K or 1048576")
    return int(number) * factor


def app_from_environment() -> FastAPI:
    """The app configured from the environment (for ``uvicorn --factory`` and other ASGI servers)."""
    return create_app(ServerSettings.from_environment())


# ---------------------------------------------------------------- responses


class JsonResponse(JSONResponse):
    """Standard JSON answers: NaN and the infinities are written "NaN", "Infinity", "-Infinity".

    Content given as bytes is JSON text already and is sent as it is (the fast path for stored documents).
    """

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return _utf8(dumps(content, ensure_ascii=False, separators=(",", ":")))


def _utf8(text: str) -> bytes:
    # A lone surrogate can only sit inside a JSON string, where backslashreplace writes its JSON escape (\udxxx).
    return text.encode("utf-8", "backslashreplace")


def _standard(document: str) -> str:
    """A stored document as standard JSON (stores keep NaN and the infinities in Python's spelling)."""
    if "NaN" not in document and "Infinity" not in document:
        return document  # the common case: no parsing needed
    return dumps(json.loads(document), ensure_ascii=False, separators=(",", ":"))


def _documents_json(documents: Sequence[str]) -> str:
    """A JSON array of stored documents, which are JSON text already."""
    return "[" + ",".join(_standard(document) for document in documents) + "]"


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse(wire.error_body(error, message, status), status_code=status, headers=headers)


# ---------------------------------------------------------------- ids in paths


def _path_id(text: str) -> str:
    """An id from the request path; one that cannot be an id names nothing in any store (404, naming the rule)."""
    if not is_valid_id(text):
        raise NotFoundError(_no_such_id(text))
    return text


def _no_such_id(text: str) -> str:
    return f"no entity has the id {text[:80]!r}: it is not a valid id ({ID_RULE})"


def _segment_with_slash(raw_path: bytes) -> str | None:
    """The first segment of a raw request path with an encoded ``/`` in it (decoded), or None."""
    for segment in raw_path.split(b"/"):
        if b"%2f" in segment.lower():
            return unquote_to_bytes(segment).decode("utf-8", "replace")
    return None


# ---------------------------------------------------------------- logging


def _printable(text: str) -> str:
    """``text`` safe for one log line: unprintable characters (controls, line breaks, ...) and backslashes escaped."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(
        character if character.isprintable() and character != "\\" else _escaped(character) for character in text
    )


def _escaped(character: str) -> str:
    return "\\\\" if character == "\\" else repr(character)[1:-1]  # repr escapes: \n, \x1b, \u2028, \ud800


_TRACEBACK_LINES = ("Traceback (most recent call last):", "  File ", "\nThe above exception", "\nDuring handling")


def _traceback_text(error: BaseException) -> str:
    """``error``'s traceback with its messages (and its causes') escaped; the code lines shown come from files."""
    chunks = traceback.format_exception(error)
    return "".join(
        chunk if chunk.startswith(_TRACEBACK_LINES) else _printable(chunk.removesuffix("\n")) + "\n" for chunk in chunks
    ).removesuffix("\n")


class EscapedLogRecords(logging.Filter):
    """Escapes what a log record says (message, arguments, exception messages), so no request can forge a line.

    Request paths, ids, queries and token names reach the log; a ``%0A`` in a path must not start a new line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "mltrack_escaped", False):
            return True
        record.msg = _printable(record.getMessage())
        record.args = ()
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = _traceback_text(record.exc_info[1])
        record.mltrack_escaped = True
        return True


def _escape_log_records(target: logging.Logger | logging.Handler) -> None:
    """Adds the escaping filter to ``target`` once."""
    if not any(isinstance(existing, EscapedLogRecords) for existing in target.filters):
        target.addFilter(EscapedLogRecords())


# ---------------------------------------------------------------- middleware (plain ASGI)


class _BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than this server's limit of {limit} bytes "
                              f"({MAX_BODY_VARIABLE}); send smaller batches")  # fmt: skip


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes (declared or streamed) with a 413 JSON answer."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            too_large = _BodyTooLarge(self.limit)
            response = _error(413, wire.PROTOCOL_ERRORS[413], too_large.detail, {"connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited_receive, send)


class PathIds:
    """Answers a request whose path has an encoded ``/`` in a segment with a 404 that names the id and the rule.

    No id contains ``/``; routed on the decoded path, such a request would reach no endpoint, or another one.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        segment = _segment_with_slash(scope.get("raw_path") or b"") if scope["type"] == "http" else None
        if segment is None:
            await self.app(scope, receive, send)
            return
        await _error(404, "NotFoundError", _no_such_id(segment))(scope, receive, send)


class Unexpected:
    """Answers an exception that no handler took with a JSON 500 and logs it; the connection stays usable.

    (Starlette's last-resort handler answers and then re-raises, so uvicorn closed the connection without a word.)
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # part of an answer went out: only closing the connection can tell the client
            logger.exception("unexpected failure on %s %s", scope["method"], scope["path"])
            message = f"the server failed ({type(exc).__name__}); see the server's log"
            await _error(500, "InternalServerError", message)(scope, receive, send)


class AccessLog:
    """Logs one line per request: client, method, path, status, duration and the token's name (never the token).

    The logger's filter escapes what the client sent (see :class:`EscapedLogRecords`).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            client = scope.get("client") or ("-", 0)
            principal = scope.get("state", {}).get("principal", "-")
            query = scope.get("query_string", b"").decode("latin-1")
            logger.info(
                '%s "%s %s" %d %.1fms %s',
                client[0],
                scope["method"],
                f"{scope['path']}?{query}" if query else scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                principal,
            )


# ---------------------------------------------------------------- authentication


def _authenticate(request: Request) -> Principal:
    tokens: TokenSet = request.app.state.settings.tokens
    if not tokens.required:
        return ANONYMOUS
    challenge = {"WWW-Authenticate": 'Bearer realm="mltrack"'}
    header = request.headers.get("authorization")
    if not header and request.method in ("GET", "HEAD") and SESSION_COOKIE in request.cookies:
        return _from_session_cookie(tokens, request.cookies[SESSION_COOKIE], challenge)
    if not header:
        raise HTTPException(
            401,
            "this server requires a bearer token: send 'Authorization: Bearer TOKEN' "
            "(mltrack clients read it from MLTRACK_TOKEN or from the URI, http://TOKEN@host:port)",
            headers=challenge,
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "the Authorization header must be 'Bearer TOKEN'", headers=challenge)
    principal = tokens.identify(token.strip())
    if principal is None:
        raise HTTPException(401, "the bearer token is not valid on this server", headers=challenge)
    return principal


def _from_session_cookie(tokens: TokenSet, token: str, challenge: dict[str, str]) -> Principal:
    """The dashboard's signed-in reader: a cookie reads and never writes, whatever its token's scope.

    The cookie is honoured on GET and HEAD only, so no other site can make a signed-in browser write.
    """
    principal = tokens.identify(token.strip())
    if principal is None:
        raise HTTPException(401, "the session cookie's token is not valid on this server: sign in again", challenge)
    return Principal(principal.name, READ)


def _require(scope: Literal["read", "write"]) -> Callable[[Request], Any]:
    async def check(request: Request) -> Principal:
        principal = _authenticate(request)
        request.state.principal = principal.name
        if not principal.may(scope):
            raise HTTPException(
                403, f"the token {principal.name!r} may only read; writing needs a token with write scope"
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(_require(READ))]
Writer = Annotated[Principal, Depends(_require(WRITE))]


# ---------------------------------------------------------------- the rules, applied on the server


def _entities_from(documents: Sequence[dict[str, Any]], *, with_points: bool = False) -> list[Entity]:
    entities = []
    for index, document in enumerate(documents):
        where = f"entities[{index}]"
        try:
            entity = entity_from_json(document)
        except SchemaError as exc:
            raise SchemaError(f"{where}: {exc}") from None
        except RecursionError:
            raise SchemaError(f"{where}: the document is nested too deeply") from None
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a converter choked on a wrong type
            raise SchemaError(f"{where} ({document.get('kind')} {document.get('id')!r}): {exc}") from None
        if isinstance(entity, TrainingRun) and entity.scores_over_time and not with_points:
            raise SchemaError(
                f"{where}: training run {entity.id!r} carries scores_over_time; "
                "append metric points with POST /v1/points"
            )
        entities.append(entity)
    return entities


def _ended_run_from(run_id: str, document: dict[str, Any]) -> TrainingRun:
    (ended,) = _entities_from([document])
    if not isinstance(ended, TrainingRun):
        raise SchemaError(f"run: expected a training run document (kind 'run'), got kind {ended.KIND!r}")
    if ended.id != run_id:
        raise SchemaError(f"run: the document's id {ended.id!r} is not the run {run_id!r} of the path")
    return ended


def _labels_of(pairs: Sequence[str], scope: str, parameter: str) -> tuple[tuple[str, str, str], ...]:
    labels = []
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise SchemaError(f"{parameter}={pair!r}: write {parameter}=KEY=VALUE")
        labels.append((scope, key, value))
    return tuple(labels)


# ---------------------------------------------------------------- error answers


def _location(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path") else loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "body"


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    problems = exc.errors()
    for problem in problems:
        if problem.get("type") == "json_invalid":
            detail = problem.get("ctx", {}).get("error", "invalid JSON")
            return (
                400,
                "BadRequest",
                f"the request body is not valid JSON: {detail} (at character {problem['loc'][-1]})",
            )
    parts = []
    for problem in problems[:5]:
        given = repr(problem.get("input"))
        given = given if len(given) <= 60 else given[:57] + "..."
        parts.append(f"{_location(problem.get('loc', ()))}: {problem.get('msg')} (got {given})")
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return 422, "SchemaError", "; ".join(parts) + more


def _install_error_handlers(app: FastAPI) -> None:
    def answer(request: Request, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Any:
        if _is_page(request):
            return _page_error(request, status, error, message)
        return _error(status, error, message, headers)

    @app.exception_handler(MltrackError)
    async def mltrack_error(request: Request, exc: MltrackError) -> Any:
        status = wire.status_of(exc)
        if status >= 500:  # the server's own problem: the log has the details, the client a message without paths
            logger.error("store failure on %s %s: %s", request.method, request.url.path, exc)
            return answer(request, status, type(exc).__name__, _SERVER_TROUBLE.get(status, _SERVER_TROUBLE[500]))
        if isinstance(exc, StoreReadOnlyError):
            return answer(
                request, status, type(exc).__name__, "the store is read-only: this server can only answer reads"
            )
        return answer(request, status, type(exc).__name__, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Any:
        status, error, message = _validation_message(exc)
        return answer(request, status, error, message)

    @app.exception_handler(HTTPException)
    async def protocol_error(request: Request, exc: HTTPException) -> JsonResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path} (the API is described at /openapi.json)"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path} (see /openapi.json)"
        elif exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's words
            detail = "the request body is not JSON text in UTF-8 (or it is nested too deeply to read)"
        return answer(
            request, exc.status_code, wire.PROTOCOL_ERRORS.get(exc.status_code, "HTTPError"), detail, exc.headers
        )

    # Other exceptions are answered by the Unexpected middleware (a handler for Exception would re-raise).


_SERVER_TROUBLE = {
    500: "the server's store failed; the server's log has the details",
    503: "the server's store is unavailable right now; try again later",
}


# ---------------------------------------------------------------- the app


def create_app(settings: ServerSettings | str) -> FastAPI:
    """The metadata service over the store ``settings.store_uri`` (a URI alone means: no tokens, default limit).

    The store is opened when the app starts (in each worker process) and closed when it stops.
    """
    if isinstance(settings, str):
        settings = ServerSettings(settings)
    scheme = settings.store_uri.partition("://")[0].lower()
    if scheme in ("http", "https") and not settings.read_only:
        raise StoreError(
            f"the server needs a store it opens itself (sqlite://, postgresql://, ...), not another server: "
            f"{settings.store_uri.partition('://')[0]}://..."
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from mltrack_core.tracker import connect

        tracker = connect(settings.store_uri, read_only=settings.read_only)
        app.state.tracker = tracker
        token_note = f"{len(settings.tokens)} token(s)" if settings.tokens.required else "no tokens (open to anyone)"
        logger.info("serving the store %s; %s; bodies up to %d bytes", tracker.uri, token_note, settings.max_body_bytes)
        try:
            yield
        finally:
            tracker.close()
            logger.info("closed the store %s", tracker.uri)

    app = FastAPI(
        title="mltrack metadata service",
        version=wire.API_VERSION,
        summary="Metadata and provenance of machine-learning experiments, shared by a team.",
        description=(
            "Create and read datasets, models, transforms, training runs, predictions and evaluations; "
            "append training metrics in batches; ask lineage, comparability and leaderboard questions. "
            "Stored entities are write-once (re-creating identical content is a no-op) and every id an entity "
            "names must be stored. Errors are JSON: {error, message, status}. "
            "Authenticate with 'Authorization: Bearer TOKEN' when the server has tokens."
        ),
        lifespan=lifespan,
        default_response_class=JsonResponse,
        redirect_slashes=False,  # "/v1/entities/" is an empty id, not the listing
        redoc_url=None,
        responses={"default": {"model": models.ErrorOut, "description": "An error: its type, a message, the status"}},
    )
    app.state.settings = settings
    _escape_log_records(logger)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(Unexpected)
    app.add_middleware(PathIds)
    app.add_middleware(AccessLog)  # the outermost: it logs every answer, those of the other middlewares too
    _install_error_handlers(app)
    _add_dashboard(app)  # first: url_path_for finds the page "leaderboard", not the API's operation of that name
    _add_routes(app)
    _add_entity_schemas(app)
    return app


def _add_dashboard(app: FastAPI) -> None:
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from mltrack_core.ui import STATIC, dashboard_router

    app.mount(f"{DASHBOARD}/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(dashboard_router(), prefix=DASHBOARD)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(f"{DASHBOARD}/", status_code=307)


def _is_page(request: Request) -> bool:
    """Whether the request is for a dashboard page (answered in HTML), not the API or a static file."""
    path = request.url.path
    return path.startswith(f"{DASHBOARD}/") and not path.startswith(f"{DASHBOARD}/static/")


def _page_error(request: Request, status: int, error: str, message: str) -> Any:
    """A dashboard page's error in HTML; a reader without a valid token is sent to the sign-in form."""
    from urllib.parse import urlencode

    from fastapi.responses import RedirectResponse

    from mltrack_core.ui.templating import render

    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{DASHBOARD}/signin?{urlencode({'next': target})}", status_code=303)
    return render(request, "error.html", status_code=status, status=status, error=error, message=message)


def _add_entity_schemas(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            document = models.with_exact_integer_bounds(models.with_entity_references(document))
            document.setdefault("components", {}).setdefault("schemas", {}).update(models.entity_component_schemas())
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _tracker(request: Request) -> Any:
    return request.app.state.tracker


def _possible(ids: Sequence[str]) -> list[str]:
    """The ids that can be ids: the others name nothing in any store (a lookup of them finds nothing)."""
    return [id_ for id_ in ids if is_valid_id(id_)]


def _add_routes(app: FastAPI) -> None:
    @app.get(
        "/v1/health",
        tags=["service"],
        response_model=models.HealthOut,
        summary="Whether the server and its store answer",
    )
    def health(request: Request) -> JsonResponse:
        """Answers 200 when the server can read its store (no token needed)."""
        _tracker(request).store.get(["health-check"])
        return JsonResponse({"status": "ok", "api": wire.API_VERSION})

    # ------------------------------------------------------------ entities

    @app.post(wire.ENTITIES, tags=["entities"], response_model=models.WriteOut, summary="Store entities")
    def put_entities(body: models.EntitiesIn, request: Request, principal: Writer) -> JsonResponse:
        """Store entities of any kinds in one transaction: all are written, or none.

        Re-sending an entity with identical content (creation time aside) is a no-op, so retries are
        safe; other content under a stored id is refused (409). Every id an entity names must be
        stored, or be in the same request, with the right kind (422 otherwise). A training run may
        carry its scores_over_time (an imported run, ended already): its points are stored with it.
        """
        entities = _entities_from(body.entities, with_points=True)
        tracker = _tracker(request)
        with_points = any(isinstance(entity, TrainingRun) and entity.scores_over_time for entity in entities)
        try:
            written = [entity.id for entity in (tracker.restore if with_points else tracker.write)(entities)]
        except RecursionError:
            raise SchemaError("an entity is nested too deeply to be stored") from None
        new = set(written)
        unchanged = list(dict.fromkeys(entity.id for entity in entities if entity.id not in new))
        return JsonResponse({"written": written, "unchanged": unchanged})

    @app.get(wire.ENTITIES, tags=["entities"], response_model=models.ListOut, summary="List entities")
    def list_entities(
        request: Request,
        principal: Reader,
        kind: models.Kind | None = None,
        name: str | None = None,
        experiment: str | None = None,
        fingerprint: str | None = None,
        state: Literal["TRAINING", "FINISHED", "FAILED"] | None = None,
        trained_on: str | None = None,
        derived_from: str | None = None,
        transforms: str | None = None,
        input_transforms: str | None = None,
        for_model: str | None = None,
        computed_by: str | None = None,
        on_dataset: str | None = None,
        for_prediction: str | None = None,
        tag: Annotated[list[str], Query(description="KEY=VALUE; repeat for several")] = [],  # noqa: B006
        annotation: Annotated[list[str], Query(description="KEY=VALUE; repeat for several")] = [],  # noqa: B006
        created_after: Annotated[int | None, Query(ge=0, le=MAX_TIME, description="ms since 1970")] = None,
        created_before: Annotated[int | None, Query(ge=0, le=MAX_TIME, description="ms since 1970")] = None,
        limit: Annotated[int, Query(ge=0, le=1000)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_COUNT)] = 0,
        order: models.Order = "-created",
    ) -> JsonResponse:
        """Entities matching every given filter, in ``order`` (default newest first), one page at a time.

        Training runs come without their points.
        """
        named = {
            "trained_on": trained_on,
            "derived_from": derived_from,
            "transforms": transforms,
            "input_transforms": input_transforms,
            "for_model": for_model,
            "computed_by": computed_by,
            "on_dataset": on_dataset,
            "for_prediction": for_prediction,
        }
        assert named.keys() == LINK_FIELDS, "the query parameters must name every reference field of the schema"
        links = tuple((relation, target) for relation, target in named.items() if target is not None)
        query = StoreQuery(
            kind=kind,
            name=name,
            experiment=experiment,
            fingerprint=fingerprint,
            state=state,
            links=links,
            labels=_labels_of(tag, "tag", "tag") + _labels_of(annotation, "annotation", "annotation"),
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            offset=offset,
            order=order,
        )
        store = _tracker(request).store
        ids = store.find(query)
        found = store.get(ids)
        documents = _documents_json([found[id_].document for id_ in ids if id_ in found])
        total = store.count(query)
        text = f'{{"total":{total},"offset":{offset},"limit":{limit},"entities":{documents}}}'
        return JsonResponse(_utf8(text))

    @app.get(
        "/v1/entities/{entity_id}", tags=["entities"], response_model=models.EntityDocument, summary="Read one entity"
    )
    def get_entity(entity_id: str, request: Request, principal: Reader, with_scores: bool = True) -> JsonResponse:
        """The entity's document; a training run comes with its scores over time unless ``with_scores=false``."""
        found = _tracker(request).get_many([_path_id(entity_id)], with_scores=with_scores).get(entity_id)
        if found is None:
            raise NotFoundError(f"no entity with id {entity_id!r} in this store")
        return JsonResponse(found.to_json())

    @app.post(wire.LOOKUP, tags=["entities"], response_model=models.EntitiesOut, summary="Read many")
    def lookup(body: models.IdsIn, request: Request, principal: Reader) -> JsonResponse:
        """The stored documents of those ids that exist (unknown ids are left out; runs without points)."""
        found = _tracker(request).store.get(_possible(body.ids))
        pairs = ",".join(f"{json.dumps(id_)}:{_standard(stored.document)}" for id_, stored in found.items())
        return JsonResponse(_utf8(f'{{"entities":{{{pairs}}}}}'))

    @app.post(wire.QUERY_IDS, tags=["queries"], response_model=models.IdsOut, summary="Ids matching a query")
    def query_ids(body: models.QueryIn, request: Request, principal: Reader) -> JsonResponse:
        """Ids of the entities matching every condition, newest first, paged."""
        return JsonResponse({"ids": _tracker(request).store.find(wire.query_from_json(body.model_dump()))})

    @app.post(wire.QUERY_COUNT, tags=["queries"], response_model=models.CountOut, summary="Count a query")
    def query_count(body: models.QueryIn, request: Request, principal: Reader) -> JsonResponse:
        """How many entities match (limit and offset ignored)."""
        return JsonResponse({"count": _tracker(request).store.count(wire.query_from_json(body.model_dump()))})

    # ------------------------------------------------------------ lineage and provenance questions

    @app.post(wire.LINKS, tags=["lineage"], response_model=models.LinksOut, summary="Lineage edges")
    def links(body: models.LinksIn, request: Request, principal: Reader) -> JsonResponse:
        """Edges leaving (``out``: what the ids name) or entering (``in``: what names them) the ids."""
        return JsonResponse({"links": _tracker(request).store.links(_possible(body.ids), body.direction)})

    @app.post(wire.SCORES, tags=["lineage"], response_model=models.ScoresOut, summary="Scores on datasets")
    def scores(body: models.ScoresIn, request: Request, principal: Reader) -> JsonResponse:
        """(evaluation id, value) of every evaluation on one of the datasets with a scalar score of the metric."""
        return JsonResponse({"scores": _tracker(request).store.scores(_possible(body.datasets), body.metric)})

    @app.get(
        wire.LINEAGE,
        tags=["lineage"],
        response_model=models.LineageOut,
        summary="Lineage of an entity",
    )
    def lineage(
        entity_id: str,
        request: Request,
        principal: Reader,
        direction: Literal["upstream", "downstream"] = "upstream",
        depth: Annotated[int | None, Query(ge=0, le=MAX_COUNT)] = None,
    ) -> JsonResponse:
        """What the entity was derived from (upstream) or what was derived from it (downstream)."""
        return JsonResponse(_tracker(request).lineage(_path_id(entity_id), direction, depth).to_json())

    @app.get(
        wire.COMPARABLE,
        tags=["lineage"],
        response_model=models.ComparableOut,
        summary="Can two evaluations be compared",
    )
    def comparable(a: str, b: str, request: Request, principal: Reader, metric: str | None = None) -> JsonResponse:
        """Comparable when computed on the same data, with a metric in common and the same procedure."""
        answer = _tracker(request).comparable(_path_id(a), _path_id(b), metric)
        return JsonResponse({"comparable": answer.comparable, "reasons": answer.reasons, "metrics": answer.metrics})

    @app.get(
        wire.LEADERBOARD,
        tags=["lineage"],
        response_model=models.LeaderboardOut,
        summary="Leaderboard on a dataset",
    )
    def leaderboard(
        dataset_id: str,
        request: Request,
        principal: Reader,
        metric: str,
        procedure: str | None = None,
        limit: Annotated[int | None, Query(ge=1, le=MAX_COUNT)] = None,
        offset: Annotated[int, Query(ge=0, le=MAX_COUNT)] = 0,
    ) -> JsonResponse:
        """Evaluations of the metric on the same data, best first, only mutually comparable ones.

        ``limit`` and ``offset`` page through the ranking; ``total`` counts all of it.
        """
        tracker = _tracker(request)
        board = tracker.leaderboard(_path_id(dataset_id), metric, procedure=procedure, limit=limit, offset=offset)
        return JsonResponse(board.to_json())

    @app.get(
        wire.DIFF,
        tags=["lineage"],
        response_model=models.DiffOut,
        summary="What differs between two models",
    )
    def diff(a: str, b: str, request: Request, principal: Reader) -> JsonResponse:
        """Only what differs: hyperparameters, transforms, training data, environment, model fields."""
        return JsonResponse(_tracker(request).diff(_path_id(a), _path_id(b)).to_json())

    # ------------------------------------------------------------ training runs

    @app.post(wire.POINTS, tags=["training runs"], response_model=models.PointsOut, summary="Append metrics")
    def append_points(body: models.PointsIn, request: Request, principal: Writer) -> JsonResponse:
        """Append metric points of running training runs, in order, in one transaction (all or none).

        A batch sent again with the same ``batch`` id (a retry after a lost answer) is not appended
        again, whatever its points: the answer is then ``appended: 0``.
        """
        tracker = _tracker(request)
        points = body.points  # validated (run, metric, value, epoch, step, timestamp) tuples: what stores take
        if tracker.store.append_points(points, batch_id=body.batch) is False:  # applied before
            return JsonResponse({"appended": 0})
        tracker.notify_observers("mltrack_points_appended", tracker=tracker, points=points)
        return JsonResponse({"appended": len(points)})

    @app.get(wire.RUN_POINTS, tags=["training runs"], response_model=models.RunPointsOut)
    def run_points(
        run_id: str,
        request: Request,
        principal: Reader,
        tail: Annotated[int | None, Query(ge=0, le=MAX_COUNT)] = None,
        after: Annotated[int | None, Query(ge=0, le=MAX_COUNT, description="skip the first N points")] = None,
    ) -> JsonResponse:
        """The run's metric points in the order they were appended; ``tail=N`` returns only the last N.

        ``after=N`` returns the points after the first N (for live updates); ``total`` is then N plus the
        points returned.
        """
        tracker = _tracker(request)
        tracker.get_run(_path_id(run_id))  # 404 for an unknown run
        if after is not None:
            if tail is not None:
                raise SchemaError("give tail or after, not both")
            points = tracker.points_since(run_id, after)
            return JsonResponse({"run": run_id, "total": after + len(points), "points": points})
        points = tracker.store.points(run_id)
        total = len(points)
        if tail is not None:
            points = points[max(0, total - tail) :] if tail else []
        return JsonResponse({"run": run_id, "total": total, "points": points})

    @app.post(wire.END_RUN, tags=["training runs"], response_model=models.EndRunOut, summary="End a run")
    def end_run(run_id: str, body: models.EndRunIn, request: Request, principal: Writer) -> JsonResponse:
        """End a training run once: FINISHED or FAILED, with its end time and model.

        Only fields the run was started without may be filled in; annotations may only be added.
        Sending the same ended run again is a no-op (``changed`` false).
        """
        stored, changed = _tracker(request).end_run(_ended_run_from(_path_id(run_id), body.run))
        return JsonResponse({"run": stored.to_json(), "changed": changed})

    _add_metric_routes(app)


# ---------------------------------------------------------------- metric histories: charts, tables, live runs

EVENTS_POLL_SECONDS = 0.5
"""How often a stream of a training run's points looks for new points."""
EVENTS_HEARTBEAT_SECONDS = 15.0
"""How often a stream without news sends a comment line, so that proxies keep the connection open."""
EVENTS_POINTS_PER_EVENT = 10_000
"""Most points one ``points`` event carries (a long backlog is sent in several events)."""


def _add_metric_routes(app: FastAPI) -> None:
    @app.get(
        wire.RUN_SERIES,
        tags=["training runs"],
        response_model=models.SeriesOut,
        summary="One metric of a run, downsampled",
    )
    def run_series(
        run_id: str,
        request: Request,
        principal: Reader,
        metric: Annotated[str, Query(min_length=1)],
        axis: Literal["step", "epoch", "time"] = "step",
        start: Annotated[int | None, Query(ge=0, le=MAX_COUNT, description="smallest x (inclusive)")] = None,
        end: Annotated[int | None, Query(ge=0, le=MAX_COUNT, description="largest x (inclusive)")] = None,
        max_points: Annotated[int, Query(ge=MIN_SERIES_POINTS, le=MAX_SERIES_POINTS)] = 1000,
    ) -> JsonResponse:
        """The metric's points along the axis, from start to end (inclusive), at most max_points of them.

        Axes: step (a point without one: its position among the metric's points), epoch (points without one
        are left out) or time (ms since 1970).

        More than max_points points are downsampled on the server, keeping each bucket's smallest and largest
        value, so spikes stay visible; NaN and infinities are gaps (null). An unknown metric has an empty series.
        """
        series = _tracker(request).series(
            _path_id(run_id), metric, axis=axis, start=start, end=end, max_points=max_points
        )
        return JsonResponse(series.to_json())

    @app.get(
        wire.RUN_METRICS,
        tags=["training runs"],
        response_model=models.RunMetricsOut,
        summary="The summary of each metric of a run",
    )
    def run_metrics(run_id: str, request: Request, principal: Reader) -> JsonResponse:
        """The run's state and the summary of each of its metrics.

        Per metric: count, first and last value, finite minimum and maximum, the best of them by the metric's
        direction, and the step, epoch and time of the last point.
        """
        tracker = _tracker(request)
        run = tracker.get_run(_path_id(run_id))
        summaries = tracker.metric_summaries([run_id]).get(run_id, {})
        metrics = {name: summary.to_json() for name, summary in summaries.items()}
        return JsonResponse({"run": run_id, "state": run.state.value, "metrics": metrics})

    @app.post(
        wire.RUN_SUMMARIES,
        tags=["training runs"],
        response_model=models.SummariesOut,
        summary="Metric summaries of many runs",
    )
    def run_summaries(body: models.SummariesIn, request: Request, principal: Reader) -> JsonResponse:
        """The summaries of the metrics of up to 1,000 runs, read in one query.

        ``metrics`` null: every metric of each run. Ids that are not training runs are left out.
        """
        found = _tracker(request).metric_summaries(_possible(body.runs), body.metrics)
        runs = {run: {name: item.to_json() for name, item in summaries.items()} for run, summaries in found.items()}
        return JsonResponse({"runs": runs})

    @app.get(
        wire.RUN_EVENTS,
        tags=["training runs"],
        summary="A run's new points as server-sent events",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "text/event-stream: `points` events, comment heartbeats, then one `end` event",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        },
    )
    async def run_events(
        run_id: str,
        request: Request,
        principal: Reader,
        after: Annotated[int, Query(ge=0, le=MAX_COUNT, description="points the client has already")] = 0,
    ) -> StreamingResponse:
        """Server-sent events of the run's points after the first ``after``, as they are appended.

        ``event: points`` carries ``{"total": T, "points": [[metric, value, epoch, step, timestamp], ...]}``
        (T: the points sent so far, ``after`` included: reconnect with ``after=T``; a value that is NaN or
        infinite is null). A comment line is sent every 15 s without news. When the run is not (or no longer)
        training, the remaining points are sent, then ``event: end`` with ``{"state": "FINISHED"}`` or
        ``{"state": "FAILED"}``, and the stream closes.
        """
        tracker = _tracker(request)
        await run_in_threadpool(tracker.get_run, _path_id(run_id))  # 404 before the stream starts
        return StreamingResponse(
            _run_events(request, tracker, run_id, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


async def _run_events(request: Request, tracker: Any, run_id: str, sent: int) -> AsyncIterator[str]:
    """The events of :func:`run_events`: points while the run trains, then its end; stops when the client leaves."""
    quiet_since = time.monotonic()
    while True:
        run = await run_in_threadpool(tracker.get_run, run_id)  # before the points: none can follow the end
        points = await run_in_threadpool(tracker.points_since, run_id, sent)
        for first in range(0, len(points), EVENTS_POINTS_PER_EVENT):
            chunk = points[first : first + EVENTS_POINTS_PER_EVENT]
            sent += len(chunk)
            rows = [(point[1], finite_or_none(point[2]), point[3], point[4], point[5]) for point in chunk]
            yield _event("points", {"total": sent, "points": rows})
            quiet_since = time.monotonic()
        if run.state is not TrainingState.TRAINING:
            yield _event("end", {"state": run.state.value})
            return
        if time.monotonic() - quiet_since >= EVENTS_HEARTBEAT_SECONDS:
            yield ": heartbeat\n\n"
            quiet_since = time.monotonic()
        if await request.is_disconnected():
            return
        await asyncio.sleep(EVENTS_POLL_SECONDS)


def _event(name: str, data: Any) -> str:
    """One server-sent event (its data is one line of standard JSON)."""
    return f"event: {name}\ndata: {dumps(data, separators=(',', ':'))}\n\n"
