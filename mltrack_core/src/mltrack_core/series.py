"""Metric histories for charts and tables: summaries per run and metric, downsampled series.

A training run may log millions of points; a chart needs about a thousand. A
:class:`Series` is one metric of one run over an x axis (``"step"``,
``"epoch"`` or ``"time"``), optionally bounded to a range (the zoom), with at
most ``max_points`` points. When the range holds more points than that, it is
cut into ``max_points // 2`` buckets of equal width in x and each bucket keeps
its smallest and its largest finite value, in x order (a spike stays visible,
whatever its width). NaN and infinite values never enter the minimum and the
maximum; they are gaps: ``None`` in ``y``, one per bucket that holds any (at the
x of its first non-finite value). When the gaps would push a series over
``max_points``, neighbouring buckets are merged until it fits.

The built-in stores compute buckets and summaries in the database (see the
optional methods of :class:`~mltrack_core.store.Store`); the functions here
compute the same answers from plain points, for stores that lack those
methods and for the memory store. The tracker keeps the series and
summaries of ended runs, which cannot change, in small caches.
"""

from __future__ import annotations

import collections
import itertools
import math
import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

from mltrack_core.errors import SchemaError
from mltrack_core.schema import MAX_COUNT
from mltrack_core.store import Point

__all__ = [
    "AXES",
    "EMPTY",
    "MAX_SERIES_POINTS",
    "MAX_SUMMARY_RUNS",
    "MIN_SERIES_POINTS",
    "Axis",
    "Bucket",
    "LruCache",
    "MetricSummary",
    "Series",
    "SeriesData",
    "bucket_bounds",
    "bucket_count",
    "check_series_arguments",
    "downsample",
    "finite_or_none",
    "is_finite",
    "series_from_buckets",
    "series_from_rows",
    "series_of_points",
    "summaries_of_points",
    "summary_of",
]

Axis = Literal["step", "epoch", "time"]
AXES: tuple[str, ...] = ("step", "epoch", "time")
"""The x axes of a series: the step (a point without one: its 0-based position among the metric's points),
the epoch (points without one are left out) and the wall-clock time (ms since 1970)."""
MIN_SERIES_POINTS = 2
MAX_SERIES_POINTS = 10_000
"""The bounds of ``max_points``."""
MAX_SUMMARY_RUNS = 1_000
"""Most runs one call of ``metric_summaries`` may name."""


def is_finite(value: object) -> bool:
    """Whether ``value`` is a finite number (NaN and the infinities are not)."""
    return isinstance(value, (int, float)) and math.isfinite(value)


def finite_or_none(value: object) -> float | None:
    """``value`` as a float when it is a finite number, else None (a gap)."""
    return float(value) if is_finite(value) else None  # type: ignore[arg-type]


# ---------------------------------------------------------------- summaries


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """What a table shows of one metric of one run.

    Attributes:
        metric: The metric's name.
        count: How many points it has (NaN and infinities included).
        first: The value logged first (may be NaN or infinite).
        last: The value logged last (may be NaN or infinite).
        minimum: The smallest finite value; None when there is none.
        maximum: The largest finite value; None when there is none.
        best: ``maximum`` when ``greater_is_better``, else ``minimum``.
        greater_is_better: Judged by the metric's name (:func:`mltrack_core.lineage.greater_is_better`).
        last_step: The step of the last point.
        last_epoch: The epoch of the last point.
        last_timestamp: The time of the last point (ms since 1970).
    """

    metric: str
    count: int
    first: float
    last: float
    minimum: float | None
    maximum: float | None
    best: float | None
    greater_is_better: bool
    last_step: int | None
    last_epoch: int | None
    last_timestamp: int

    def to_json(self) -> dict[str, Any]:
        """The summary as a dict of JSON values (non-finite floats stay floats: write them with ``schema.dumps``)."""
        return asdict(self)


