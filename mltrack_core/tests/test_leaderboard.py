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


def test_pages_of_a_leaderboard_join_up_to_the_whole_ranking(any_tracker):
    recorded = sample_experiment(any_tracker)
    for index in range(7):
        model = any_tracker.track_model(name=f"lr {index}", trained_on=recorded["train"], learning_algorithm="LR")
        any_tracker.track_evaluation(
            {"accuracy": 0.5 + index / 100}, computed_by=model, on_dataset=recorded["test"], procedure="holdout"
        )
    whole = any_tracker.leaderboard(recorded["test"], "accuracy")
    assert whole.total == len(whole.entries) == 8 and whole.offset == 0
    pages = [any_tracker.leaderboard(recorded["test"], "accuracy", limit=3, offset=at) for at in (0, 3, 6, 9)]
    assert [len(page.entries) for page in pages] == [3, 3, 2, 0]
    assert {page.total for page in pages} == {8}
    assert [entry for page in pages for entry in page.entries] == list(whole.entries)
    assert [entry.rank for entry in pages[1].entries] == [4, 5, 6]
    assert pages[1].to_json()["offset"] == 3 and pages[1].to_json()["total"] == 8


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"metric": "accuracy", "offset": -1}, "offset"),
        ({"metric": "accuracy", "offset": 1.5}, "offset"),
        ({"metric": "accuracy", "offset": True}, "offset"),
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
