"""Shared fixtures of the interop tests: a real HTTP lineage server that records what it is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class LineageServer(BaseHTTPRequestHandler):
    """Records each POST as (path, Authorization header, JSON body); answers ``status`` (201 unless a test sets it)."""

    received: list[tuple[str, str | None, Any]]
    status = 201

    def do_POST(self) -> None:  # http.server's name for the POST handler
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *arguments: Any) -> None:
        pass


@pytest.fixture
def lineage_server() -> Iterator[tuple[str, type[LineageServer]]]:
    """A lineage server on a free local port, in a thread: its base URL and its handler class (``received``)."""
    handler = type("Handler", (LineageServer,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()
    thread.join()