def summary_of(
    metric: str,
    count: int,
    first: float,
    last: float,
    minimum: float | None,
    maximum: float | None,
    last_step: int | None,
    last_epoch: int | None,
    last_timestamp: int,
) -> MetricSummary:
    """A :class:`MetricSummary`, its ``best`` and direction judged by the metric's name.

    Args:
        metric: The metric's name.
        count: How many points it has.
        first: The value logged first.
        last: The value logged last.
        minimum: The smallest finite value, or None.
        maximum: The largest finite value, or None.
        last_step: The step of the last point.
        last_epoch: The epoch of the last point.
        last_timestamp: The time of the last point.

    Returns:
        The summary.
    """
    from mltrack_core.lineage import greater_is_better

    higher = greater_is_better(metric)
    return MetricSummary(
        metric=metric,
        count=count,
        first=float(first),
        last=float(last),
        minimum=None if minimum is None else float(minimum),
        maximum=None if maximum is None else float(maximum),
        best=(maximum if higher else minimum) if minimum is not None else None,
        greater_is_better=higher,
        last_step=last_step,
        last_epoch=last_epoch,
        last_timestamp=last_timestamp,
    )


def summaries_of_points(points: Iterable[Point], metrics: Sequence[str] | None = None) -> dict[str, MetricSummary]:
    """The summary of every metric among ``points`` (in append order), or of those of ``metrics`` only.

    Args:
        points: Points of one run, in the order they were appended.
        metrics: The metrics wanted; None for all.

    Returns:
        Summary by metric, in the order the metrics first appear.
    """
    wanted = None if metrics is None else set(metrics)
    state: dict[str, list[Any]] = {}  # metric -> [count, first, last point, minimum, maximum]
    for point in points:
        metric, value = point[1], point[2]
        if wanted is not None and metric not in wanted:
            continue
        seen = state.get(metric)
        if seen is None:
            seen = state[metric] = [0, value, point, None, None]
        seen[0] += 1
        seen[2] = point
        if math.isfinite(value):
            if seen[3] is None or value < seen[3]:
                seen[3] = value
            if seen[4] is None or value > seen[4]:
                seen[4] = value
    return {
        metric: summary_of(metric, count, first, last[2], low, high, last[4], last[3], last[5])
        for metric, (count, first, last, low, high) in state.items()
    }


# ---------------------------------------------------------------- series


class SeriesData(NamedTuple):
    """What a store answers for a series: the points in range, the x and y to draw, whether they were reduced."""

    total: int
    x: list[int]
    y: list[float | None]
    downsampled: bool


EMPTY = SeriesData(0, [], [], False)
"""The series of an unknown run or metric, or of a range without points."""


@dataclass(frozen=True, slots=True)
class Series:
    """One metric of one run along an axis, at most ``max_points`` points (see the module's description).

    Attributes:
        run: The training run's id.
        metric: The metric's name.
        axis: ``"step"``, ``"epoch"`` or ``"time"``.
        start: The smallest x asked for (inclusive); None: from the first point.
        end: The largest x asked for (inclusive); None: to the last point.
        total: How many points of the metric lie in the range.
        x: The x of each point, ascending.
        y: The value of each point; None for a gap (NaN or infinite).
        downsampled: Whether the range held more points than were returned.
        ended: Whether the run had ended when the series was read (a training run's series grows).

    The series of ended runs are cached and shared: treat ``x`` and ``y`` as read-only.
    """

    run: str
    metric: str
    axis: str
    start: int | None
    end: int | None
    total: int
    x: list[int]
    y: list[float | None]
    downsampled: bool
    ended: bool

    def to_json(self) -> dict[str, Any]:
        """The series as a dict of JSON values (gaps are None, so standard JSON writes null)."""
        return {
            "run": self.run,
            "metric": self.metric,
            "axis": self.axis,
            "start": self.start,
            "end": self.end,
            "total": self.total,
            "x": self.x,
            "y": self.y,
            "downsampled": self.downsampled,
            "ended": self.ended,
        }


