"""TrackedPipeline: what one fit records, and that it stays a Pipeline in every other respect."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import mltrack_core as mt
from mltrack_sklearn import TrackedPipeline
from mltrack_sklearn.parameters import plain_value


def steps():
    return [("scale", StandardScaler(with_mean=False)), ("classify", LogisticRegression(C=0.5, max_iter=500))]


def test_fit_records_dataset_run_and_model(tracker, iris):
    X, y = iris
    pipeline = TrackedPipeline(steps(), tracker=tracker)
    assert pipeline.fit(X, y) is pipeline
    model = pipeline.tracked_model_
    dataset = tracker.get(model.trained_on)
    assert dataset.row_count == 150
    assert dataset.target == "target"
    assert [c.name for c in dataset.schema] == [*X.columns, "target"]
    (run,) = tracker.find("run")
    assert run.state is mt.TrainingState.FINISHED
    assert run.for_model == model.id
    assert run.trained_on == dataset.id
    assert run.hyperparameters == model.hyperparameters
    assert model.learning_algorithm == "LogisticRegression"
    assert model.framework == "scikit-learn"
    assert [c.name for c in model.input] == list(X.columns)


def test_recorded_hyperparameters_are_get_params(tracker, iris):
    X, y = iris
    pipeline = TrackedPipeline(steps(), tracker=tracker).fit(X, y)
    recorded = {p.name: p for p in pipeline.tracked_model_.hyperparameters}
    expected = {key: value for key, value in pipeline.get_params(deep=True).items() if key != "tracker"}
    assert set(recorded) == set(expected)
    for key, value in expected.items():
        assert recorded[key].value == mt.Parameter.of("v", plain_value(value)).value, key
    assert recorded["classify__C"].default == 1.0
    assert recorded["classify__C"].non_default
    assert recorded["classify__C"].typing is mt.TypeHint.DOUBLE
    assert recorded["classify__max_iter"].non_default
    assert recorded["classify__max_iter"].default == 100
    assert recorded["scale__with_mean"].non_default
    assert not recorded["scale__with_std"].non_default
    assert not recorded["classify__penalty"].non_default
    assert recorded["classify__C"].doc.startswith("float")


def test_predictions_are_those_of_a_pipeline(tracker, wine):
    X, y = wine
    X = X.drop(columns=["strength"]).fillna(0)
    tracked = TrackedPipeline(steps(), tracker=tracker).fit(X, y)
    plain = Pipeline(steps()).fit(X, y)
    np.testing.assert_array_equal(tracked.predict(X), plain.predict(X))
    assert tracked.score(X, y) == plain.score(X, y)


def test_fitting_again_on_the_same_data_records_the_dataset_once(tracker, iris):
    X, y = iris
    pipeline = TrackedPipeline(steps(), tracker=tracker)
    first = pipeline.fit(X, y).tracked_model_
    second = pipeline.fit(X, y).tracked_model_
    assert first.id != second.id
    assert first.trained_on == second.trained_on
    assert tracker.count("dataset") == 1
    assert tracker.count("run") == 2


def test_a_dataset_the_user_tracked_is_reused(tracker, iris):
    X, y = iris
    named = tracker.track_dataset(X, target=y, name="iris")
    model = TrackedPipeline(steps(), tracker=tracker).fit(X, y).tracked_model_
    assert model.trained_on == named.id


def test_default_tracker_is_used_without_tracker_parameter(tracker, iris):
    mt.set_tracker(tracker)
    TrackedPipeline(steps()).fit(*iris)
    assert tracker.count("model") == 1


def test_clones_share_the_tracker_and_keep_parameters(tracker):
    pipeline = TrackedPipeline(steps(), tracker=tracker)
    twin = clone(pipeline)
    assert twin.tracker is tracker
    assert twin is not pipeline
    assert twin.get_params()["classify__C"] == 0.5
    assert "tracker" in pipeline.get_params(deep=False)
    twin.set_params(classify__C=2.0, tracker=None)
    assert twin.tracker is None
    assert pipeline.get_params()["classify__C"] == 0.5


def test_pickling_leaves_the_tracker_out(tracker, iris):
    X, y = iris
    pipeline = TrackedPipeline(steps(), tracker=tracker).fit(X, y)
    restored = pickle.loads(pickle.dumps(pipeline))
    assert restored.tracker is None
    assert pipeline.tracker is tracker
    np.testing.assert_array_equal(restored.predict(X), pipeline.predict(X))
    assert restored.tracked_model_ == pipeline.tracked_model_


def test_inside_a_search_only_the_refit_is_recorded(tracker, iris):
    X, y = iris
    search = GridSearchCV(TrackedPipeline(steps(), tracker=tracker), {"classify__C": [0.1, 1.0]}, cv=3).fit(X, y)
    assert tracker.count("model") == 1
    assert tracker.count("run") == 1
    model = search.best_estimator_.tracked_model_
    assert {p.name: p.value for p in model.hyperparameters}["classify__C"] == search.best_params_["classify__C"]
    cross_val_predict(TrackedPipeline(steps(), tracker=tracker), X, y, cv=3)
    assert tracker.count("model") == 1


def test_fit_transform_is_recorded_and_fit_predict_only_offered_when_possible(tracker, iris):
    X, y = iris
    transformer = TrackedPipeline([("scale", StandardScaler())], tracker=tracker)
    np.testing.assert_allclose(transformer.fit_transform(X, y), StandardScaler().fit_transform(X))
    assert transformer.tracked_model_.learning_algorithm == "StandardScaler"
    assert not hasattr(TrackedPipeline(steps(), tracker=tracker), "fit_predict")
    assert hasattr(TrackedPipeline(steps(), tracker=tracker), "predict_proba")


def test_a_wrong_tracker_parameter_is_refused(iris):
    with pytest.raises(mt.SchemaError, match=r"must be a mltrack_core\.Tracker or None, got str 'memory://'"):
        TrackedPipeline(steps(), tracker="memory://").fit(*iris)


def test_a_failing_training_marks_the_run_failed(tracker, iris):
    X, y = iris
    with pytest.raises(ValueError, match="penalty"):
        TrackedPipeline([("classify", LogisticRegression(penalty="l3"))], tracker=tracker).fit(X, y)
    (run,) = tracker.find("run")
    assert run.state is mt.TrainingState.FAILED
    assert "penalty" in run.annotations["mltrack.failure"]
    assert tracker.count("model") == 0


def test_a_store_failure_warns_and_the_fit_goes_on(tracker, iris):
    X, y = iris
    tracker.store.close()
    pipeline = TrackedPipeline(steps(), tracker=tracker)

    def fit_and_flush():  # the run's write is deferred: its failure is reported by the next call to the tracker
        pipeline.fit(X, y)
        tracker.flush()

    with pytest.warns(mt.TrackingWarning) as caught:
        fit_and_flush()
    messages = [str(warning.message) for warning in caught]
    assert any("training data of a TrackedPipeline fit was not recorded: StoreError" in m for m in messages)
    assert any(re.search(r"run run-\S+ was not recorded: StoreError", m) for m in messages)
    assert pipeline.tracked_model_ is None
    assert pipeline.score(X, y) > 0.9


class ForgetfulScaler(TransformerMixin, BaseEstimator):
    """A transformer whose parameters cannot be read once it is fitted (a broken third-party estimator)."""

    def __init__(self, factor=1.0):
        self.factor = factor

    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        return np.asarray(X) * self.factor

    def get_params(self, deep=True):
        if getattr(self, "fitted_", False):
            raise RuntimeError("parameters are gone")
        return super().get_params(deep)


def test_a_failing_extraction_still_fits_warns_and_records_the_rest(tracker, iris):
    X, y = iris
    pipeline = TrackedPipeline(
        [("odd", ForgetfulScaler()), ("classify", LogisticRegression(max_iter=500))], tracker=tracker
    )
    with pytest.warns(mt.TrackingWarning, match="recorded without: hyperparameters: RuntimeError: parameters are gone"):
        pipeline.fit(X, y)
    model = pipeline.tracked_model_
    assert "parameters are gone" in model.annotations["mltrack.failures"]
    assert pipeline.predict(X).shape == (150,)
