"""The dashboard's frame: signing in with a token, the cookie that only reads, headers, errors, `mltrack ui`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

import mltrack_core as mt
from mltrack_core.server import ServerSettings, create_app
from mltrack_core.server.auth import SESSION_COOKIE, TokenSet
from mltrack_core.testing import sample_experiment

READ_TOKEN = "read-" + "r" * 24
WRITE_TOKEN = "write-" + "w" * 24
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def guarded(store_uri: str, tracker: mt.Tracker):
    """The server (API and dashboard) over a store with one sample experiment, with a read and a write token."""
    recorded = sample_experiment(tracker)
    tracker.flush()
    tokens = TokenSet()
    tokens.add("read", READ_TOKEN, "analyst", "test")
    tokens.add("write", WRITE_TOKEN, "pipeline", "test")
    with TestClient(create_app(ServerSettings(store_uri, tokens=tokens))) as client:
        yield client, recorded


def sign_in(client: TestClient, token: str, next_page: str = "/ui/") -> requests.Response:
    return client.post("/ui/signin", content=f"token={token}&next={next_page}", headers=FORM, follow_redirects=False)


def test_a_page_without_a_token_leads_to_the_sign_in_form_and_back(guarded):
    client, recorded = guarded
    page = f"/ui/entities/{recorded['model'].id}"
    answer = client.get(page, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/signin?next=" + page.replace("/", "%2F")
    form = client.get(answer.headers["location"])
    assert form.status_code == 200 and 'type="password"' in form.text and f'value="{page}"' in form.text

    signed_in = sign_in(client, READ_TOKEN, page)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == page
    cookie = signed_in.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get(page).status_code == 200  # the redirect to the model's page, signed in


def test_a_wrong_token_is_refused_on_the_form_and_sets_no_cookie(guarded):
    client, _ = guarded
    answer = sign_in(client, "not-a-token-of-this-server")
    assert answer.status_code == 401 and "not valid" in answer.text
    assert "set-cookie" not in answer.headers
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_the_cookie_reads_but_never_writes_even_with_a_write_token(guarded):
    client, recorded = guarded
    sign_in(client, WRITE_TOKEN)
    assert client.get(f"/v1/entities/{recorded['model'].id}").status_code == 200
    written = client.post("/v1/entities", json={"entities": [recorded["full"].to_json()]})
    assert written.status_code == 401  # a cookie is no credential for writes: no other site can make us write
    assert client.get("/ui/").status_code == 200


def test_signing_out_forgets_the_cookie(guarded):
    client, _ = guarded
    sign_in(client, READ_TOKEN)
    out = client.post("/ui/signout", follow_redirects=False)
    assert out.status_code == 303 and f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    client.cookies.clear()
    assert client.get("/ui/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/ui/", "/v1/entities", "/ui\\..\\x"])
def test_the_sign_in_form_returns_only_to_dashboard_pages(guarded, target):
    client, _ = guarded
    assert sign_in(client, READ_TOKEN, target).headers["location"] == "/ui/"


def test_pages_forbid_scripts_from_elsewhere_and_framing(client):
    answer = client.get("/ui/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_every_page_uses_only_the_dashboards_own_files(client):
    page = client.get("/ui/").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith("/ui/") for source in sources), sources
    for source in (s for s in sources if "/static/" in s):
        assert client.get(source).status_code == 200, source


def test_every_vendored_library_ships_with_its_licence():
    from mltrack_core.ui import STATIC

    for library in ("htmx", "uplot", "dagre"):
        folder = STATIC / "vendor" / library
        assert (folder / "LICENSE").read_text().strip(), library
        assert any(path.suffix == ".js" for path in folder.iterdir()), library


def test_errors_of_pages_are_pages_and_errors_of_the_api_stay_json(client):
    page = client.get("/ui/entities/no-such-id")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no-such-id" in page.text
    api = client.get("/v1/entities/no-such-id")
    assert api.status_code == 404 and api.json()["error"] == "NotFoundError"


def test_the_root_leads_to_the_dashboard(client):
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"] == "/ui/"


def test_the_dashboard_opens_the_store_read_only(client, tracker):
    recorded = sample_experiment(tracker)
    tracker.flush()
    answer = client.post("/v1/entities", json={"entities": [recorded["full"].to_json()]})
    assert answer.status_code == 403 and "read-only" in answer.json()["message"]


def _start(command: list[str], environment: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Starts a command that prints the dashboard's address; returns the process and that address."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        found = re.search(r"(http://127\.0\.0\.1:\d+/ui/)", line)
        if found:
            return process, found.group(1)
        if not line and process.poll() is not None:
            break
    process.kill()
    process.wait()
    process.stdout.close()
    raise AssertionError("no address printed:\n" + "".join(lines))


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C: the dashboard stops gracefully, with exit status 0."""
    process.send_signal(signal.SIGINT)
    try:
        assert process.wait(timeout=30) == 0
    finally:
        process.stdout.close()


