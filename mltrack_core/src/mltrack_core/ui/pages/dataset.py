"""The dataset page: typed schema, statistics, histograms, fingerprint, and where the data came from and went.

Histograms are small bar charts drawn on the server as inline SVG (no script needed); every label and
name in them is stored text, escaped by the template like everything else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mltrack_core.errors import NotFoundError
from mltrack_core.schema import Dataset, DataStatistic, Evaluation, Histogram
from mltrack_core.server.app import Reader
from mltrack_core.ui.templating import entity_url, render

router = APIRouter()

LISTED = 100
"""At most this many entities per list of related entities (the page says how many more there are)."""

COLUMNS_SHOWN = 200
"""Columns shown in the schema, statistics and histograms of a wide dataset unless the query says ``columns=all``."""

SPARK_WIDTH = 240
SPARK_HEIGHT = 64
SPARK_GAP = 1  # pixels between two bars, when the bars are wide enough to afford it


@dataclass(frozen=True)
class Bar:
    """One bar of a histogram's chart: its box in the SVG's pixels and its tooltip."""

    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Spark:
    """A histogram drawn as bars: the SVG's size and its bars (one per bucket)."""

    column: str
    name: str | None
    width: int
    height: int
    bars: tuple[Bar, ...]
    total: float


@dataclass(frozen=True)
class StatisticsTable:
    """A dataset's statistics: those of one column pivoted (a row per column), and the others as they are."""

    names: list[str]
    """The statistics of single columns, in the order they were first recorded (the table's columns)."""
    rows: list[tuple[str, dict[str, Any]]]
    """Per column (in schema order, then any other): its statistics by name."""
    others: list[DataStatistic]
    """Statistics of the whole dataset or of several columns."""


@dataclass(frozen=True)
class Related:
    """A list of related entities (at most :data:`LISTED`) and how many there are in all."""

    entities: list[Any]
    total: int

    @property
    def more(self) -> int:
        """How many were left out of the list."""
        return self.total - len(self.entities)


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse, name="dataset")
def dataset_page(
    dataset_id: str, request: Request, principal: Reader, columns: Literal["all"] | None = None
) -> Response:
    """A dataset: its facts, schema, statistics and histograms, its lineage neighbours, models and evaluations.

    A wide dataset shows its first :data:`COLUMNS_SHOWN` columns (and their statistics and histograms) unless the
    query says ``columns=all``.
    """
    tracker = request.app.state.tracker
    dataset = tracker.get_many([dataset_id], with_scores=False).get(dataset_id)
    if dataset is None:
        raise NotFoundError(f"no dataset with id {dataset_id[:200]!r} in this store")
    if not isinstance(dataset, Dataset):  # an id of another kind: show it on its own page
        return RedirectResponse(entity_url(request, dataset.KIND, dataset.id), status_code=307)

    limit = None if columns == "all" else COLUMNS_SHOWN
    statistics = statistics_table(dataset)
    parents = tracker.get_many(list(dataset.derived_from), with_scores=False)
    evaluations = _related(tracker, "evaluation", on_dataset=dataset.id)
    return render(
        request,
        "dataset.html",
        dataset=dataset,
        location_link=_web_link(dataset.location),
        parents=[(parent_id, parents.get(parent_id)) for parent_id in dataset.derived_from],
        children=_related(tracker, "dataset", derived_from=dataset.id),
        models=_related(tracker, "model", trained_on=dataset.id),
        runs=_related(tracker, "run", trained_on=dataset.id),
        evaluations=evaluations,
        evaluated_by=tracker.get_many(list({e.computed_by for e in evaluations.entities}), with_scores=False),
        leaderboard_metrics=_scalar_metrics(evaluations.entities),
        schema=dataset.schema[:limit],
        statistics=statistics,
        statistics_rows=statistics.rows[:limit],
        sparks=[histogram_chart(histogram) for histogram in dataset.histograms[:limit]],
        limit=limit,
        cut=limit is not None and max(len(dataset.schema), len(statistics.rows), len(dataset.histograms)) > limit,
    )


def _related(tracker: Any, kind: str, **link: str) -> Related:
    entities = tracker.find(kind, limit=LISTED, **link)
    total = len(entities) if len(entities) < LISTED else tracker.count(kind, **link)
    return Related(entities, total)


def _web_link(location: str | None) -> str | None:
    """The location as a link target when it is a web address; any other scheme is shown as text only."""
    if location is not None and location.lower().startswith(("http://", "https://")):
        return location
    return None


def _scalar_metrics(evaluations: list[Evaluation]) -> list[str]:
    """The metrics with a single number in at least one evaluation (those a leaderboard can rank), sorted."""
    return sorted({score.metric for evaluation in evaluations for score in evaluation.scores if score.is_scalar})


def statistics_table(dataset: Dataset) -> StatisticsTable:
    """The statistics of ``dataset`` as a table with a row per column and a column per statistic (plus the rest).

    Args:
        dataset: The stored dataset.

    Returns:
        The table, ready for the template.
    """
    names: dict[str, None] = {}
    by_column: dict[str, dict[str, Any]] = {}
    others = []
    for statistic in dataset.statistics:
        if len(statistic.columns) != 1:
            others.append(statistic)
            continue
        names.setdefault(statistic.name)
        by_column.setdefault(statistic.columns[0], {})[statistic.name] = statistic.value
    schema_order = {column.name: index for index, column in enumerate(dataset.schema)}
    columns = sorted(by_column, key=lambda name: (schema_order.get(name, len(schema_order)), name))
    return StatisticsTable(list(names), [(column, by_column[column]) for column in columns], others)


def histogram_chart(histogram: Histogram, width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT) -> Spark:
    """The bars of ``histogram`` scaled into a ``width`` × ``height`` box, one per bucket, tallest = full height.

    A bucket whose value is not a finite number (or is negative) gets an empty bar; its tooltip still shows the
    stored value. Bucket labels are a label per bucket, or bucket edges (one more than the buckets).

    Args:
        histogram: The stored histogram.
        width: The chart's width in pixels.
        height: The chart's height in pixels.

    Returns:
        The chart, ready for the template (which escapes every text in it).
    """
    values = histogram.bucket_values
    heights = [_bar_value(value) for value in values]
    tallest = max(heights, default=0.0)
    slot = width / len(values) if values else width
    gap = SPARK_GAP if slot >= 4 else 0
    bars = []
    for index, (value, size) in enumerate(zip(values, heights, strict=True)):
        bar_height = height * size / tallest if tallest > 0 else 0.0
        bars.append(
            Bar(
                x=round(index * slot, 2),
                y=round(height - bar_height, 2),
                width=round(max(slot - gap, 0.5), 2),
                height=round(bar_height, 2),
                title=f"{_bucket_label(histogram, index)}: {_shown(value)}",
            )
        )
    return Spark(
        column=histogram.column,
        name=histogram.name,
        width=width,
        height=height,
        bars=tuple(bars),
        total=sum(heights),
    )


def _bar_value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    if not math.isfinite(value) or value < 0:
        return 0.0
    return float(value)


def _bucket_label(histogram: Histogram, index: int) -> str:
    labels = histogram.bucket_labels
    if len(labels) == len(histogram.bucket_values) + 1:  # edges
        return f"{labels[index]} – {labels[index + 1]}"
    if labels:
        return labels[index]
    return f"bucket {index + 1}"


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