def check_series_arguments(axis: object, start: object, end: object, max_points: object) -> None:
    """Refuse arguments no series can have.

    Args:
        axis: Must be one of :data:`AXES`.
        start: None or an int from 0 to 2**63 - 1.
        end: None or such an int, not below ``start``.
        max_points: An int from :data:`MIN_SERIES_POINTS` to :data:`MAX_SERIES_POINTS`.

    Raises:
        SchemaError: naming the argument, its value and what is allowed.
    """
    if axis not in AXES:
        raise SchemaError(f"axis: expected one of {', '.join(AXES)}, got {axis!r:.60}")
    for name, bound in (("start", start), ("end", end)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int) or not 0 <= bound <= MAX_COUNT):
            raise SchemaError(f"{name}: expected None or an int from 0 to {MAX_COUNT}, got {bound!r:.60}")
    if start is not None and end is not None and start > end:  # type: ignore[operator]
        raise SchemaError(f"start ({start}) is after end ({end}): the range is empty")
    if (
        isinstance(max_points, bool)
        or not isinstance(max_points, int)
        or not MIN_SERIES_POINTS <= max_points <= MAX_SERIES_POINTS
    ):
        raise SchemaError(
            f"max_points: expected an int from {MIN_SERIES_POINTS} to {MAX_SERIES_POINTS}, got {max_points!r:.60}"
        )


@dataclass(slots=True)
class Bucket:
    """What downsampling keeps of the points of one bucket.

    Attributes:
        count: How many points fell in it.
        low: (x, value) of the smallest finite value (the first in x order among equals), or None.
        high: (x, value) of the largest finite value (the first in x order among equals), or None.
        gap: The x of the first non-finite value, or None.
    """

    count: int = 0
    low: tuple[int, float] | None = None
    high: tuple[int, float] | None = None
    gap: int | None = None

    def add(self, x: int, value: float) -> None:
        """Count one point (points arrive in x order).

        Args:
            x: Its x.
            value: Its value.
        """
        self.count += 1
        if not math.isfinite(value):
            if self.gap is None:
                self.gap = x
            return
        if self.low is None or value < self.low[1]:
            self.low = (x, value)
        if self.high is None or value > self.high[1]:
            self.high = (x, value)

    def merged(self, later: Bucket) -> Bucket:
        """This bucket and the next one as one bucket.

        Args:
            later: The bucket after this one.

        Returns:
            The merged bucket.
        """
        low, high = self.low, self.high
        if later.low is not None and (low is None or later.low[1] < low[1]):
            low = later.low
        if later.high is not None and (high is None or later.high[1] > high[1]):
            high = later.high
        return Bucket(self.count + later.count, low, high, self.gap if self.gap is not None else later.gap)

    def points(self) -> list[tuple[int, float | None]]:
        """The points the bucket keeps, in x order (its minimum, its maximum, its gap)."""
        kept: list[tuple[int, float | None]] = []
        if self.low is not None:
            kept.append(self.low)
            if self.high is not None and self.high != self.low:
                kept.append(self.high)
        if self.gap is not None:
            kept.append((self.gap, None))
        kept.sort(key=lambda point: point[0])
        return kept


