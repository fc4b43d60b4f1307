"""Dataset snapshots: the dataset's identity now, its statistics later from a private copy of the sample."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from mltrack_sklearn.data import SAMPLE_ROWS, describe_data


def values(dataset, name):
    (found,) = [s for s in dataset.statistics if s.name == name]
    return dict(zip(found.columns, found.value, strict=True))


def test_the_snapshot_is_the_dataset_without_statistics_until_completed(wine):
    X, y = wine
    described = describe_data(X, y)
    snapshot = described.snapshot()
    assert snapshot.dataset.statistics == () and snapshot.dataset.histograms == ()
    completed = snapshot.complete()
    assert completed.id == snapshot.dataset.id
    full = described.dataset()
    assert completed.to_json() | {"id": full.id, "creation_time": full.creation_time} == full.to_json()


def test_statistics_describe_the_data_as_it_was_when_the_snapshot_was_taken(wine):
    X, y = wine
    X = X.copy()
    snapshot = describe_data(X, y).snapshot()
    before = {"alcohol": X["alcohol"].mean(), "hue": X["hue"].max(), "strength": X["strength"].value_counts()}
    X.loc[:, "alcohol"] = 0.0  # the user reuses the frame as soon as fit returns
    X.loc[:, "strength"] = "changed"
    X.iloc[:, X.columns.get_loc("hue")] *= 10
    completed = snapshot.complete()
    assert values(completed, "mean")["alcohol"] == pytest.approx(before["alcohol"])
    assert values(completed, "max")["hue"] == before["hue"]
    histogram = next(h for h in completed.histograms if h.column == "strength")
    assert dict(zip(histogram.bucket_labels, histogram.bucket_values, strict=True)) == before["strength"].to_dict()


def test_a_numpy_array_changed_in_place_after_the_snapshot(cancer):
    X, y = cancer
    X = X.copy()
    snapshot = describe_data(X, y).snapshot()
    mean = X[:, 3].mean()
    X *= -1
    assert values(snapshot.complete(), "mean")["x3"] == pytest.approx(mean)


def test_a_frame_of_one_block_and_of_many_blocks_get_the_same_fingerprint_and_statistics(diabetes):
    X, y = diabetes
    blocks = pd.concat([X.iloc[:, :5], X.iloc[:, 5:]], axis=1)  # same values, held in two blocks
    assert list(blocks.columns) == list(X.columns)
    one, two = describe_data(X, y), describe_data(blocks, y)
    assert one.table.matrix is not None and two.table.matrix is None  # the fast path, and column by column
    assert one.fingerprint == two.fingerprint
    assert one.snapshot().complete().statistics == two.snapshot().complete().statistics


def test_the_sample_is_bounded_and_completes_on_another_thread(diabetes):
    X, _ = diabetes
    large = pd.concat([X] * 60, ignore_index=True)
    snapshot = describe_data(large).snapshot()
    assert snapshot.sample.matrix.shape == (len(range(0, len(large), int(np.ceil(len(large) / SAMPLE_ROWS)))), 10)
    found = []
    worker = threading.Thread(target=lambda: found.append(snapshot.complete()))
    worker.start()
    worker.join()
    assert found[0].statistics[0].name == "statistics_sample_rows"
    assert found[0].statistics[0].value == snapshot.sample.matrix.shape[0] <= SAMPLE_ROWS
    assert values(found[0], "min")["bmi"] == large["bmi"].iloc[:: int(np.ceil(len(large) / SAMPLE_ROWS))].min()
