"""The mltrack metadata service: one store shared by a team, over a REST API.

Start it over a store (SQLite for one machine, PostgreSQL for a team)::

    pip install 'mltrack-core[server]'
    mltrack server --store sqlite:////srv/mltrack/store.db                # http://127.0.0.1:8686
    mltrack server --store postgresql://mltrack@db/mltrack --host 0.0.0.0 --tokens-file /etc/mltrack/tokens

and point every client at it; the same code that wrote to the embedded store
now writes to the server::

    export MLTRACK_URI=http://127.0.0.1:8686   # MLTRACK_TOKEN=... when the server has tokens

The dashboard (:mod:`mltrack_core.ui`) is served under ``/ui`` (``/``
leads there). The API is described by an OpenAPI 3 document at
``/openapi.json`` (an interactive page at ``/docs``), so clients in other
languages can be generated from it; every answer, errors included, is one of the models it
declares. Answers are standard JSON: NaN and the infinities are written
``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (requests may use either spelling).
Errors are JSON ``{"error", "message", "status"}``: 400 malformed JSON (or
not UTF-8), 401 no or unknown token, 403 read-only token or read-only store,
404 unknown id, or an id that cannot be an id (such as one with ``/``: the
message names the rule), 409 write-once conflict or ended run, 413 body too
large, 422 wrong types, numbers out of range (times from 0 to the end of year
9999, counts, limits and offsets from 0 to 2**63 - 1) or a reference to an id
the store does not hold, 500 the store failed, 503 the store is unavailable
(the server's log has the details; the answer names no path or URI). Every
write is one transaction of the store: on any error nothing is written.

Tokens (see :mod:`mltrack_core.server.auth`) are read from
``MLTRACK_SERVER_TOKENS`` (``write:TOKEN,read:TOKEN``) and/or a tokens file
(``--tokens-file``, one ``SCOPE TOKEN [NAME]`` per line, readable only by its
owner). Without tokens the server refuses to listen on anything but loopback
unless ``--allow-anonymous`` is given. Requests are logged with the token's
name, never the token; control and other unprintable characters a request
sends (a ``%0A`` in a path, say) are escaped in the log, so no request can
forge a log line.

The server is stateless: run several processes (on several ports or
machines, behind a load balancer) over one PostgreSQL store. SIGINT or
SIGTERM stop it gracefully (requests in flight finish, the store is closed,
exit status 0). Other ASGI servers can serve :func:`app_from_environment`
(configured by ``MLTRACK_SERVER_STORE``, ``MLTRACK_SERVER_MAX_BODY`` and the
token variables): ``uvicorn --factory mltrack_core.server:app_from_environment``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerSettings", "app_from_environment", "create_app"]


def __getattr__(name: str) -> Any:
    # FastAPI is imported only when an app is built, so the REST client and `mltrack sync` work without it.
    if name in __all__:
        from mltrack_core.server import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
