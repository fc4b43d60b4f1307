"""When the server itself fails: a JSON answer on a usable connection, a log no request can forge, stores that
cannot be written (read-only, full) answered with a JSON error that leaks no path."""

from __future__ import annotations

import http.client
import importlib.util
import json
import logging
import os
import re
import shlex
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import uvicorn
from mounts import in_mount_namespace, why_mounts_fail
from rest_servers import ServerProcess, popen_in

import mltrack_core as mt
from mltrack_core.errors import StoreCorruptError, StoreReadOnlyError, StoreUnavailableError
from mltrack_core.server.app import create_app

# ---------------------------------------------------------------- a failure the code did not expect


FAILURES = {
    "bug": RuntimeError("a bug\n2026-01-01 00:00:00,000 INFO mltrack.server: forged by an exception message"),
    "store-broken": StoreCorruptError("the store /srv/secret/store.db is not an mltrack store"),
    "store-down": StoreUnavailableError("postgresql://mltrack:secret@db.internal/mltrack does not answer"),
    "store-read-only": StoreReadOnlyError("the store /srv/secret/store.db is on a read-only file system"),
}


@pytest.fixture
def failing_server(tmp_path: Path) -> Iterator[str]:
    """The app, served by uvicorn in this process, with endpoints that fail as a bug or a broken store would."""
    app = create_app(f"sqlite:///{tmp_path}/store.db")

    @app.get("/v1/test-failure/{name}")
    def fail(name: str) -> None:
        raise FAILURES[name]

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert server.started
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()


def test_an_unexpected_failure_is_a_json_500_and_the_connection_stays_usable(
    failing_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = failing_server.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        with caplog.at_level(logging.ERROR, logger="mltrack.server"):
            connection.request("GET", "/v1/test-failure/bug")
            failed = connection.getresponse()
            body = json.loads(failed.read())
        the_socket = connection.sock
        assert failed.status == 500 and body["error"] == "InternalServerError" and "RuntimeError" in body["message"]
        assert failed.getheader("connection") != "close"
        connection.request("GET", "/v1/health")  # on the same connection: it was kept, and it works
        answer = connection.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["status"] == "ok"
        assert connection.sock is the_socket
    finally:
        connection.close()
    logged = caplog.text
    assert "unexpected failure on GET /v1/test-failure/bug" in logged and "Traceback" in logged
    assert "a bug\\n2026-01-01" in logged  # the exception's message is escaped: it forges no line
    assert not any(line.startswith("2026-01-01") for line in logged.splitlines())


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("store-broken", 500, "the server's store failed; the server's log has the details"),
        ("store-down", 503, "the server's store is unavailable right now; try again later"),
        ("store-read-only", 403, "the store is read-only: this server can only answer reads"),
    ],
)
def test_a_store_failure_is_answered_without_the_stores_path_or_uri(
    failing_server: str, caplog: pytest.LogCaptureFixture, name: str, status: int, message: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="mltrack.server"):
        answer = requests.get(f"http://{failing_server}/v1/test-failure/{name}", timeout=10)
    error = type(FAILURES[name]).__name__
    assert (answer.status_code, answer.json()) == (status, {"error": error, "message": message, "status": status})
    if status >= 500:  # the details are for the operator
        assert str(FAILURES[name]) in caplog.text


# ---------------------------------------------------------------- the log


