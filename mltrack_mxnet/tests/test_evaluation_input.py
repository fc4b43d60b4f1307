"""track_evaluation takes what MXNet's metrics return, as they return it."""

from __future__ import annotations

import mxnet as mx
import pytest
from mxnet import gluon

import mltrack_core as mt


@pytest.fixture
def predictions(digits):
    """A small network's predictions on the test rows, and the labels."""
    net = gluon.nn.Dense(10)
    net.initialize()
    rows = digits.rows["test"]
    return net(mx.nd.array(digits.features[rows])), mx.nd.array(digits.labels[rows])


@pytest.fixture
def model(tracker, train_set):
    return tracker.track_model(name="digits-dense", learning_algorithm="sgd", trained_on=train_set)


def scores_of(evaluation):
    return {score.metric: score.value for score in evaluation.scores}


def test_an_eval_metric_result_is_recorded_as_it_reads(tracker, digits, model, predictions):
    test_set = digits.track(tracker, "test")
    metric = mx.metric.Accuracy()
    metric.update([predictions[1]], [predictions[0]])

    evaluation = tracker.track_evaluation(metric.get(), computed_by=model, on_dataset=test_set)  # ("accuracy", v)

    assert scores_of(evaluation) == {"accuracy": pytest.approx(metric.get()[1])}


def test_a_composite_metric_result_records_every_metric(tracker, digits, model, predictions):
    test_set = digits.track(tracker, "test")
    metric = mx.metric.CompositeEvalMetric([mx.metric.Accuracy(), mx.metric.TopKAccuracy(top_k=3)])
    metric.update([predictions[1]], [predictions[0]])
    names, values = metric.get()  # (["accuracy", "top_k_accuracy_3"], [..., ...])

    evaluation = tracker.track_evaluation(metric.get(), computed_by=model, on_dataset=test_set)

    assert scores_of(evaluation) == dict(zip(names, values, strict=True))
    assert tracker.leaderboard(test_set, "accuracy").entries[0].model.id == model.id
    assert isinstance(evaluation, mt.Evaluation)
