"""Bearer tokens: anonymous requests are refused, a read token cannot write, tokens are never logged."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rest_servers import ServerProcess

import mltrack_core as mt
from mltrack_core import StoreError, StoreReadOnlyError

WRITE_TOKEN = secrets.token_urlsafe(24)
READ_TOKEN = secrets.token_urlsafe(24)
ENV_TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with a write and a read token from a tokens file, and a read token from the environment."""
    folder = tmp_path_factory.mktemp("tokens")
    tokens = folder / "tokens"
    tokens.write_text(f"# who may do what\nwrite {WRITE_TOKEN} trainer\n\nread {READ_TOKEN} dashboard\n")
    tokens.chmod(0o600)
    server = ServerProcess(
        f"sqlite:///{folder}/store.db",
        folder / "server.log",
        "--tokens-file",
        str(tokens),
        env={"MLTRACK_SERVER_TOKENS": f"read:{ENV_TOKEN}"},
    )
    server.start()
    yield server
    assert server.stop() == 0


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _dataset(name: str) -> dict[str, object]:
    return {"entities": [{"kind": "dataset", "id": f"ds-{name}", "name": name}]}


def _count(server: ServerProcess) -> int:
    return requests.post(f"{server.url}/v1/query/count", json={}, headers=_auth(READ_TOKEN), timeout=10).json()["count"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no token"),
        pytest.param({"Authorization": "Bearer not-a-configured-token-at-all"}, id="unknown token"),
        pytest.param({"Authorization": f"Basic {WRITE_TOKEN}"}, id="not a bearer token"),
        pytest.param({"Authorization": "Bearer "}, id="empty token"),
    ],
)
def test_requests_without_a_valid_token_are_refused(guarded: ServerProcess, headers: dict[str, str]) -> None:
    before = _count(guarded)
    for answer in (
        requests.get(f"{guarded.url}/v1/entities", headers=headers, timeout=10),
        requests.post(f"{guarded.url}/v1/entities", json=_dataset("anonymous"), headers=headers, timeout=10),
        requests.post(f"{guarded.url}/v1/entities/lookup", json={"ids": ["x"]}, headers=headers, timeout=10),
    ):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["error"] == "Unauthorized" and "bearer" in answer.json()["message"].lower()
    assert _count(guarded) == before


def test_a_read_token_reads_but_cannot_write(guarded: ServerProcess) -> None:
    stored = requests.post(f"{guarded.url}/v1/entities", json=_dataset("readable"), headers=_auth(WRITE_TOKEN))
    assert stored.status_code == 200
    before = _count(guarded)
    for token in (READ_TOKEN, ENV_TOKEN):
        assert (
            requests.get(f"{guarded.url}/v1/entities/ds-readable", headers=_auth(token), timeout=10).status_code == 200
        )
        refused = requests.post(f"{guarded.url}/v1/entities", json=_dataset("sneaky"), headers=_auth(token), timeout=10)
        assert refused.status_code == 403
        assert refused.json()["error"] == "Forbidden" and "write scope" in refused.json()["message"]
        points = requests.post(
            f"{guarded.url}/v1/points", json={"points": [["run-x", "loss", 1.0, None, None, 1]]}, headers=_auth(token)
        )
        assert points.status_code == 403
    assert _count(guarded) == before


def test_the_health_check_and_the_api_description_need_no_token(guarded: ServerProcess) -> None:
    assert requests.get(f"{guarded.url}/v1/health", timeout=10).json()["status"] == "ok"
    assert requests.get(f"{guarded.url}/openapi.json", timeout=10).status_code == 200


def test_the_client_takes_its_token_from_the_environment_or_the_uri(
    guarded: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = guarded.url.removeprefix("http://")
    with mt.connect(f"http://{WRITE_TOKEN}@{host}") as tracker:
        assert WRITE_TOKEN not in tracker.uri and tracker.uri == guarded.url
        dataset = tracker.track_dataset(name="from the uri")
    with mt.connect(f"http://trainer:{WRITE_TOKEN}@{host}") as tracker:
        assert tracker.get(dataset.id) == dataset
    monkeypatch.setenv("MLTRACK_TOKEN", READ_TOKEN)
    with mt.connect(guarded.url) as tracker:
        assert tracker.get(dataset.id) == dataset
        with pytest.raises(StoreReadOnlyError, match="write scope"):
            tracker.track_dataset(name="read-only client")
    monkeypatch.delenv("MLTRACK_TOKEN")
    with mt.connect(guarded.url) as tracker, pytest.raises(StoreError, match="MLTRACK_TOKEN"):
        tracker.get(dataset.id)


def test_tokens_are_never_logged(guarded: ServerProcess) -> None:
    for token in (WRITE_TOKEN, READ_TOKEN, "an-unknown-token-of-some-length"):
        requests.get(f"{guarded.url}/v1/entities", headers=_auth(token), timeout=10)
    log = guarded.log_text()
    assert '"GET /v1/entities" 200' in log and "trainer" in log and "dashboard" in log  # requests are logged by name
    for token in (WRITE_TOKEN, READ_TOKEN, ENV_TOKEN, "an-unknown-token-of-some-length"):
        assert token not in log


def _server_refuses(tmp_path: Path, *arguments: str, env: dict[str, str] | None = None) -> str:
    command = [sys.executable, "-m", "mltrack_core.server", "--store", f"sqlite:///{tmp_path}/s.db", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    assert done.returncode != 0
    return done.stderr


def test_a_bad_token_configuration_stops_the_server_with_the_reason(tmp_path: Path) -> None:
    readable = tmp_path / "tokens"
    readable.write_text(f"write {WRITE_TOKEN}\n")
    readable.chmod(0o644)
    assert "chmod 600" in _server_refuses(tmp_path, "--tokens-file", str(readable))
    readable.chmod(0o600)
    assert "--max-body: 'lots' is not a size" in _server_refuses(
        tmp_path, "--tokens-file", str(readable), "--max-body", "lots"
    )
    weak = tmp_path / "weak"
    weak.write_text("write tiny7\n")
    weak.chmod(0o600)
    stderr = _server_refuses(tmp_path, "--tokens-file", str(weak))
    assert "line 1" in stderr and "at least 16 characters" in stderr and "tiny7" not in stderr
    assert "neither 'read' nor 'write'" in _server_refuses(
        tmp_path, env={"MLTRACK_SERVER_TOKENS": f"admin:{READ_TOKEN}"}
    )


def test_without_tokens_the_server_only_listens_on_loopback(tmp_path: Path) -> None:
    stderr = _server_refuses(tmp_path, "--host", "0.0.0.0")
    assert "without tokens" in stderr and "--allow-anonymous" in stderr
