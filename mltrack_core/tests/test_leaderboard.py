"""Leaderboards and model differences say what they leave out and what was asked wrongly."""

from __future__ import annotations

import pytest

import mltrack_core as mt
from mltrack_core.testing import sample_experiment


@pytest.fixture(params=["memory", "sqlite"])
def any_tracker(request, tmp_path):
    uri = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'store.db'}"
    with mt.connect(uri) as tracker:
        yield tracker


@pytest.mark.parametrize(
    ("value", "shown"),
    [(float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity"), ("high", "'high'")],
)
def test_scores_that_are_not_finite_numbers_are_listed_as_excluded_with_the_reason(any_tracker, value, shown):
    recorded = sample_experiment(any_tracker)
    odd = any_tracker.track_evaluation(
        {"accuracy": value}, computed_by=recorded["model"], on_dataset=recorded["test"], procedure="holdout"
    )
    board = any_tracker.leaderboard(recorded["test"], "accuracy")
    assert [entry.evaluation.id for entry in board.entries] == [recorded["evaluation"].id]
    assert (odd.id, f"its accuracy score is {shown}, not a finite number") in board.excluded


def test_a_none_score_is_listed_as_excluded(tracker):
    recorded = sample_experiment(tracker)
    empty = tracker.track_evaluation(
        [mt.Score(metric="accuracy", value=None)], computed_by=recorded["model"], on_dataset=recorded["test"]
    )
    assert (empty.id, "its accuracy score is null, not a finite number") in tracker.leaderboard(
        recorded["test"], "accuracy"
    ).excluded


def test_the_board_names_every_metric_evaluated_on_the_data(tracker):
    recorded = sample_experiment(tracker)
    board = tracker.leaderboard(recorded["test"], "no-such-metric")
    assert board.entries == () and board.excluded == ()
    assert board.metrics == ("accuracy", "log_loss")
    assert board.to_json()["metrics"] == ["accuracy", "log_loss"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"metric": None}, "metric"),
        ({"metric": ""}, "metric"),
        ({"metric": 3}, "metric"),
        ({"metric": "accuracy", "limit": 0}, "limit"),
        ({"metric": "accuracy", "limit": "5"}, "limit"),
        ({"metric": "accuracy", "procedure": 1}, "procedure"),
    ],
)
def test_wrong_arguments_are_schema_errors(tracker, arguments, message):
    recorded = sample_experiment(tracker)
    with pytest.raises(mt.SchemaError, match=message):
        tracker.leaderboard(recorded["test"], **arguments)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t, r: t.diff(r["model"], r["test"]), "is a dataset, not a model"),
        (lambda t, r: t.leaderboard(r["model"], "accuracy"), "is a model, not a dataset"),
        (lambda t, r: t.comparable(r["evaluation"], r["model"]), "is a model, not an evaluation"),
    ],
)
def test_an_id_of_another_kind_is_named_as_such(tracker, call, message):
    recorded = sample_experiment(tracker)
    with pytest.raises(mt.NotFoundError, match=message):
        call(tracker, recorded)
