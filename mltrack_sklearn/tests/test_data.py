"""Dataset metadata from pandas, numpy, scipy sparse and texts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

import mltrack_core as mt
from mltrack_sklearn.data import SAMPLE_ROWS, subset_fingerprint


def statistic(dataset, name):
    (found,) = [s for s in dataset.statistics if s.name == name]
    values = found.value if isinstance(found.value, tuple) else (found.value,)
    return dict(zip(found.columns, values, strict=True))


def test_dataframe_schema_statistics_and_histograms(tracker, wine):
    X, y = wine
    dataset = tracker.track_dataset(X, target=y, name="wine")
    types = {c.name: c.typing for c in dataset.schema}
    assert types["alcohol"] is mt.TypeHint.DOUBLE
    assert types["strength"] is mt.TypeHint.STRING
    assert types["target"] is mt.TypeHint.LONG
    assert dataset.target == "target"
    assert dataset.row_count == 178
    assert statistic(dataset, "mean")["alcohol"] == pytest.approx(X["alcohol"].mean())
    assert statistic(dataset, "std")["proline"] == pytest.approx(X["proline"].std(ddof=0))
    assert statistic(dataset, "min")["hue"] == X["hue"].min()
    assert statistic(dataset, "max")["hue"] == X["hue"].max()
    assert statistic(dataset, "missing")["magnesium"] == X["magnesium"].isna().sum() > 0
    assert statistic(dataset, "mean")["magnesium"] == pytest.approx(X["magnesium"].mean())
    assert statistic(dataset, "distinct")["strength"] == 2
    histograms = {h.column: h for h in dataset.histograms}
    assert sum(histograms["alcohol"].bucket_values) == 178
    assert sum(histograms["magnesium"].bucket_values) == X["magnesium"].notna().sum()
    assert dict(zip(histograms["strength"].bucket_labels, histograms["strength"].bucket_values, strict=True)) == (
        X["strength"].value_counts().to_dict()
    )
    assert dict(zip(histograms["target"].bucket_labels[:-1], histograms["target"].bucket_values, strict=True))


def test_fingerprint_follows_content_not_identity(tracker, wine):
    X, y = wine
    first = tracker.track_dataset(X, target=y).fingerprint
    assert tracker.track_dataset(X.copy(), target=y.copy()).fingerprint == first
    changed = X.copy()
    changed.iloc[3, 0] += 0.001
    assert tracker.track_dataset(changed, target=y).fingerprint != first
    assert tracker.track_dataset(X, target=y.to_numpy()[::-1]).fingerprint != first
    assert tracker.track_dataset(X).fingerprint != first


def test_numpy_arrays_get_positional_names(tracker, cancer):
    X, y = cancer
    dataset = tracker.track_dataset(X, target=y)
    assert [c.name for c in dataset.schema][:3] == ["x0", "x1", "x2"]
    assert dataset.schema[-1].name == "target"
    assert dataset.schema[0].typing is mt.TypeHint.DOUBLE
    assert dataset.row_count == 569
    assert statistic(dataset, "mean")["x0"] == pytest.approx(X[:, 0].mean())
    assert tracker.track_dataset(np.asfortranarray(X), target=y).fingerprint == dataset.fingerprint


def test_sparse_and_wide_data_are_one_vector_column(tracker, cancer):
    X, y = cancer
    sparse = scipy.sparse.csr_matrix(np.where(np.median(X, axis=0) < X, X, 0.0))
    dataset = tracker.track_dataset(sparse, target=y)
    assert [(c.name, c.typing) for c in dataset.schema] == [
        ("features", mt.TypeHint.VECTOR),
        ("target", mt.TypeHint.LONG),
    ]
    assert statistic(dataset, "density")["features"] == pytest.approx(sparse.nnz / (569 * 30))
    assert tracker.track_dataset(sparse.tocsc(), target=y).fingerprint == dataset.fingerprint
    wide = np.tile(X, (1, 40))
    assert tracker.track_dataset(wide).schema[0].typing is mt.TypeHint.VECTOR


def test_statistics_of_large_data_use_a_bounded_sample(tracker, diabetes):
    X, _ = diabetes
    large = pd.concat([X] * 120, ignore_index=True)
    dataset = tracker.track_dataset(large)
    assert dataset.row_count == len(large) == 53040
    sampled = {s.name: s.value for s in dataset.statistics}["statistics_sample_rows"]
    assert sampled <= SAMPLE_ROWS
    assert sampled == len(large.iloc[:: int(np.ceil(len(large) / SAMPLE_ROWS))])
    assert sum(dataset.histograms[0].bucket_values) == sampled


def test_a_target_column_named_in_the_frame(tracker, iris):
    X, y = iris
    frame = X.assign(species=y)
    dataset = tracker.track_dataset(frame, target="species")
    assert dataset.target == "species"
    assert len(dataset.schema) == 5


def test_subset_fingerprints_depend_on_parent_and_rows(tracker, iris):
    dataset = tracker.track_dataset(iris[0], target=iris[1])
    rows = np.arange(0, 150, 2)
    assert subset_fingerprint(dataset, rows) == subset_fingerprint(dataset, rows.astype(np.int32))
    assert subset_fingerprint(dataset, rows) != subset_fingerprint(dataset, rows + 1)


@pytest.mark.parametrize(
    ("data", "target", "message"),
    [
        (np.zeros((3, 2, 2)), None, "data has 3 dimensions"),
        (np.zeros((3, 2)), np.zeros(4), "target has 4 rows but the data has 3"),
        (np.zeros((3, 2)), np.zeros((3, 2)), "target must be one column"),
        (pd.DataFrame({"a": [1, 2]}), "b", "target='b' is not a column of the data"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), None, "repeated column names"),
    ],
)
def test_bad_input_is_refused_with_the_reason(tracker, data, target, message):
    with pytest.raises(mt.SchemaError, match=message):
        tracker.track_dataset(data, target=target)
    assert tracker.count("dataset") == 0


def test_data_no_plugin_knows_is_refused(tracker):
    with pytest.raises(mt.MissingPluginError):
        tracker.track_dataset({"a": [1, 2]})
