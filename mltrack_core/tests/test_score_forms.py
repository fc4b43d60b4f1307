"""track_evaluation reads the forms of scores frameworks return: pairs, lists of pairs, names with values."""

from __future__ import annotations

import pytest

import mltrack_core as mt


@pytest.fixture
def evaluated(tracker):
    dataset = tracker.track_dataset(name="held-out", row_count=10)
    model = tracker.track_model(name="m", learning_algorithm="sgd", trained_on=dataset)
    return model, dataset


def scores_of(tracker, evaluated, scores):
    model, dataset = evaluated
    evaluation = tracker.track_evaluation(scores, computed_by=model, on_dataset=dataset)
    return [(score.metric, score.value) for score in evaluation.scores]


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        (("accuracy", 0.75), [("accuracy", 0.75)]),  # one pair (MXNet's EvalMetric.get())
        ((["acc", "f1"], [0.9, 0.8]), [("acc", 0.9), ("f1", 0.8)]),  # names, values (CompositeEvalMetric.get())
        ([("acc", 0.9), ("f1", 0.8)], [("acc", 0.9), ("f1", 0.8)]),  # a list of pairs, as before
        ([("acc", 0.9)], [("acc", 0.9)]),
        (("per-class", [0.5, 0.25]), [("per-class", (0.5, 0.25))]),  # a pair whose value is an array
        ({"acc": 0.5}, [("acc", 0.5)]),
    ],
)
def test_scores_are_read_in_the_forms_frameworks_return(tracker, evaluated, scores, expected):
    assert scores_of(tracker, evaluated, scores) == expected


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ((["acc", "f1"], [0.9]), "cannot read a score"),  # names and values of different lengths
        (["acc", "f1"], "cannot read a score"),
        ("accuracy", "scores must be"),
    ],
)
def test_scores_that_are_not_pairs_are_refused(tracker, evaluated, scores, message):
    with pytest.raises(mt.SchemaError, match=message):
        scores_of(tracker, evaluated, scores)
