"""A loopback HTTP/1.1 proxy that can lose answers: the request reaches the server, its answer never comes back.

That is what a client sees when a server dies right after committing a write,
or when a connection drops on the way back; a retry must then not store the
write twice. An answer can also be cut after its headers, as when a server is
killed while it sends the body.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import BinaryIO


def _read_message(stream: BinaryIO) -> bytes | None:
    """One HTTP message (start line, headers, Content-Length body) as raw bytes; None at the end of the stream."""
    head = b""
    while True:
        line = stream.readline()
        if not line:
            return None
        head += line
        if line in (b"\r\n", b"\n"):
            break
    length = 0
    for header in head.split(b"\r\n")[1:]:
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head + (stream.read(length) if length else b"")


def _origin_form(request: bytes) -> bytes:
    """The request as a forward proxy passes it on: ``POST http://host/path`` becomes ``POST /path``."""
    method, _, rest = request.partition(b" ")
    if not rest.startswith((b"http://", b"https://")):
        return request
    target = rest.split(b"://", 1)[1]
    return method + b" /" + target.partition(b"/")[2]


class LossyProxy:
    """Forwards connections to ``127.0.0.1:target_port`` (also as a forward proxy); :meth:`lose` drops an answer."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.seen: list[str] = []
        self._lose: list[str] = []
        self._drop: list[str] = []
        self._cut: list[str] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def lose(self, request_start: str) -> None:
        """Lose the answer to the next request whose start line begins with ``request_start`` (``POST /v1/points``)."""
        with self._lock:
            self._lose.append(request_start)

    def drop(self, request_start: str) -> None:
        """Drop the next request whose start line begins with ``request_start``: the server never gets it."""
        with self._lock:
            self._drop.append(request_start)

    def cut(self, request_start: str) -> None:
        """Send only the headers of the answer to the next request whose start line begins with ``request_start``."""
        with self._lock:
            self._cut.append(request_start)

    def close(self) -> None:
        # wake the accepting thread and wait for it before the descriptor is freed: a new proxy may get the
        # same descriptor number, and a late accept() on it would steal that proxy's connections
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(timeout=10)
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
            from_client, from_server = client.makefile("rb"), upstream.makefile("rb")
            while (request := _read_message(from_client)) is not None:
                start = request.split(b"\r\n", 1)[0].decode("latin-1")
                with self._lock:
                    self.seen.append(start)
                    dropped = next((prefix for prefix in self._lose if start.startswith(prefix)), None)
                    if dropped is not None:
                        self._lose.remove(dropped)
                    never_sent = next((prefix for prefix in self._drop if start.startswith(prefix)), None)
                    if never_sent is not None:
                        self._drop.remove(never_sent)
                    cut = next((prefix for prefix in self._cut if start.startswith(prefix)), None)
                    if cut is not None:
                        self._cut.remove(cut)
                if never_sent is not None:
                    return  # the connection breaks before the request reaches the server
                upstream.sendall(_origin_form(request))
                answer = _read_message(from_server)
                if answer is None or dropped is not None:
                    return  # the server did the work; the client never hears of it
                if cut is not None:
                    client.sendall(answer.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
                    return  # the headers promised a body that never comes
                client.sendall(answer)
