"""The runs and models table (``GET /ui/``): entities of one kind, filtered, sorted and paged by the store.

The query string is the view's whole state, so a view can be bookmarked and shared:

- ``kind``: run (default), model, dataset, evaluation, prediction or transform;
- ``experiment``, ``name`` (exact), ``tag`` (``KEY=VALUE``, repeatable: all must match), ``state`` (runs);
- ``dataset``: a dataset id: runs and models ``trained_on`` it, evaluations and predictions ``on_dataset`` it,
  datasets ``derived_from`` it;
- ``algorithm`` (models): part of the learning algorithm's name, case-insensitive;
- ``metric``: metric columns ``AGG:NAME`` (repeatable; AGG is last, best, min or max), for runs and models;
- ``sort``: ``created``, ``-created`` (default), ``name``, ``-name``, or ``metric:AGG:NAME`` /
  ``-metric:AGG:NAME``; ``page`` (from 1) and ``size`` (rows per page, at most 200).

Staying fast with 100,000 entities: filtering, counting, paging and sorting by creation time or name happen in
the store (one count and one page of ids per view); only the page's entities are read, and the metric columns
summarise only the page's rows (runs: :meth:`Tracker.metric_summaries`; models: the scalar scores of the
evaluations that name the model in ``computed_by``: ``last`` is the newest evaluation's, ``best`` follows the
metric's direction). Two filters cannot be answered by the store's indexes, so they have bounds instead of
timeouts:

- ``algorithm`` is not an indexed field: the models matching the other filters are scanned when they are at most
  :data:`ALGORITHM_SCAN_LIMIT`; otherwise the page asks for a narrower filter (experiment, dataset, name, tag).
- Sorting by a metric column summarises every matching entity in one call when they are at most
  :data:`METRIC_SORT_LIMIT`; otherwise the page says so and keeps the newest-first order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mltrack_core.errors import SchemaError
from mltrack_core.lineage import greater_is_better
from mltrack_core.schema import Evaluation, TrainingState, metric_name
from mltrack_core.server.app import Reader
from mltrack_core.ui.templating import page_url, render

__all__ = ["ALGORITHM_SCAN_LIMIT", "METRIC_SORT_LIMIT", "TableView", "router"]

router = APIRouter()

KINDS = ("run", "model", "dataset", "evaluation", "prediction", "transform")
"""The kinds the table lists (the ``kind`` parameter)."""

TITLES = {
    "run": "Training runs",
    "model": "Models",
    "dataset": "Datasets",
    "evaluation": "Evaluations",
    "prediction": "Predictions",
    "transform": "Transforms",
}

AGGREGATES = ("last", "best", "min", "max")
"""How a metric column summarises a run's history (or a model's evaluations)."""

STATES = tuple(state.value for state in TrainingState)

METRIC_KINDS = ("run", "model")
"""The kinds that have metric columns (and can be sorted by one)."""

DATASET_LINK = {
    "run": "trained_on",
    "model": "trained_on",
    "evaluation": "on_dataset",
    "prediction": "on_dataset",
    "dataset": "derived_from",
}
"""The link a ``dataset`` filter follows, by kind (transforms name no dataset)."""

DEFAULT_SIZE = 50
MAX_SIZE = 200

METRIC_SORT_LIMIT = 5_000
"""Sorting by a metric summarises every matching entity in one call: only up to this many."""

ALGORITHM_SCAN_LIMIT = 10_000
"""The ``algorithm`` filter reads the models matching the other filters: only up to this many."""

_READ_CHUNK = 500
_SUMMARIES_PER_CALL = 1_000  # what Tracker.metric_summaries accepts at once
_SUMMARY_FIELDS = {"last": "last", "best": "best", "min": "minimum", "max": "maximum"}  # of a MetricSummary


@dataclass(frozen=True)
class MetricColumn:
    """A metric column: one summary (``aggregate``) of one metric."""

    aggregate: str
    metric: str

    @property
    def key(self) -> str:
        """The column as the ``metric`` parameter spells it: ``AGG:NAME``."""
        return f"{self.aggregate}:{self.metric}"

    @classmethod
    def parse(cls, text: str) -> MetricColumn:
        """The column ``AGG:NAME`` names.

        Raises:
            SchemaError: not ``AGG:NAME`` with a known aggregate and a valid metric name.
        """
        aggregate, colon, metric = text.partition(":")
        if not colon or aggregate not in AGGREGATES:
            raise SchemaError(
                f"metric column {text!r:.80}: expected AGG:NAME with AGG one of {', '.join(AGGREGATES)}, "
                "e.g. last:loss or best:accuracy"
            )
        metric_name(metric, "metric column")
        return cls(aggregate, metric)


@dataclass(frozen=True)
class Sort:
    """The order of the rows: by creation time, name, or a metric column; ``descending`` or not."""

    by: str
    descending: bool
    column: MetricColumn | None = None

    @property
    def text(self) -> str:
        """The order as the ``sort`` parameter spells it."""
        by = f"metric:{self.column.key}" if self.column is not None else self.by
        return f"-{by}" if self.descending else by

    @classmethod
    def parse(cls, text: str) -> Sort:
        """The order ``text`` names.

        Raises:
            SchemaError: not one of the orders the table knows.
        """
        descending = text.startswith("-")
        by = text[1:] if descending else text
        if by in ("created", "name"):
            return cls(by, descending)
        if by.startswith("metric:"):
            return cls("metric", descending, MetricColumn.parse(by.removeprefix("metric:")))
        raise SchemaError(
            f"sort {text!r:.80}: expected created, name, metric:AGG:NAME (or one of them with a leading '-')"
        )


DEFAULT_SORT = Sort("created", descending=True)


@dataclass(frozen=True)
class TableView:
    """What the table shows: the parsed query string (see the module's docstring)."""

    kind: str = "run"
    experiment: str = ""
    name: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    state: str = ""
    dataset: str = ""
    algorithm: str = ""
    sort: Sort = DEFAULT_SORT
    metrics: tuple[MetricColumn, ...] = ()
    page: int = 1
    size: int = DEFAULT_SIZE

    @classmethod
    def from_query(cls, parameters: Any) -> TableView:
        """The view a query string states (``parameters``: Starlette's ``QueryParams``).

        Raises:
            SchemaError: a parameter has a value the table does not know; the message names it.
        """
        text = {name: parameters.get(name, "").strip() for name in ("experiment", "name", "dataset", "algorithm")}
        kind = parameters.get("kind") or "run"
        if kind not in KINDS:
            raise SchemaError(f"kind {kind!r:.60}: expected one of {', '.join(KINDS)}")
        state = (parameters.get("state") or "").strip().upper()
        if state and state not in STATES:
            raise SchemaError(f"state {state!r:.60}: expected one of {', '.join(STATES)}")
        tags = []
        for tag in parameters.getlist("tag"):
            if not tag.strip():
                continue
            key, equals, value = tag.partition("=")
            if not equals or not key.strip():
                raise SchemaError(f"tag {tag!r:.80}: expected KEY=VALUE")
            tags.append((key.strip(), value.strip()))
        columns = tuple(
            dict.fromkeys(MetricColumn.parse(text.strip()) for text in parameters.getlist("metric") if text.strip())
        )
        sort = Sort.parse(parameters.get("sort") or DEFAULT_SORT.text)
        return cls(
            kind=kind,
            tags=tuple(tags),
            state=state if kind == "run" else "",
            sort=sort,
            metrics=columns,
            page=_whole_number(parameters.get("page"), "page", 1, 1, 10**9),
            size=_whole_number(parameters.get("size"), "size", DEFAULT_SIZE, 1, MAX_SIZE),
            experiment=text["experiment"],
            name=text["name"],
            dataset=text["dataset"] if kind in DATASET_LINK else "",
            algorithm=text["algorithm"] if kind == "model" else "",
        )

    def state_query(self, **changes: Any) -> dict[str, Any]:
        """The query string of this view with ``changes`` (defaults left out), for links that keep the view."""
        view = replace(self, **changes)
        return {
            "kind": view.kind if view.kind != "run" else None,
            "experiment": view.experiment or None,
            "name": view.name or None,
            "tag": [f"{key}={value}" for key, value in view.tags],
            "state": view.state or None,
            "dataset": view.dataset or None,
            "algorithm": view.algorithm or None,
            "metric": [column.key for column in view.metrics],
            "sort": view.sort.text if view.sort != DEFAULT_SORT else None,
            "page": view.page if view.page != 1 else None,
            "size": view.size if view.size != DEFAULT_SIZE else None,
        }

    def without_column(self, column: MetricColumn) -> dict[str, Any]:
        """The query string of this view without the metric column ``column`` (nor a sort by it)."""
        sort = DEFAULT_SORT if self.sort.column == column else self.sort
        kept = tuple(other for other in self.metrics if other != column)
        return self.state_query(metrics=kept, sort=sort, page=1)

    def sorted_by(self, by: str, column: MetricColumn | None = None) -> dict[str, Any]:
        """The query string of a column header: sort by it (reversing the order when it is sorted by it already)."""
        if self.sort.by == by and self.sort.column == column:
            descending = not self.sort.descending
        elif column is not None:
            descending = greater_is_better(column.metric)  # the best first
        else:
            descending = by == "created"  # the newest first; names from A
        return self.state_query(sort=Sort(by, descending, column), page=1)

    def filters(self) -> dict[str, Any]:
        """The filters of :meth:`Tracker.find <mltrack_core.tracker.Tracker.find>` the store answers itself.

        Every filter but ``algorithm``, with the order when it is by creation time or name.
        """
        found: dict[str, Any] = {
            "order": self.sort.text if self.sort.by in ("created", "name") else DEFAULT_SORT.text,
            "tags": dict(self.tags),
        }
        for key, value in (("name", self.name), ("experiment", self.experiment), ("state", self.state)):
            if value:
                found[key] = value
        if self.dataset:
            found[DATASET_LINK[self.kind]] = self.dataset
        return found


@dataclass
class Row:
    """One row of the table: the entity and what its cells show besides its own fields."""

    entity: Any
    duration: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Table:
    """What the template shows below the filters."""

    rows: list[Row]
    total: int
    pages: int
    related: dict[str, Any]
    metric_choices: list[str]
    notes: list[str]
    problem: str | None = None


@router.get("/", response_class=HTMLResponse, name="runs")
def runs(request: Request, principal: Reader) -> Response:
    """The table of one kind of entity; with ``HX-Request`` only its view (filters and table), for htmx swaps."""
    view = TableView.from_query(request.query_params)
    canonical = view.state_query()
    swapping = request.headers.get("HX-Request") == "true"
    if not swapping and list(request.query_params.multi_items()) != _pairs(canonical):
        # a submitted form sends every field, empty ones too: answer with the view's short, shareable URL
        return RedirectResponse(page_url(request, "runs", query=canonical), status_code=303)
    table = build_table(request.app.state.tracker, view)
    answer = render(
        request,
        "fragments/runs_view.html" if swapping else "runs.html",
        view=view,
        table=table,
        kinds=KINDS,
        titles=TITLES,
        states=STATES,
        aggregates=AGGREGATES,
        metric_kinds=METRIC_KINDS,
        dataset_kinds=tuple(DATASET_LINK),
        metric_sort_limit=METRIC_SORT_LIMIT,
        algorithm_scan_limit=ALGORITHM_SCAN_LIMIT,
    )
    answer.headers["Vary"] = "HX-Request"  # the same URL answers the whole page or, for htmx, its view alone
    if swapping:
        answer.headers["HX-Push-Url"] = page_url(request, "runs", query=canonical)
    return answer


def _pairs(query: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (name, value) pairs a query string of ``query`` has, in order (lists repeated, None left out)."""
    pairs = []
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((name, str(item)))
    return pairs


def build_table(tracker: Any, view: TableView) -> Table:
    """The rows of ``view``'s page, read from the store without reading the entities of other pages.

    Args:
        tracker: The dashboard's tracker.
        view: The filters, order and page.

    Returns:
        The page's rows, the number of matching entities, the linked entities' names, notes and problems.
    """
    filters = view.filters()
    notes: list[str] = []
    if view.metrics and view.kind not in METRIC_KINDS:
        notes.append("Metric columns are shown for training runs and models only.")
    metric_sort = view.sort.column if view.kind in METRIC_KINDS else None
    if view.sort.column is not None and metric_sort is None:
        notes.append("Sorting by a metric works for training runs and models only: newest first instead.")
    matching: list[str] | None = None  # every matching id, when the table had to read them all
    total = tracker.count(view.kind, **filters)
    if view.algorithm:
        if total > ALGORITHM_SCAN_LIMIT:
            problem = (
                f"The algorithm filter reads the models matching the other filters, and {total:,} do: at most "
                f"{ALGORITHM_SCAN_LIMIT:,} can be read for one page. Narrow the view with an experiment, dataset, "
                "name or tag filter first."
            )
            return Table([], 0, 0, {}, [], notes, problem)
        matching = _with_algorithm(tracker, tracker.find_ids(view.kind, **filters), view.algorithm)
        total = len(matching)
    if metric_sort is not None:
        if total > METRIC_SORT_LIMIT:
            notes.append(
                f"Sorting by {metric_sort.key} needs a narrower filter: it summarises every matching entity, at "
                f"most {METRIC_SORT_LIMIT:,}, and {total:,} match. Shown newest first instead."
            )
        else:
            if matching is None:
                matching = tracker.find_ids(view.kind, **filters)
            values = _metric_values(tracker, view.kind, matching, [metric_sort])
            matching = _sorted_by_metric(matching, values, metric_sort.key, view.sort.descending)
    pages = max(1, -(-total // view.size))
    start = (view.page - 1) * view.size
    if matching is not None:
        page_ids = matching[start : start + view.size]
    else:
        page_ids = tracker.find_ids(view.kind, **filters, limit=view.size, offset=start) if start < total else []
    found = tracker.get_many(page_ids, with_scores=False)
    entities = [found[id_] for id_ in page_ids if id_ in found]
    related = tracker.get_many(sorted(_related_ids(entities)), with_scores=False) if entities else {}
    rows = [Row(entity, duration=_duration(entity)) for entity in entities]
    metric_choices: list[str] = []
    if view.kind in METRIC_KINDS and entities:
        summaries = _metric_summaries(tracker, view.kind, [entity.id for entity in entities], None)
        metric_choices = sorted({metric for per_metric in summaries.values() for metric in per_metric})
        for row in rows:
            of_row = summaries.get(row.entity.id, {})
            row.metrics = {column.key: of_row.get(column.metric, {}).get(column.aggregate) for column in view.metrics}
    return Table(rows, total, pages, related, metric_choices, notes)


def _whole_number(text: str | None, name: str, default: int, lowest: int, highest: int) -> int:
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        raise SchemaError(f"{name} {text!r:.40}: expected a whole number") from None
    return min(max(value, lowest), highest)


def _with_algorithm(tracker: Any, ids: Sequence[str], algorithm: str) -> list[str]:
    """Those of the models ``ids`` whose learning algorithm contains ``algorithm`` (any case), in order."""
    wanted = algorithm.lower()
    # Text JSON writes as it is can be looked for in the document first: most documents are then never parsed.
    plain = wanted.isascii() and wanted.isprintable() and '"' not in wanted and "\\" not in wanted
    kept = set()
    for start in range(0, len(ids), _READ_CHUNK):
        for id_, stored in tracker.store.get(ids[start : start + _READ_CHUNK]).items():
            if plain and wanted not in stored.document.lower():
                continue
            learning_algorithm = json.loads(stored.document).get("learning_algorithm") or ""
            if wanted in learning_algorithm.lower():
                kept.add(id_)
    return [id_ for id_ in ids if id_ in kept]


def _metric_values(
    tracker: Any, kind: str, ids: Sequence[str], columns: Sequence[MetricColumn]
) -> dict[str, dict[str, Any]]:
    """``{entity id: {column key: value}}`` of the columns (a value is None where the entity has none)."""
    metrics = sorted({column.metric for column in columns})
    summaries = _metric_summaries(tracker, kind, ids, metrics)
    return {
        id_: {column.key: summaries.get(id_, {}).get(column.metric, {}).get(column.aggregate) for column in columns}
        for id_ in ids
    }


def _sorted_by_metric(ids: list[str], values: Mapping[str, Mapping[str, Any]], key: str, descending: bool) -> list[str]:
    """``ids`` by their value of the column ``key``; those without a number last, in their order."""
    numbers = [(id_, values[id_][key]) for id_ in ids if _is_number(values[id_][key])]
    without = [id_ for id_ in ids if not _is_number(values[id_][key])]
    numbers.sort(key=lambda item: item[1], reverse=descending)  # stable: ties keep the newest-first order
    return [id_ for id_, _ in numbers] + without


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # NaN != NaN


def _metric_summaries(
    tracker: Any, kind: str, ids: Sequence[str], metrics: Sequence[str] | None
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{entity id: {metric: {aggregate: value}}}`` of runs (their histories) or models (their evaluations)."""
    if kind != "run":
        return _model_summaries(tracker, ids, metrics)
    found = {}
    for start in range(0, len(ids), _SUMMARIES_PER_CALL):
        chunk = list(ids[start : start + _SUMMARIES_PER_CALL])
        found.update(tracker.metric_summaries(chunk, None if metrics is None else list(metrics)))
    return {
        run_id: {
            metric: {aggregate: getattr(summary, field) for aggregate, field in _SUMMARY_FIELDS.items()}
            for metric, summary in of_run.items()
        }
        for run_id, of_run in found.items()
    }


def _model_summaries(
    tracker: Any, model_ids: Sequence[str], metrics: Sequence[str] | None
) -> dict[str, dict[str, dict[str, Any]]]:
    """The scalar scores of the evaluations computed by each model, summarised per metric.

    ``last`` is the newest evaluation's score; ``best`` the highest or lowest by the score's stated direction,
    else the metric's (:func:`~mltrack_core.lineage.greater_is_better`).
    """
    wanted = None if metrics is None else set(metrics)
    evaluation_ids: dict[str, list[str]] = {}
    for start in range(0, len(model_ids), _READ_CHUNK):
        for link in tracker.store.links(list(model_ids[start : start + _READ_CHUNK]), "in"):
            if link.relation == "computed_by":
                evaluation_ids.setdefault(link.target, []).append(link.source)
    scores: dict[str, dict[str, list[tuple[int, str, float, bool]]]] = {}
    all_ids = [id_ for ids in evaluation_ids.values() for id_ in ids]
    for start in range(0, len(all_ids), _READ_CHUNK):
        for stored in tracker.store.get(all_ids[start : start + _READ_CHUNK]).values():
            if stored.kind != "evaluation":
                continue
            document = json.loads(stored.document)
            for score in _scalar_scores(document, wanted):
                metric, value, higher = score
                per_model = scores.setdefault(document["computed_by"], {})
                per_model.setdefault(metric, []).append((document["creation_time"], document["id"], value, higher))
    return {model_id: _summarised(per_metric) for model_id, per_metric in scores.items()}


def _scalar_scores(document: Mapping[str, Any], wanted: set[str] | None) -> Iterable[tuple[str, float, bool]]:
    for score in document.get("scores", ()):
        metric, value = score.get("metric"), score.get("value")
        if wanted is not None and metric not in wanted:
            continue
        if not _is_number(value) or value in (float("inf"), float("-inf")):
            continue
        stated = score.get("greater_is_better")
        yield metric, float(value), greater_is_better(metric) if stated is None else bool(stated)


def _summarised(per_metric: Mapping[str, list[tuple[int, str, float, bool]]]) -> dict[str, dict[str, Any]]:
    summaries = {}
    for metric, entries in per_metric.items():
        values = [value for _, _, value, _ in entries]
        newest = max(entries, key=lambda entry: (entry[0], entry[1]))
        higher = newest[3]
        summaries[metric] = {
            "last": newest[2],
            "best": max(values) if higher else min(values),
            "min": min(values),
            "max": max(values),
        }
    return summaries


def _related_ids(entities: Iterable[Any]) -> set[str]:
    """The ids the rows link to by name: models, datasets."""
    ids = set()
    for entity in entities:
        for name in ("for_model", "trained_on", "computed_by", "on_dataset"):
            value = getattr(entity, name, None)
            if value:
                ids.add(value)
    return ids


def _duration(entity: Any) -> str:
    start, end = getattr(entity, "start_time", None), getattr(entity, "end_time", None)
    if start is None or end is None or isinstance(entity, Evaluation):
        return ""
    return duration_text(end - start)


def duration_text(milliseconds: int) -> str:
    """A duration as ``1h 02m``, ``3m 05s`` or ``4.2s``."""
    seconds = max(milliseconds, 0) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minute:02d}m"
    return f"{minute}m {second:02d}s"
