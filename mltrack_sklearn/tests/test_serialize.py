"""Serialized models: what ``track_model(..., serialize=True)`` stores, ``load_model`` reads back."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mltrack_core as mt
from mltrack_sklearn import load_model


@pytest.fixture
def fitted(iris):
    X, y = iris
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)


def test_a_serialized_model_loads_back_and_predicts_the_same(tracker, iris, fitted):
    X, y = iris
    model = tracker.track_model(fitted, trained_on=tracker.track_dataset(X, target=y), serialize=True)
    stored = tracker.get(model.id)
    for reference in (stored, stored.location):
        loaded = load_model(reference, tracker=tracker)
        assert loaded is not fitted
        assert np.array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_a_model_tracked_without_serialize_cannot_be_loaded(tracker, iris, fitted):
    model = tracker.track_model(fitted, trained_on=tracker.track_dataset(iris[0]))
    with pytest.raises(mt.MltrackError, match="has no location: track it with serialize=True"):
        load_model(model, tracker=tracker)


def test_an_artifact_that_is_not_a_pickle_is_refused(tracker):
    location = tracker.artifacts.put_bytes(b"PK\x03\x04 a zip", "model.zip")
    with pytest.raises(mt.MltrackError, match="is not a model saved by mltrack-sklearn"):
        load_model(location, tracker=tracker)


@pytest.mark.parametrize("name", ["../../escape", "a" * 300, "nul:x?y"])
def test_any_model_name_makes_a_safe_artifact_file_name_inside_the_store(tracker, iris, fitted, tmp_path, name):
    X, y = iris
    model = tracker.track_model(fitted, trained_on=tracker.track_dataset(X, target=y), name=name, serialize=True)
    path = Path(unquote(urlsplit(model.location).path))
    assert path.is_relative_to((tmp_path / "artifacts").resolve()) and len(path.name) <= 200
    assert np.array_equal(load_model(model, tracker=tracker).predict(X), fitted.predict(X))
