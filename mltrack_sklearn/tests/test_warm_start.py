"""warm_start puts first the candidates that did well on similar datasets of a history tracked by mltrack itself."""

from __future__ import annotations

import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import mltrack_core as mt
import mltrack_sklearn
from mltrack_sklearn import warm_start

GRID = {"max_depth": [1, None]}
CV = StratifiedKFold(3, shuffle=True, random_state=0)


def _history(tracker):
    """A stump and a full tree, cross-validated on three multi-class datasets: the full tree wins on each."""
    winners = []
    for load in (load_iris, load_wine, load_digits):
        X, y = load(return_X_y=True)
        scores = {}
        for depth in GRID["max_depth"]:
            tree = DecisionTreeClassifier(max_depth=depth, random_state=0)
            results = mltrack_sklearn.cross_validate(tree, X, y, cv=CV, scoring="accuracy", tracker=tracker)
            scores[depth] = results["test_score"].mean()
        winners.append(max(scores, key=scores.get))
    return winners


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    with mt.connect(f"sqlite:///{tmp_path_factory.mktemp('history') / 'store.db'}") as tracker:
        winners = _history(tracker)
        tracker.flush()
        yield tracker, winners


def test_the_candidates_that_won_on_similar_data_come_first(history):
    tracker, winners = history
    assert winners == [None, None, None]
    X, y = load_breast_cancer(return_X_y=True)
    grid = warm_start(GRID, X, y, estimator=DecisionTreeClassifier(random_state=0), tracker=tracker)
    assert grid[0] == {"max_depth": [None]} and grid[-1] == {"max_depth": [1]}
    assert grid.matched == 2 and len(grid) == 2
    found = grid.recommendations
    assert found.task.procedure == "3-fold cross-validation" and found.task.metric == "accuracy"
    assert {neighbour.name for neighbour in found.neighbours} == {
        dataset.name for dataset in tracker.find("dataset") if dataset.statistics and not dataset.derived_from
    }
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), grid, cv=CV).fit(X, y)
    assert search.cv_results_["params"][0] == {"max_depth": None}


def test_candidates_history_does_not_know_follow_in_the_grid_order_and_limit_keeps_the_first(history):
    tracker, _ = history
    X, y = load_breast_cancer(return_X_y=True)
    grid = {"max_depth": [1, None], "criterion": ["entropy", "gini"]}
    ordered = warm_start(grid, X, y, estimator=DecisionTreeClassifier(random_state=0), tracker=tracker)
    assert ordered[:2] == [{"criterion": ["gini"], "max_depth": [None]}, {"criterion": ["gini"], "max_depth": [1]}]
    assert ordered[2:] == [
        {"criterion": ["entropy"], "max_depth": [1]},
        {"criterion": ["entropy"], "max_depth": [None]},
    ]
    assert ordered.matched == 2
    assert warm_start(grid, X, y, tracker=tracker, limit=1) == ordered[:1]


def test_a_pipeline_grid_matches_by_the_parameters_last_part_and_the_learning_algorithm(history):
    tracker, _ = history
    X, y = load_breast_cancer(return_X_y=True)
    pipeline = Pipeline([("scale", StandardScaler()), ("tree", DecisionTreeClassifier(random_state=0))])
    grid = warm_start({"tree__max_depth": [1, None]}, X, y, estimator=pipeline, tracker=tracker)
    assert grid == [{"tree__max_depth": [None]}, {"tree__max_depth": [1]}]
    from sklearn.linear_model import LogisticRegression

    other = Pipeline([("scale", StandardScaler()), ("tree", LogisticRegression())])
    unmatched = warm_start({"tree__C": [1.0, 0.1]}, X, y, estimator=other, tracker=tracker)
    assert unmatched == [{"tree__C": [1.0]}, {"tree__C": [0.1]}] and unmatched.matched == 0


def test_an_empty_history_keeps_the_grid_order_and_says_why(tracker):
    X, y = load_breast_cancer(return_X_y=True)
    grid = warm_start(GRID, X, y, estimator=DecisionTreeClassifier(), tracker=tracker)
    assert grid == [{"max_depth": [1]}, {"max_depth": [None]}] and grid.matched == 0
    assert grid.recommendations.items == () and "nothing to learn from yet" in grid.recommendations.notes[0]


@pytest.mark.parametrize(
    ("grid", "options", "message"),
    [
        ({"max_depth": 3}, {}, "param_grid must be a dict of lists"),
        (GRID, {"limit": 0}, "limit must be a positive int"),
    ],
)
def test_wrong_arguments_are_schema_errors(tracker, grid, options, message):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(mt.SchemaError, match=message):
        warm_start(grid, X, y, tracker=tracker, **options)
