"""Rendering pages: the Jinja2 environment (autoescaped), links between pages, and the security headers.

Every text a user recorded is untrusted: templates never mark stored text safe; data for scripts goes
through ``|tojson`` into ``<script type="application/json">`` blocks, which the Content-Security-Policy
below keeps from running (only the dashboard's own files may run).
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from mltrack_core.schema import json_safe

__all__ = ["PAGE_HEADERS", "entity_url", "page_url", "recorded_value", "render"]

TEMPLATES = Path(__file__).parent / "templates"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Sent with every page: only the dashboard's own scripts run, no page can be framed, nothing is cached."""

PAGE_OF_KIND = {"dataset": "dataset", "model": "model", "run": "run"}
"""The page that shows an entity of each kind; the other kinds have the generic entity page."""


def page_url(request: Request, name: str, query: Mapping[str, Any] | None = None, **path: str) -> str:
    """The path of the page ``name`` (a route name) with its path parameters percent-encoded and a query string.

    Args:
        request: The request being answered (its app knows the routes).
        name: The route's name, e.g. ``"run"``.
        query: Query parameters; lists are repeated, None values left out.
        **path: The route's path parameters, e.g. ``run_id="..."``.

    Returns:
        The path, e.g. ``/ui/runs/run-1?axis=step``.
    """
    # A static file's path keeps its slashes; an id is one segment (ids never hold "/", but stay encoded anyway).
    encoded = {key: quote(str(value), safe="/" if key == "path" else "") for key, value in path.items()}
    url = str(request.app.url_path_for(name, **encoded))
    pairs = [(key, value) for key, value in (query or {}).items() if value is not None and value != []]
    return f"{url}?{urlencode(pairs, doseq=True)}" if pairs else url


def entity_url(request: Request, kind: str | None, entity_id: str) -> str:
    """The page of an entity: its kind's page, else the generic entity page."""
    page = PAGE_OF_KIND.get(kind or "")
    if page is None:
        return page_url(request, "entity", entity_id=entity_id)
    return page_url(request, page, **{f"{page}_id": entity_id})


def when(milliseconds: int | None) -> str:
    """A time in ms since 1970 as ``2026-12-02 08:15:03 UTC`` (empty for None)."""
    if milliseconds is None:
        return ""
    moment = datetime.datetime.fromtimestamp(milliseconds / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def number(value: Any) -> str:
    """A metric or parameter value for a table cell: floats with 4 significant digits, the rest as text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    return str(value)


def recorded_value(value: Any) -> str:
    """A recorded value as text: strings as they are, floats to 6 digits, lists and mappings as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(json_safe(value), ensure_ascii=False, default=str)
    return str(value)


def shorten(text: Any, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (templates put the whole text in a title)."""
    shown = "" if text is None else str(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, every value: stored text is untrusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(when=when, number=number, shorten=shorten, value=recorded_value)
    return environment


_ENVIRONMENT = _environment()


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` rendered with ``context`` (plus ``request``, ``url``, ``entity_url``, ``store``).

    Args:
        request: The request being answered.
        template: The template's file name under ``templates/``.
        status_code: The answer's status.
        **context: The template's variables.

    Returns:
        The HTML answer, with :data:`PAGE_HEADERS`.
    """
    tracker = getattr(request.app.state, "tracker", None)
    html = _ENVIRONMENT.get_template(template).render(
        request=request,
        url=lambda name, query=None, **path: page_url(request, name, query, **path),
        entity_url=lambda kind, entity_id: entity_url(request, kind, entity_id),
        store=tracker.uri if tracker is not None else "",
        signed_in=request.cookies.get("mltrack_session") is not None,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
