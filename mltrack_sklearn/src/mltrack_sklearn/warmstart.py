"""Warm-start a hyperparameter search from the history: the configurations that did well on similar data first.

``warm_start(param_grid, X, y, estimator=...)`` describes ``X`` and ``y`` (with
their meta-features, as a tracked fit would, without storing anything), asks
the tracker for recommendations (:meth:`mltrack_core.Tracker.recommend`) and
returns the grid's candidates reordered: those matching a recommendation
first, in the recommendation's order, then the others in the grid's order.
The result is a ``param_grid`` for :class:`~sklearn.model_selection.GridSearchCV`
(a list of one-candidate grids), so the search tries first what history says
should do well; with ``limit=n``, only the first ``n`` candidates are kept (a
search on a budget, as auto-sklearn's meta-learning warm start does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mltrack_core import SchemaError, get_tracker
from mltrack_sklearn.data import describe_data
from mltrack_sklearn.extract import learning_algorithm
from mltrack_sklearn.parameters import is_estimator, plain_value

if TYPE_CHECKING:
    from mltrack_core import Tracker
    from mltrack_core.recommend import Recommendation, Recommendations

__all__ = ["WarmStartGrid", "warm_start"]

_MAX_RECOMMENDATIONS = 1_000


class WarmStartGrid(list):
    """A ``param_grid`` (one single-candidate grid per candidate), recommended candidates first.

    Attributes:
        recommendations: the tracker's answer, with its evidence and confidence.
        matched: how many candidates (the first ones) match a recommendation.
    """

    recommendations: Recommendations
    matched: int


def warm_start(
    param_grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]],
    X: Any,
    y: Any,
    *,
    estimator: Any = None,
    metric: str = "accuracy",
    procedure: str | None = None,
    neighbours: int | None = None,
    limit: int | None = None,
    tracker: Tracker | None = None,
) -> WarmStartGrid:
    """The candidates of ``param_grid`` in the order history recommends for data ``X``, ``y``.

    Args:
        param_grid: a grid as :class:`~sklearn.model_selection.GridSearchCV` takes it (a dict of lists, or a list
            of them).
        X: the training data (as ``fit`` takes it).
        y: its labels.
        estimator: the estimator the search tunes; a candidate matches a recommendation only when the estimator
            with the candidate's parameters has the recommended learning algorithm. Without it, parameters alone
            decide.
        metric: the metric to do well on (the search's ``scoring``).
        procedure: only evaluations with this procedure count (default: the one similar datasets' use most).
        neighbours: how many similar datasets to learn from (default 10).
        limit: keep only the first this many candidates.
        tracker: whose history to learn from (default :func:`mltrack_core.get_tracker`).

    Returns:
        The reordered candidates, with the recommendations as ``.recommendations``.

    Raises:
        SchemaError: ``param_grid`` is not a grid of lists, or ``limit`` is not a positive int.
    """
    from sklearn.model_selection import ParameterGrid

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise SchemaError(f"warm_start: limit must be a positive int or None, not {limit!r:.60}")
    try:
        candidates = list(ParameterGrid(param_grid))
    except (TypeError, ValueError) as exc:
        raise SchemaError(
            f"warm_start: param_grid must be a dict of lists of values, or a list of such dicts ({exc}); "
            "distributions cannot be reordered: list the values to try"
        ) from exc
    tracker = tracker or get_tracker()
    dataset = describe_data(X, y).dataset()
    wanted = min(_MAX_RECOMMENDATIONS, max(5, 4 * len(candidates)))
    found = tracker.recommend(dataset, metric, wanted, procedure=procedure, neighbours=neighbours)
    ranks = [_first_match(candidate, estimator, found.items) for candidate in candidates]
    order = sorted(range(len(candidates)), key=lambda index: (ranks[index] is None, ranks[index] or 0, index))
    if limit is not None:
        order = order[:limit]
    grid = WarmStartGrid({name: [value] for name, value in candidates[index].items()} for index in order)
    grid.recommendations = found
    grid.matched = sum(ranks[index] is not None for index in order)
    return grid


def _first_match(candidate: Mapping[str, Any], estimator: Any, items: Sequence[Recommendation]) -> int | None:
    """The rank of the first recommendation ``candidate`` matches, or None."""
    algorithm = _algorithm(estimator, candidate) if estimator is not None else None
    for item in items:
        if algorithm is not None and item.learning_algorithm != algorithm:
            continue
        same, compared = _same_values(candidate, item.parameters())
        if same and (compared or algorithm is not None):
            return item.rank
    return None


def _algorithm(estimator: Any, candidate: Mapping[str, Any]) -> str:
    from sklearn.base import clone

    return learning_algorithm(clone(estimator).set_params(**candidate))


def _same_values(candidate: Mapping[str, Any], recommended: Mapping[str, Any]) -> tuple[bool, int]:
    """Whether every plain parameter of ``candidate`` has the recommended value, and how many were compared.

    A parameter is matched by its name, or by the last part of it (``clf__C`` and ``C``) when that is unique.
    """
    by_last_part: dict[str, list[Any]] = {}
    for name, value in recommended.items():
        by_last_part.setdefault(name.rpartition("__")[2], []).append(value)
    compared = 0
    for name, value in candidate.items():
        if is_estimator(value):
            continue  # a step or estimator choice: the learning algorithm decides
        if name in recommended:
            stored = recommended[name]
        elif len(values := by_last_part.get(name.rpartition("__")[2], [])) == 1:
            stored = values[0]
        else:
            return False, compared
        if not _equal(plain_value(value), stored):
            return False, compared
        compared += 1
    return True, compared


def _equal(value: Any, stored: Any) -> bool:
    """Equal as stored: JSON turned tuples into lists and keeps 1 and 1.0 apart only by type."""
    if isinstance(value, (list, tuple)) and isinstance(stored, (list, tuple)):
        return len(value) == len(stored) and all(_equal(a, b) for a, b in zip(value, stored, strict=True))
    if isinstance(value, bool) or isinstance(stored, bool):
        return value is stored
    return value == stored
