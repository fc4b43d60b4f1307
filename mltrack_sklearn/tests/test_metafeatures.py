"""Dataset meta-features (``meta.*``) recorded from what ``fit`` received: exact counts, landmarkers, bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from mltrack_core.metafeatures import LANDMARK_ROWS, META_FEATURES, meta_feature_statistics, meta_features
from mltrack_sklearn import TrackedPipeline
from mltrack_sklearn.data import MAX_DESCRIBED_COLUMNS, describe_data

LANDMARKS = ("meta.landmark.stump", "meta.landmark.naive_bayes", "meta.landmark.one_nn")
CLASS_FEATURES = ("meta.classes", "meta.class_entropy", "meta.minority_share")


def meta(data, target=None):
    return meta_features(describe_data(data, target).dataset())


def test_iris_counts_classes_and_landmarkers(iris):
    X, y = iris
    found = meta(X, y)
    assert list(found) == list(META_FEATURES)  # every meta-feature, in order
    assert found["meta.rows"] == 150 and found["meta.features"] == 4
    assert (found["meta.numeric_share"], found["meta.categorical_share"], found["meta.missing_ratio"]) == (1, 0, 0)
    assert found["meta.classes"] == 3
    assert found["meta.class_entropy"] == pytest.approx(math.log2(3))
    assert found["meta.minority_share"] == pytest.approx(1 / 3)
    assert found["meta.landmark_rows"] == 150
    assert found["meta.landmark.one_nn"] > 0.9
    assert found["meta.landmark.naive_bayes"] > 0.9
    assert 0.6 <= found["meta.landmark.stump"] <= 2 / 3  # one split tells one species from the two others


def test_wine_with_a_text_column_and_missing_values(wine):
    X, y = wine  # 13 numeric columns (magnesium missing in every 7th row) and the text column "strength"
    found = meta(X, y)
    assert found["meta.features"] == 14
    assert found["meta.numeric_share"] == pytest.approx(13 / 14)
    assert found["meta.categorical_share"] == pytest.approx(1 / 14)
    assert found["meta.missing_ratio"] == pytest.approx(X["magnesium"].isna().sum() / (178 * 14))
    counts = np.bincount(y)
    assert found["meta.classes"] == 3
    assert found["meta.minority_share"] == pytest.approx(counts.min() / 178)
    assert found["meta.class_entropy"] == pytest.approx(-(counts / 178 * np.log2(counts / 178)).sum())
    assert found["meta.landmark.one_nn"] > 0.85 and found["meta.landmark.naive_bayes"] > 0.85


def test_breast_cancer_and_digits(cancer):
    X, y = cancer
    found = meta(X, y)
    assert (found["meta.rows"], found["meta.features"], found["meta.classes"]) == (569, 30, 2)
    assert found["meta.landmark.stump"] > 0.85 and found["meta.landmark.one_nn"] > 0.9
    digits = meta(*load_digits(return_X_y=True))
    assert (digits["meta.rows"], digits["meta.features"], digits["meta.classes"]) == (1797, 64, 10)
    assert digits["meta.landmark_rows"] == LANDMARK_ROWS
    assert digits["meta.landmark.one_nn"] > 0.9
    assert digits["meta.landmark.stump"] < 0.3  # one split cannot tell ten digits apart


def test_categories_booleans_and_missing_values_in_a_frame(iris):
    X, y = iris
    frame = X.copy()
    frame["size"] = np.where(frame["petal length (cm)"] > 4.5, "large", "small")
    frame["size"] = frame["size"].astype("category")
    frame["wide"] = frame["sepal width (cm)"] > 3.0
    frame.loc[frame.index[::5], "sepal width (cm)"] = np.nan
    frame.loc[frame.index[::10], "size"] = np.nan
    species = y.map(dict(enumerate(["setosa", "versicolor", "virginica"])))
    found = meta(frame, species)  # a target of strings
    assert found["meta.features"] == 6
    assert found["meta.numeric_share"] == pytest.approx(4 / 6)
    assert found["meta.categorical_share"] == pytest.approx(2 / 6)
    assert found["meta.missing_ratio"] == pytest.approx((30 + 15) / (150 * 6))
    assert found["meta.classes"] == 3 and found["meta.class_entropy"] == pytest.approx(math.log2(3))
    assert found["meta.landmark.one_nn"] > 0.85
    named = meta(frame.assign(species=species), "species")  # the target as a column of the frame
    assert named == found


def test_a_regression_target_has_no_class_features_nor_landmarkers(diabetes):
    X, y = diabetes  # integral values, but 214 of them
    found = meta(X, y)
    assert found == {
        "meta.rows": 442,
        "meta.features": 10,
        "meta.numeric_share": 1,
        "meta.categorical_share": 0,
        "meta.missing_ratio": 0,
    }
    assert meta(X) == found  # no target: the same


def test_the_same_data_gives_the_same_meta_features(cancer):
    X, y = cancer
    first = describe_data(X, y).dataset()
    again = describe_data(X.copy(), y.copy()).dataset()
    assert [s for s in first.statistics if s.name.startswith("meta.")] == [
        s for s in again.statistics if s.name.startswith("meta.")
    ]


def test_large_data_is_described_from_a_bounded_sample():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200_000, 20))
    y = (X[:, 3] + 0.5 * rng.normal(size=len(X)) > 0).astype(np.int64)
    found = meta(X, y)
    assert found["meta.rows"] == 200_000
    assert found["meta.landmark_rows"] == LANDMARK_ROWS
    assert found["meta.landmark.stump"] > 0.75  # the split on x3
    assert found["meta.minority_share"] == pytest.approx(0.5, abs=0.02)


def test_the_target_beyond_the_described_columns_is_in_the_sample_and_no_feature():
    X, y = load_digits(return_X_y=True)
    frame = np.hstack([X, X[:, ::-1]])  # 128 named columns, more than are described
    assert frame.shape[1] > MAX_DESCRIBED_COLUMNS
    found = meta(frame, y)
    assert found["meta.features"] == 128 and found["meta.classes"] == 10
    assert found["meta.landmark.one_nn"] > 0.9


def test_sparse_and_wide_data(cancer):
    X, y = load_digits(return_X_y=True)
    sparse = meta(scipy.sparse.csr_matrix(X), y)
    assert (sparse["meta.features"], sparse["meta.numeric_share"], sparse["meta.missing_ratio"]) == (64, 1, 0)
    assert sparse["meta.classes"] == 10 and sparse["meta.landmark_rows"] == LANDMARK_ROWS
    assert sparse["meta.landmark.one_nn"] > 0.9  # the 100 most often non-zero columns: all 64
    assert meta(scipy.sparse.csc_matrix(X), y) == sparse
    features, labels = cancer
    wide = meta(np.tile(features, (1, 40)), labels)  # 1,200 columns: one VECTOR column
    assert wide["meta.features"] == 1200 and wide["meta.classes"] == 2
    assert wide["meta.landmark.one_nn"] > 0.85


def test_a_sample_as_large_as_the_landmarkers_take_gives_every_meta_feature():
    rng = np.random.default_rng(3)
    numeric = rng.normal(size=(LANDMARK_ROWS, 100))
    target = (numeric[:, 0] > 0).astype(np.float64)
    found = meta_feature_statistics(rows=LANDMARK_ROWS, numeric=numeric, categorical=np.empty((LANDMARK_ROWS, 0)),
                                    target=target)  # fmt: skip
    assert [s.name for s in found] == list(META_FEATURES)  # its cost: benchmarks/recommend_bench.py
    assert {s.name: s.value for s in found}["meta.landmark.stump"] > 0.9  # the label is one feature's sign


def test_a_tracked_fit_records_the_meta_features(tracker, iris):
    X, y = iris
    pipeline = TrackedPipeline([("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=500))],
                               tracker=tracker).fit(X, y)  # fmt: skip
    tracker.flush()
    dataset = tracker.get(pipeline.tracked_model_.trained_on)
    found = meta_features(dataset)
    assert set(LANDMARKS + CLASS_FEATURES) <= set(found)
    assert found["meta.rows"] == 150 and found["meta.classes"] == 3
    assert all(not s.columns and s.value == found[s.name] for s in dataset.statistics if s.name.startswith("meta."))
