"""Evaluations: scorer names and metric functions, confusion matrices, links to model, data and predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, confusion_matrix, get_scorer, log_loss, max_error
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import mltrack_core as mt
from mltrack_sklearn import TrackedPipeline, track_evaluation


class CountingLogisticRegression(LogisticRegression):
    """Counts predict calls, to check predictions are made once."""

    predictions = 0

    def predict(self, X):
        type(self).predictions += 1
        return super().predict(X)


@pytest.fixture
def split(wine):
    X, y = wine
    return train_test_split(X.drop(columns=["strength"]).fillna(0), y, test_size=0.3, random_state=0, stratify=y)


def test_classifier_scores_and_confusion_matrix(tracker, split):
    X_train, X_test, y_train, y_test = split
    pipeline = TrackedPipeline(
        [("scale", StandardScaler()), ("classify", CountingLogisticRegression(max_iter=500))], tracker=tracker
    )
    pipeline.fit(X_train, y_train)
    CountingLogisticRegression.predictions = 0
    evaluation = track_evaluation(
        pipeline, X_test, y_test, ["accuracy", "f1_macro", "neg_log_loss", accuracy_score], tracker=tracker
    )
    assert CountingLogisticRegression.predictions == 1
    predicted = pipeline.predict(X_test)
    assert (
        evaluation.score("accuracy").value
        == accuracy_score(y_test, predicted)
        == evaluation.score("accuracy_score").value
    )
    assert evaluation.score("f1_macro").value == get_scorer("f1_macro")(pipeline, X_test, y_test)
    assert evaluation.score("neg_log_loss").value == pytest.approx(-log_loss(y_test, pipeline.predict_proba(X_test)))
    assert evaluation.confusion_matrix.labels == ("0", "1", "2")
    assert np.array_equal(evaluation.confusion_matrix.matrix, confusion_matrix(y_test, predicted))
    assert evaluation.computed_by == pipeline.tracked_model_.id
    assert evaluation.procedure == "holdout"
    test_data = tracker.get(evaluation.on_dataset)
    assert test_data.row_count == len(X_test)
    assert test_data.id != pipeline.tracked_model_.trained_on


def test_regressor_defaults_and_explicit_model(tracker, diabetes):
    X, y = diabetes
    regressor = Ridge(alpha=0.1).fit(X, y)
    model = tracker.track_model(regressor, trained_on=tracker.track_dataset(X, target=y))
    evaluation = track_evaluation(regressor, X, y, model=model, tracker=tracker, procedure="resubstitution")
    assert [s.metric for s in evaluation.scores] == ["r2", "neg_mean_absolute_error", "neg_root_mean_squared_error"]
    assert evaluation.score("r2").value == pytest.approx(regressor.score(X, y))
    assert evaluation.confusion_matrix is None
    assert evaluation.on_dataset == model.trained_on
    worst = track_evaluation(regressor, X, y, [max_error], model=model.id, tracker=tracker)
    assert worst.score("max_error").value == max_error(y, regressor.predict(X))


def test_an_evaluation_links_a_tracked_prediction(tracker, split):
    X_train, X_test, y_train, y_test = split
    pipeline = TrackedPipeline([("classify", LogisticRegression(max_iter=5000))], tracker=tracker).fit(X_train, y_train)
    test_data = tracker.track_dataset(X_test, target=y_test, name="wine test")
    prediction = tracker.track_prediction(
        computed_by=pipeline.tracked_model_, on_dataset=test_data, location="file:///tmp/p.csv"
    )
    evaluation = track_evaluation(pipeline, X_test, y_test, ["accuracy"], prediction=prediction, tracker=tracker)
    assert evaluation.for_prediction == prediction.id
    assert evaluation.on_dataset == test_data.id


def test_bad_evaluation_requests_are_refused(tracker, split):
    X_train, X_test, y_train, y_test = split
    plain = LogisticRegression(max_iter=5000).fit(X_train, y_train)
    with pytest.raises(mt.SchemaError, match="no tracked model is known for this LogisticRegression: pass model="):
        track_evaluation(plain, X_test, y_test, tracker=tracker)
    pipeline = TrackedPipeline([("classify", LogisticRegression(max_iter=5000))], tracker=tracker).fit(X_train, y_train)
    with pytest.raises(mt.SchemaError, match="unknown metric 'acuracy'"):
        track_evaluation(pipeline, X_test, y_test, ["acuracy"], tracker=tracker)
    other = tracker.track_model(plain, trained_on=pipeline.tracked_model_.trained_on)
    prediction = tracker.track_prediction(computed_by=other, on_dataset=other.trained_on)
    with pytest.raises(mt.SchemaError, match="was computed by model"):
        track_evaluation(pipeline, X_test, y_test, prediction=prediction, tracker=tracker)
    assert tracker.count("evaluation") == 0