def bucket_count(max_points: int) -> int:
    """How many buckets a series of at most ``max_points`` points is cut into (each keeps up to two values)."""
    return max(1, max_points // 2)


def bucket_bounds(low: int, high: int, buckets: int) -> list[tuple[int, int]]:
    """The x range [first, past) of each of ``buckets`` buckets of equal width covering ``low`` to ``high``.

    Bucket ``i`` holds the x with ``(x - low) * buckets // (high - low + 1) == i`` (exact integers); with
    fewer possible x than buckets some buckets are empty.

    Args:
        low: The smallest x.
        high: The largest x.
        buckets: How many buckets.

    Returns:
        ``buckets`` pairs (first x, first x of the next bucket).
    """
    span = high - low + 1
    edges = [low + -(-index * span // buckets) for index in range(buckets + 1)]  # ceil(index * span / buckets)
    return list(itertools.pairwise(edges))


def series_from_buckets(buckets: Sequence[Bucket], max_points: int) -> tuple[list[int], list[float | None]]:
    """The points of the buckets (in x order), with neighbours merged until at most ``max_points`` remain.

    Args:
        buckets: Buckets in x order (empty ones allowed).
        max_points: The most points to return.

    Returns:
        The x and the y (None for gaps) of the points kept.
    """
    kept = [bucket for bucket in buckets if bucket.count]
    while len(kept) > 1 and sum(len(bucket.points()) for bucket in kept) > max_points:
        kept = [
            kept[index].merged(kept[index + 1]) if index + 1 < len(kept) else kept[index]
            for index in range(0, len(kept), 2)
        ]
    points = [point for bucket in kept for point in bucket.points()][:max_points]
    return [x for x, _ in points], [y for _, y in points]


def downsample(points: Sequence[tuple[int, float]], max_points: int) -> SeriesData:
    """``points`` (x, value) in x order, reduced to at most ``max_points`` when they are more.

    Args:
        points: The points in range, sorted by x (equal x in append order).
        max_points: The most points to return.

    Returns:
        The series data; values that are not finite become None.
    """
    total = len(points)
    if total <= max_points:
        return SeriesData(total, [x for x, _ in points], [v if math.isfinite(v) else None for _, v in points], False)
    buckets_wanted = bucket_count(max_points)
    low, high = points[0][0], points[-1][0]
    span = high - low + 1
    buckets = [Bucket() for _ in range(buckets_wanted)]
    for x, value in points:
        buckets[(x - low) * buckets_wanted // span].add(x, value)
    x, y = series_from_buckets(buckets, max_points)
    return SeriesData(total, x, y, True)


def series_from_rows(rows: Iterable[Sequence[Any]], max_points: int) -> SeriesData:
    """The series data of the rows a SQL store's grouping statement returns.

    Args:
        rows: ``(3, order written, x, value, total)`` for each point in range when they are at most
            ``max_points``; else ``(0, bucket, x, smallest finite value or None, points in the bucket)``,
            ``(1, bucket, x, largest finite value or None, 0)`` and, for buckets with NaN or infinities,
            ``(2, bucket, x of the first of them, None, 0)``.
        max_points: The most points to return.

    Returns:
        The series data.
    """
    raw: list[Sequence[Any]] = []
    buckets: dict[int, Bucket] = {}
    for kind, key, x, value, count in rows:
        if kind == 3:
            raw.append((key, x, value, count))
            continue
        bucket = buckets.setdefault(key, Bucket())
        if kind == 0:
            bucket.count = count
            bucket.low = (x, float(value)) if value is not None else None
        elif kind == 1:
            bucket.high = (x, float(value)) if value is not None else None
        else:
            bucket.gap = x
    if raw:
        raw.sort(key=lambda row: (row[1], row[0]))
        return SeriesData(raw[0][3], [row[1] for row in raw], [finite_or_none(row[2]) for row in raw], False)
    if not buckets:
        return EMPTY
    x_kept, y_kept = series_from_buckets([buckets[key] for key in sorted(buckets)], max_points)
    return SeriesData(sum(bucket.count for bucket in buckets.values()), x_kept, y_kept, True)


def series_of_points(
    points: Iterable[Point], metric: str, axis: str, start: int | None, end: int | None, max_points: int
) -> SeriesData:
    """The series of ``metric`` computed from every point of a run, for stores without a series method.

    Args:
        points: The run's points in append order.
        metric: The metric.
        axis: ``"step"``, ``"epoch"`` or ``"time"``.
        start: The smallest x wanted, or None.
        end: The largest x wanted, or None.
        max_points: The most points to return.

    Returns:
        The series data.
    """
    position = 0
    selected: list[tuple[int, float]] = []
    for point in points:
        if point[1] != metric:
            continue
        if axis == "step":
            x = point[4] if point[4] is not None else position
        elif axis == "epoch":
            x = point[3]
        else:
            x = point[5]
        position += 1
        if x is None or (start is not None and x < start) or (end is not None and x > end):
            continue
        selected.append((x, point[2]))
    selected.sort(key=lambda item: item[0])  # stable: equal x stay in append order
    return downsample(selected, max_points)


# ---------------------------------------------------------------- caching what cannot change


class LruCache:
    """A thread-safe least-recently-used cache bounded by a total size (each value states its own size)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: collections.OrderedDict[Hashable, tuple[Any, int]] = collections.OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        """The value kept under ``key``, or None."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, size: int = 1) -> None:
        """Keep ``value`` under ``key``, forgetting the least recently used values beyond the capacity.

        Args:
            key: The key.
            value: The value (not None).
            size: What the value counts against the capacity (a value larger than it is not kept).
        """
        size = max(1, size)
        if size > self.capacity:
            return
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self._size -= previous[1]
            self._items[key] = (value, size)
            self._size += size
            while self._size > self.capacity:
                _, (_, dropped) = self._items.popitem(last=False)
                self._size -= dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
