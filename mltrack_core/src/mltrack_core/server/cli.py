"""``mltrack server`` (serve the REST API over a store) and ``mltrack sync`` (send spooled writes)."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mltrack_core.errors import MissingDependencyError, MltrackError

if TYPE_CHECKING:
    from mltrack_core.backends.rest import RestStore
    from mltrack_core.backends.spool import RejectedWrite, Spool

__all__ = ["DEFAULT_PORT", "DEFAULT_UI_PORT", "server", "start_dashboard", "sync", "ui"]

DEFAULT_PORT = 8686
DEFAULT_UI_PORT = 8687
_APP = "mltrack_core.server.app:app_from_environment"
_LOG_LEVELS = ("debug", "info", "warning", "error")
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("server")
@click.option(
    "--store",
    envvar="MLTRACK_SERVER_STORE",
    metavar="URI",
    help="The store to serve (sqlite:///..., postgresql://...). Default: $MLTRACK_SERVER_STORE, "
    "else the embedded store ~/.mltrack/store.db.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback unless told).")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free port)."
)
@click.option(
    "--tokens-file",
    envvar="MLTRACK_SERVER_TOKENS_FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bearer tokens, one 'SCOPE TOKEN [NAME]' per line (scope read or write); also $MLTRACK_SERVER_TOKENS.",
)
@click.option(
    "--max-body",
    envvar="MLTRACK_SERVER_MAX_BODY",
    default="32M",
    show_default=True,
    metavar="SIZE",
    help="Largest request body (e.g. 512K, 32M, 1G).",
)
@click.option(
    "--allow-anonymous",
    is_flag=True,
    help="Serve without tokens on a non-loopback address (anyone who reaches it may read and write).",
)
@click.option(
    "--workers",
    envvar="MLTRACK_SERVER_WORKERS",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Server processes sharing the port, each with its own connection to the store (not for memory://).",
)
@click.option("--log-level", type=click.Choice(_LOG_LEVELS), default="info", show_default=True)
def server(
    store: str | None,
    host: str,
    port: int,
    tokens_file: Path | None,
    max_body: str,
    allow_anonymous: bool,
    workers: int,
    log_level: str,
) -> None:
    """Serve the mltrack REST API over a store; clients use MLTRACK_URI=http://HOST:PORT.

    With --workers N, N processes serve the port (a supervisor restarts one that dies, and stops them all on
    SIGTERM or Ctrl-C). They keep no state of their own: over PostgreSQL, servers on several machines can also
    share one store behind a load balancer. Over SQLite the processes take turns at writing.
    """
    logging.basicConfig(level=log_level.upper(), format=_LOG_FORMAT, stream=sys.stderr)
    try:
        _serve(store, host, port, tokens_file, max_body, allow_anonymous, log_level, workers=workers)
    except MltrackError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("ui")
@click.option(
    "--uri",
    metavar="URI",
    help="The store to show (any store: sqlite:///..., postgresql://..., http://server). "
    "Default: mltrack --uri, else $MLTRACK_URI, else the embedded store ~/.mltrack/store.db.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback unless told).")
@click.option(
    "--port", default=DEFAULT_UI_PORT, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free port)."
)
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in the default web browser.")
@click.option(
    "--tokens-file",
    envvar="MLTRACK_SERVER_TOKENS_FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Tokens that may sign in, one 'SCOPE TOKEN [NAME]' per line; also $MLTRACK_SERVER_TOKENS.",
)
@click.option(
    "--allow-anonymous", is_flag=True, help="Serve without tokens on a non-loopback address (anyone may read)."
)
@click.option("--log-level", type=click.Choice(_LOG_LEVELS), default="warning", show_default=True)
@click.pass_context
def ui(
    ctx: click.Context,
    uri: str | None,
    host: str,
    port: int,
    open_browser: bool,
    tokens_file: Path | None,
    allow_anonymous: bool,
    log_level: str,
) -> None:
    """Serve the dashboard over a store, read-only: runs, curves, models, lineage, leaderboards."""
    from mltrack_core.tracker import default_uri

    logging.basicConfig(level=log_level.upper(), format=_LOG_FORMAT, stream=sys.stderr)
    store = uri or getattr(ctx.obj, "uri", None) or os.environ.get("MLTRACK_URI") or default_uri()
    try:
        _serve(store, host, port, tokens_file, "32M", allow_anonymous, log_level, dashboard_only=True,
               open_browser=open_browser)  # fmt: skip
    except MltrackError as exc:
        raise click.ClickException(str(exc)) from exc


def _serve(
    store: str | None,
    host: str,
    port: int,
    tokens_file: Path | None,
    max_body: str,
    allow_anonymous: bool,
    log_level: str,
    *,
    dashboard_only: bool = False,
    open_browser: bool = False,
    workers: int = 1,
) -> None:
    from mltrack_core.server.app import (
        MAX_BODY_VARIABLE,
        READ_ONLY_VARIABLE,
        STORE_VARIABLE,
        EscapedLogRecords,
        parse_size,
    )
    from mltrack_core.server.auth import TOKENS_FILE_VARIABLE, TokenSet
    from mltrack_core.tracker import connect, default_uri

    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("mltrack server needs uvicorn: pip install 'mltrack-core[server]'") from exc

    for handler in logging.getLogger().handlers:  # uvicorn's records too: no line of this process can be forged
        handler.addFilter(EscapedLogRecords())
    store = store or default_uri()
    if store.partition("://")[0].lower() in ("http", "https") and not dashboard_only:
        raise click.ClickException("--store must name a store the server opens itself (sqlite://, postgresql://), "
                                   "not another server")  # fmt: skip
    if workers > 1 and store.partition("://")[0].lower() == "memory":
        raise click.ClickException("--workers needs a store the processes share (sqlite://, postgresql://): "
                                   "each process would have its own memory:// store")  # fmt: skip
    parse_size(max_body, "--max-body")
    # The app reads its configuration from the environment (as it does under any ASGI server).
    os.environ[STORE_VARIABLE] = store
    os.environ[MAX_BODY_VARIABLE] = max_body
    os.environ[READ_ONLY_VARIABLE] = "1" if dashboard_only else "0"
    if tokens_file is not None:
        os.environ[TOKENS_FILE_VARIABLE] = str(tokens_file.resolve())
    tokens = TokenSet.from_environment()  # fail now, with a clear message, rather than in a worker
    if not tokens.required and not _is_loopback(host) and not allow_anonymous:
        raise click.ClickException(
            f"refusing to serve {host} without tokens: anyone who reaches it could write. Configure tokens "
            "(--tokens-file or MLTRACK_SERVER_TOKENS) or pass --allow-anonymous"
        )
    with connect(store, read_only=dashboard_only) as opened:  # an unreachable or broken store fails here
        where = opened.uri  # as the backend shows it: without a password
    config = uvicorn.Config(
        _APP,
        factory=True,
        workers=workers,
        log_config=None if workers == 1 else _worker_logging(log_level),  # a worker process starts unconfigured
        log_level=log_level,
        access_log=False,  # the app logs each request itself, with the token's name
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    listener = _listen(host, port)
    shown = f"[{host}]" if ":" in host else host
    logger = logging.getLogger("mltrack.server")
    address = f"http://{shown}:{listener.getsockname()[1]}"
    if dashboard_only:
        click.echo(f"mltrack dashboard of {where}: {address}/ui/  (Ctrl-C stops it)", err=True)
        if open_browser:
            webbrowser.open(f"{address}/ui/")
    else:
        processes = f"; {workers} worker processes" if workers > 1 else ""
        logger.info(
            "mltrack server listening on %s (store %s%s); the dashboard: %s/ui/", address, where, processes, address
        )
    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again for the previous handler:
    # make that a no-op, so a stopped server exits with status 0 (and no KeyboardInterrupt traceback).
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda number, frame: None)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[listener]).run()  # stops its workers on SIGINT/SIGTERM, then returns
    else:
        uvicorn.Server(config).run(sockets=[listener])
    logger.info("mltrack server stopped")


def _worker_logging(level: str) -> dict[str, object]:
    """The logging of a worker process: the server's (one escaped line per record on stderr), with its process id."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"escaped": {"()": "mltrack_core.server.app.EscapedLogRecords"}},
        "formatters": {"plain": {"format": _LOG_FORMAT.replace("%(name)s", "[%(process)d] %(name)s")}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["escaped"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
    }


def start_dashboard(store_uri: str, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve the dashboard over ``store_uri`` (read-only) on a background thread of this process.

    Args:
        store_uri: The store to show.
        host: Address to listen on.
        port: Port (0: any free port).

    Returns:
        The dashboard's address (``http://host:port/ui/``) and a function that stops it.
    """
    import threading

    import uvicorn

    from mltrack_core.server.app import ServerSettings, create_app

    listener = _listen(host, port)
    config = uvicorn.Config(
        create_app(ServerSettings(store_uri, read_only=True)), log_config=None, log_level="warning", access_log=False
    )
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, kwargs={"sockets": [listener]}, name="mltrack-dashboard", daemon=True)
    thread.start()
    while not served.started and thread.is_alive():
        time.sleep(0.02)

    def stop() -> None:
        served.should_exit = True
        thread.join(timeout=10)

    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{listener.getsockname()[1]}/ui/", stop


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, made as a TCP socket so that asyncio turns Nagle's algorithm off on connections.

    (A socket made without naming the protocol, as uvicorn's Config.bind_socket does, leaves Nagle on: every
    answer then waits about 40 ms for the client's delayed acknowledgement.)
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    listener.listen(2048)  # connections wait in the backlog until the server accepts them, never refused
    listener.set_inheritable(True)
    return listener


@click.command("sync")
@click.option("--uri", metavar="URI", help="The server (default: mltrack --uri, else $MLTRACK_URI).")
@click.option(
    "--all", "every", is_flag=True, help="Every server with a spool ($MLTRACK_SPOOL, else $MLTRACK_HOME/spool)."
)
@click.option("--status", is_flag=True, help="Only show what waits and what the server refused; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def sync(ctx: click.Context, uri: str | None, every: bool, status: bool, as_json: bool) -> None:
    """Send the writes kept while the metadata server was unreachable, in order.

    Exits with status 1 when writes still wait (the server is still unreachable)
    or the server refused some (listed with --status).
    """
    from mltrack_core.backends.rest import SCHEMES, RestStore, spool_folder, spool_of
    from mltrack_core.backends.spool import Spool, spool_paths

    if every:
        servers = [Spool(path).stored_server_uri() for path in spool_paths(spool_folder())]
        targets = [server for server in servers if server]
    else:
        root_uri = ctx.find_root().params.get("uri") if ctx.parent is not None else None
        target = uri or root_uri or os.environ.get("MLTRACK_URI")
        if not target or target.partition("://")[0].lower() not in SCHEMES:
            raise click.UsageError(f"give the server with --uri http://HOST:PORT (got {target or 'nothing'}), or --all")
        targets = [target]
    reports, failed = [], False
    for target in targets:
        try:
            report = _status(target, spool_of(target)) if status else _sync(RestStore(target))
        except MltrackError as exc:
            raise click.ClickException(str(exc)) from exc
        failed = failed or report["pending"] > 0 or report["rejected"] > 0
        reports.append(report)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    else:
        for report in reports:
            _print(report)
        if not reports:
            click.echo("nothing is spooled")
    if failed:
        ctx.exit(1)


def _sync(store: RestStore) -> dict[str, object]:
    try:
        result = store.sync()
        refused = [_refused(write) for write in store.spool.rejected()]
    finally:
        store.close(send_spooled=False)
    report = {
        "server": result.server,
        "spool": result.spool,
        "reachable": result.reachable,
        "sent": result.sent,
        "pending": result.pending,
        "rejected": result.rejected,
    }
    report["refused"] = refused
    return report


def _status(uri: str, spool: Spool) -> dict[str, object]:
    try:
        refused, pending = spool.rejected(), spool.pending()
    finally:
        spool.close()
    return {
        "server": spool.server_uri or uri,
        "spool": str(spool.path),
        "pending": pending,
        "rejected": len(refused),
        "refused": [_refused(write) for write in refused],
    }


def _refused(write: RejectedWrite) -> dict[str, object]:
    return {"operation": write.operation, "path": write.path, "error": write.error}


def _print(report: dict[str, object]) -> None:
    if "sent" in report:
        reach = "" if report["reachable"] else " (the server did not answer)"
        click.echo(f"{report['server']}: sent {report['sent']} write(s); {report['pending']} still wait{reach}")
    else:
        click.echo(f"{report['server']}: {report['pending']} write(s) wait in {report['spool']}")
    for refused in report["refused"]:  # type: ignore[union-attr]
        click.echo(f"  refused: {refused['operation']} {refused['path']}: {refused['error']}")
