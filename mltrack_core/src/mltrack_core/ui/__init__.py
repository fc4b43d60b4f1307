"""The dashboard: what mltrack records, in a browser (the paper's Figure 4 and more).

``mltrack ui`` serves it over any store (the embedded SQLite store by default),
read-only; ``mltrack server`` serves the same pages under ``/ui`` next to the
REST API. Pages are rendered on the server from the tracker's API (Jinja2,
autoescaped: every name, annotation and value a user recorded is untrusted
text); small vendored libraries (htmx, uPlot, dagre, see ``static/vendor``)
draw curves and graphs in the browser. Nothing is fetched from elsewhere, and
no page can write to the store.

Every page keeps its view state (filters, sort, chosen metrics, zoom, depth) in
its query string, so its URL can be bookmarked and shared:

- ``/ui/``: runs and models, paged, sortable, filterable, with metric columns;
- ``/ui/runs/{id}``: a training run: curves (live while it trains), hyperparameters, environment;
- ``/ui/models/{id}``: a model: hyperparameters, column DAG or network layout, data, evaluations;
- ``/ui/datasets/{id}``: a dataset: schema, statistics, histograms, what it came from and led to;
- ``/ui/lineage/{id}``: the lineage graph of any entity, with a depth control;
- ``/ui/leaderboard/{dataset id}``: the comparable evaluations of a metric, ranked, and the excluded ones;
- ``/ui/diff?a=...&b=...``: what differs between two evaluated models;
- ``/ui/entities/{id}``: any entity (redirects to its page when it has one).

With tokens configured, a read token signs in once at ``/ui/signin`` (an
HttpOnly, SameSite=Strict cookie, accepted for reads only).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = ["PAGE_MODULES", "STATIC", "dashboard_router"]

STATIC = Path(__file__).parent / "static"
"""The dashboard's own scripts and stylesheet, and the vendored libraries with their licences."""

PAGE_MODULES = ("session", "runs", "run", "model", "dataset", "lineage", "leaderboard", "entity")
"""The modules of :mod:`mltrack_core.ui.pages`, each with a ``router`` of its pages."""


def dashboard_router() -> APIRouter:
    """Every page of the dashboard, with paths relative to its mount point (``/ui``)."""
    import importlib

    from fastapi import APIRouter

    router = APIRouter(include_in_schema=False)
    for name in PAGE_MODULES:
        module = importlib.import_module(f"mltrack_core.ui.pages.{name}")
        router.include_router(module.router)
    return router