def test_nothing_a_request_sends_can_forge_or_colour_a_log_line(start_server, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    token = "t0ken-of-the-trainer-0123456789"
    tokens.write_text(f"write {token} trainer\x1b[31mred\n", encoding="utf-8")
    tokens.chmod(0o600)
    server = start_server(f"sqlite:///{tmp_path}/store.db", "--tokens-file", str(tokens))
    forged = '2026-01-01 00:00:00,000 INFO mltrack.server: 10.0.0.1 "GET /admin" 200 0.1ms root'
    escaped = forged.replace(" ", "%20").replace('"', "%22")
    requests.get(f"{server.url}/v1/entities/x%0A{escaped}", timeout=10)  # no token: refused, but logged
    authorized = {"Authorization": f"Bearer {token}"}
    requests.get(f"{server.url}/v1/entities/x%0D%0A{escaped}", headers=authorized, timeout=10)
    requests.get(f"{server.url}/v1/entities?name=a%0A{escaped}&tag=%1B[2J", headers=authorized, timeout=10)
    requests.get(f"{server.url}/v1/entities/%E2%80%A8%C2%85end", headers=authorized, timeout=10)
    server.stop()
    log = server.log_text()
    assert not any(line.startswith("2026-01-01") for line in log.splitlines()), log
    assert "\x1b" not in log and "\r" not in log and "\u2028" not in log and "\x85" not in log
    assert 'x\\n2026-01-01 00:00:00,000 INFO mltrack.server: 10.0.0.1 "GET /admin"' in log
    assert "x\\r\\n2026-01-01" in log and "name=a%0A2026" in log and "tag=%1B%5B2J" in log
    assert "\\u2028\\x85end" in log and "trainer\\x1b[31mred" in log
    assert len(re.findall(r"^\S+ \S+ INFO mltrack\.server: 127\.0\.0\.1 \"GET /v1/entities", log, re.MULTILINE)) == 4


# ---------------------------------------------------------------- stores that cannot be written


def _stored(uri: str) -> mt.Dataset:
    with mt.connect(uri) as tracker:
        dataset = tracker.track_dataset(name="kept")
        tracker.track_training(name="fit", trained_on=dataset, id="run-open")
        return dataset


def _assert_reads_work_and_writes_are_refused_as_read_only(url: str, dataset: mt.Dataset) -> None:
    assert requests.get(f"{url}/v1/entities/{dataset.id}", timeout=10).json()["name"] == "kept"
    before = requests.post(f"{url}/v1/query/count", json={}, timeout=10).json()["count"]
    run = requests.get(f"{url}/v1/entities/run-open", timeout=10).json()
    writes = [
        ("/v1/entities", {"entities": [{"kind": "dataset", "name": "new"}]}),
        ("/v1/points", {"points": [["run-open", "loss", 1.0, None, None, 1]]}),
        ("/v1/runs/run-open/end", {"run": {**run, "state": "FAILED", "end_time": run["start_time"] + 1}}),
    ]
    for path, body in writes:
        answer = requests.post(f"{url}{path}", json=body, timeout=10)
        assert answer.status_code == 403, answer.text
        assert answer.json() == {
            "error": "StoreReadOnlyError",
            "message": "the store is read-only: this server can only answer reads",
            "status": 403,
        }
    assert requests.post(f"{url}/v1/query/count", json={}, timeout=10).json()["count"] == before
    assert requests.get(f"{url}/v1/runs/run-open/points", timeout=10).json()["total"] == 0


def test_a_store_opened_read_only_answers_reads_and_refuses_writes_with_403(start_server, tmp_path: Path) -> None:
    dataset = _stored(f"sqlite:///{tmp_path}/store.db")
    server = start_server(f"sqlite:///{tmp_path}/store.db?mode=ro")
    _assert_reads_work_and_writes_are_refused_as_read_only(server.url, dataset)


POSTGRESQL = bool(os.environ.get("MLTRACK_TEST_POSTGRESQL_URI")) and importlib.util.find_spec("psycopg") is not None


@pytest.mark.postgresql
@pytest.mark.skipif(not POSTGRESQL, reason="needs MLTRACK_TEST_POSTGRESQL_URI and psycopg (the postgresql session)")
def test_a_postgresql_store_in_read_only_transactions_answers_reads_and_refuses_writes_with_403(
    start_server, fresh_stores
) -> None:
    store_uri = fresh_stores.new("postgresql")
    dataset = _stored(store_uri)
    read_only = quote("-cdefault_transaction_read_only=on ", safe="")  # as a hot standby or a read-only role is
    server = start_server(store_uri.replace("options=", f"options={read_only}", 1))
    _assert_reads_work_and_writes_are_refused_as_read_only(server.url, dataset)


MOUNTING = why_mounts_fail()


@pytest.mark.skipif(MOUNTING is not None, reason=f"a read-only mount needs a private mount namespace: {MOUNTING}")
def test_a_store_on_a_read_only_mount_answers_reads_and_refuses_writes_with_403(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    dataset = _stored(f"sqlite:///{origin}/store.db")
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    target, copied = shlex.quote(str(mounted)), shlex.quote(str(origin / "store.db"))
    setup = f"mount -t tmpfs tmpfs {target} && cp {copied} {target}/ && mount -o remount,ro {target}"
    spawn = popen_in(tmp_path, wrapper=in_mount_namespace(setup))
    server = ServerProcess(f"sqlite:///{mounted}/store.db", tmp_path / "server.log", spawn=spawn).start()
    try:
        _assert_reads_work_and_writes_are_refused_as_read_only(server.url, dataset)
    finally:
        server.kill()
    assert "Traceback" not in server.log_text()


@pytest.mark.skipif(MOUNTING is not None, reason=f"a full disk is a small tmpfs in a mount namespace: {MOUNTING}")
def test_a_full_disk_is_a_json_error_without_paths_and_writes_nothing(tmp_path: Path) -> None:
    disk = tmp_path / "small-disk"
    disk.mkdir()
    spawn = popen_in(
        tmp_path, wrapper=in_mount_namespace(f"mount -t tmpfs -o size=256k tmpfs {shlex.quote(str(disk))}")
    )
    server = ServerProcess(f"sqlite:///{disk}/store.db", tmp_path / "server.log", spawn=spawn).start()
    try:
        url = server.url
        small = requests.post(f"{url}/v1/entities", json={"entities": [{"kind": "dataset", "name": "s"}]}, timeout=10)
        assert small.status_code == 200
        big = [{"kind": "dataset", "name": f"big-{index}", "comments": "x" * 20_000} for index in range(40)]
        answer = requests.post(f"{url}/v1/entities", json={"entities": big}, timeout=30)
        assert answer.status_code in (500, 503, 507), answer.text
        body = answer.json()
        assert body["status"] == answer.status_code and body["error"].startswith("Store")
        assert str(disk) not in body["message"] and "sqlite" not in body["message"] and "/" not in body["message"]
        assert requests.post(f"{url}/v1/query/count", json={}, timeout=10).json() == {"count": 1}
        again = requests.get(f"{url}/v1/entities/{small.json()['written'][0]}", timeout=10)
        assert again.status_code == 200 and again.json()["name"] == "s"  # reads keep working
    finally:
        server.kill()
    log = server.log_text()
    assert "store failure on POST /v1/entities" in log and "Traceback" not in log
