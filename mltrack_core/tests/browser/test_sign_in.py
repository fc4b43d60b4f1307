"""Signing in once with a token in a real browser: the cookie reads every page and the live stream, never writes."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mltrack_core.server.auth import SESSION_COOKIE, TokenSet


def test_a_token_signs_in_once_and_its_cookie_reads_pages_and_streams_but_never_writes(
    page: Any, training: Any, serve: Callable[..., str]
) -> None:
    write_token = secrets.token_urlsafe(32)
    tokens = TokenSet()
    tokens.add("write", write_token, "ci", "the test")
    base = serve(training.tracker.uri, tokens=tokens, read_only=False)  # as `mltrack server` serves the dashboard
    run_page = f"/ui/runs/{training.run.id}?metric=loss"

    page.goto(base + run_page)
    assert urlsplit(page.url).path == "/ui/signin"
    assert parse_qs(urlsplit(page.url).query)["next"] == [run_page]
    page.fill('input[name="token"]', write_token)
    page.click('button[type="submit"]')
    page.wait_for_url(f"**{run_page}")

    # The cookie opens the page, its series and its event stream (an EventSource can send no other credentials).
    page.wait_for_selector('#run-page[data-live="true"]', state="attached")
    page.wait_for_selector('div.chart[data-metric="loss"][data-drawn="true"]', state="attached")
    first = page.evaluate("mltrack.chart.pointCount('loss')")
    page.wait_for_function("(count) => mltrack.chart.pointCount('loss') >= count + 5", arg=first)

    (cookie,) = [cookie for cookie in page.context.cookies() if cookie["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert SESSION_COOKIE not in page.evaluate("document.cookie"), "page scripts must not read the token"

    # Even a write token's cookie never writes; the same token sent as a bearer token does (the control).
    point = {"points": [[training.run.id, "probe", 1.0, None, None, int(time.time() * 1000)]]}
    with_cookie = page.context.request.post(f"{base}/v1/points", data=point)
    assert with_cookie.status == 401, with_cookie.text()
    as_bearer = page.context.request.post(
        f"{base}/v1/points", data=point, headers={"Authorization": f"Bearer {write_token}"}
    )
    assert as_bearer.status == 200, as_bearer.text()

    page.click(".signout button")
    page.wait_for_url("**/ui/signin*")
    assert not [cookie for cookie in page.context.cookies() if cookie["name"] == SESSION_COOKIE]