def _environment(home: Path) -> dict[str, str]:
    return {**os.environ, "MLTRACK_HOME": str(home), "PYTHONUNBUFFERED": "1"}


def test_mltrack_ui_serves_any_store_read_only_and_stops_on_ctrl_c(tmp_path, store_uri, tracker):
    recorded = sample_experiment(tracker)
    tracker.flush()
    command = [sys.executable, "-m", "mltrack_core.cli", "ui", "--uri", store_uri, "--port", "0"]
    process, address = _start(command, _environment(tmp_path))
    try:
        page = requests.get(f"{address}entities/{recorded['model'].id}", timeout=10)
        assert page.status_code == 200 and recorded["model"].name in page.text
        entities = {"entities": [recorded["full"].to_json()]}
        refused = requests.post(address.replace("/ui/", "/v1/entities"), json=entities, timeout=10)
        assert refused.status_code == 403
    finally:
        _stop(process)


def test_mltrack_ui_refuses_a_missing_store_instead_of_creating_one(tmp_path):
    missing = tmp_path / "nothing-here.db"
    result = subprocess.run(
        [sys.executable, "-m", "mltrack_core.cli", "ui", "--uri", f"sqlite:///{missing}", "--port", "0"],
        capture_output=True,
        text=True,
        env=_environment(tmp_path),
        timeout=60,
    )
    assert result.returncode == 1 and "Error:" in result.stderr
    assert not missing.exists()


def test_the_live_demo_serves_a_run_while_it_trains(tmp_path):
    uri = f"sqlite:///{tmp_path / 'demo.db'}"
    command = [sys.executable, "-m", "mltrack_core.cli", "--uri", uri, "demo", "--live", "--seconds", "6"]
    command += ["--port", "0"]
    process, address = _start(command, _environment(tmp_path))
    try:
        watched = None
        for line in iter(process.stdout.readline, ""):
            found = re.search(r"watch it: (\S+/runs/(\S+))", line)
            if found:
                watched = found.groups()
                break
        assert watched is not None, "the live demo did not say which run to watch"
        page, run_id = watched
        assert requests.get(page, timeout=10).status_code == 200
        metrics = requests.get(address.replace("/ui/", f"/v1/runs/{run_id}/metrics"), timeout=10).json()
        assert metrics["state"] == "TRAINING"
        for line in iter(process.stdout.readline, ""):
            if "until Ctrl-C" in line:
                break
        with mt.connect(uri, read_only=True) as reader:
            ended = reader.get_run(run_id)
            assert ended.state.value == "FINISHED" and len(reader.points(run_id)) >= 2 * 24
    finally:
        _stop(process)


def test_the_demo_ends_by_saying_how_to_see_it_in_a_browser(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mltrack_core.cli import DEMO_COMMAND_VARIABLE, main

    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path))
    said = CliRunner().invoke(main, ["demo"], catch_exceptions=False).output.splitlines()
    assert said[-3] == "see it in your browser:" and said[-2].split()[:2] == ["mltrack", "ui"]
    assert said[-1].split()[:4] == ["mltrack", "demo", "--live", "--open"]

    monkeypatch.setenv(DEMO_COMMAND_VARIABLE, "./dev")
    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    said = CliRunner().invoke(main, ["--uri", uri, "demo"], catch_exceptions=False).output.splitlines()
    assert said[-2].split()[:4] == ["./dev", "ui", "--open", "--uri"] and uri in said[-2]
