"""Compact column lineage: an output computed from every input column is recorded as "*", not as the list."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import mltrack_core as mt
from mltrack_core.plugin import ALL_INPUTS, Transform, TypedColumn
from mltrack_core.store import record_of
from mltrack_sklearn.dag import MAX_LISTED_COLUMNS


@pytest.fixture(scope="module")
def wide_digits() -> tuple[pd.DataFrame, np.ndarray]:
    """Digits, its 64 pixels tiled to 1,024 named columns (the shape of the issue's PCA case, on real data)."""
    X, y = load_digits(return_X_y=True)
    tiled = np.tile(X, (1, 16)) + np.repeat(np.arange(16), 64) * 1e-3  # distinct columns, real values
    return pd.DataFrame(tiled, columns=[f"p{i:04d}" for i in range(tiled.shape[1])]), y


def test_a_projection_records_one_marker_per_output(tracker, vertices, wide_digits):
    X, y = wide_digits
    pipeline = make_pipeline(StandardScaler(), PCA(n_components=200, random_state=0), RidgeClassifier())
    pipeline.fit(X, y)
    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(X, target=y))
    pca = vertices(model)["pca"]
    assert [c.name for c in pca.input] == list(X.columns)
    assert pca.column_lineage == dict.fromkeys(pipeline[:2].get_feature_names_out(), ALL_INPUTS)
    assert pca.inputs_of("pca17") == tuple(X.columns)
    assert sum(len(inputs) for inputs in pca.expanded_column_lineage().values()) == 200 * 1024
    document = record_of(pca).document
    assert len(document) < 200 * 1024  # the explicit form would hold 204,800 names
    scaler = vertices(model)["standardscaler"]
    assert scaler.column_lineage["p0005"] == ("p0005",)  # one-to-one outputs keep their one input


def test_a_projection_of_some_columns_is_compact_in_its_branch_and_explicit_where_branches_meet(
    tracker, vertices, wide_digits
):
    X, y = wide_digits
    projected, kept = list(X.columns[:64]), list(X.columns[64:66])
    pipeline = make_pipeline(
        make_column_transformer((PCA(n_components=3), projected), ("passthrough", kept)),
        RidgeClassifier(),
    ).fit(X, y)
    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(X, target=y))
    found = vertices(model)
    branch = found["columntransformer__pca"]
    assert set(branch.column_lineage.values()) == {ALL_INPUTS}
    assert branch.inputs_of("pca0") == tuple(projected)
    merge = found["columntransformer"]
    assert merge.column_lineage["pca__pca0"] == tuple(projected)  # 64 of the merge's 66 inputs: listed
    assert merge.column_lineage["passthrough__p0064"] == ("p0064",)


def test_where_branches_meet_a_projection_of_every_input_is_compact_too(tracker, vertices, wide_digits):
    X, y = wide_digits
    columns = list(X.columns[:100])
    pipeline = make_pipeline(make_column_transformer((PCA(n_components=4), columns)), RidgeClassifier())
    pipeline.fit(X[columns], y)
    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(X[columns], target=y))
    merge = vertices(model)["columntransformer"]
    assert merge.column_lineage == dict.fromkeys(pipeline[:1].get_feature_names_out(), ALL_INPUTS)
    assert merge.inputs_of("pca__pca3") == tuple(columns)


def test_stacked_predictions_come_from_every_input(tracker, vertices, wide_digits):
    X, y = wide_digits
    X = X.iloc[:, :20]
    stack = StackingClassifier(
        [("tree", DecisionTreeClassifier(max_depth=3, random_state=0))],
        final_estimator=RidgeClassifier(),
        passthrough=True,
        cv=2,
    ).fit(X, y)
    model = tracker.track_model(stack, trained_on=tracker.track_dataset(X, target=y))
    merge = vertices(model)["stackingclassifier"]
    predictions = [name for name in stack.get_feature_names_out() if name.startswith("stackingclassifier_tree")]
    assert predictions and all(merge.column_lineage[name] == ALL_INPUTS for name in predictions)
    assert merge.column_lineage["p0003"] == ("p0003",)


def test_a_single_input_column_is_named_not_marked(tracker, vertices, wide_digits):
    X, y = wide_digits
    one = X[["p0010"]]
    pipeline = make_pipeline(PCA(n_components=1), RidgeClassifier()).fit(one, y)
    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(one, target=y))
    assert vertices(model)["pca"].column_lineage == {"pca0": ("p0010",)}


def test_inputs_too_many_to_list_get_no_lineage_and_say_why(tracker, vertices):
    digits = load_digits().data
    width = MAX_LISTED_COLUMNS + 10
    rows = np.repeat(np.arange(digits.shape[0]), 8)
    columns = (np.arange(rows.size) * 7919) % width
    X = scipy.sparse.csr_matrix((digits[:, :8].ravel(), (rows, columns)), shape=(digits.shape[0], width))
    pipeline = make_pipeline(TruncatedSVD(n_components=2, random_state=0), RidgeClassifier())
    pipeline.fit(X, load_digits().target)
    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(X, target=load_digits().target))
    svd = vertices(model)["truncatedsvd"]
    assert svd.input == () and svd.column_lineage == {}
    assert svd.annotations["mltrack.column_lineage"] == f"the {width} input columns are not listed"
    assert json.loads(record_of(svd).document).get("column_lineage") is None


def test_the_compact_lineage_survives_an_sqlite_store(tmp_path, wide_digits):
    X, y = wide_digits
    pipeline = make_pipeline(PCA(n_components=5, random_state=0), RidgeClassifier()).fit(X, y)
    path = tmp_path / "store.db"
    with mt.connect(f"sqlite:///{path}") as tracker:
        model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(X, target=y))
    with mt.connect(f"sqlite:///{path}", read_only=True) as reader:
        pca = next(t for t in reader.get_many(list(model.transforms)).values() if t.name == "pca")
    assert pca.column_lineage == dict.fromkeys([f"pca{i}" for i in range(5)], ALL_INPUTS)
    assert pca.inputs_of("pca4") == tuple(X.columns)


def test_input_lists_may_be_numpy_arrays_of_names():
    # get_feature_names_out gives numpy arrays: the schema stores them as tuples of names
    transform = Transform(name="t", input=[TypedColumn(name="a")], column_lineage={"out": np.array(["a"])})
    assert transform.column_lineage == {"out": ("a",)}
