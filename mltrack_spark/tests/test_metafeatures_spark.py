"""Meta-features (``meta.*``) of a DataFrame: counted by Spark's passes, landmarkers from a small collected head."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from mltrack_core.metafeatures import meta_features
from mltrack_spark import describe_dataframe


def _described(spark, frame, group, **options):
    """The dataset describing ``frame``, and the number of Spark jobs that took."""
    context = spark.sparkContext
    context.setJobGroup(group, "describe", False)
    try:
        dataset = describe_dataframe(frame, **options)
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    return dataset, len(context.statusTracker().getJobIdsForGroup(group))


def test_meta_features_of_a_classification_and_a_regression_target(spark, tickets):
    rows = tickets.collect()
    labelled, jobs = _described(spark, tickets, "meta-label", target="label")
    found = meta_features(labelled)
    counts = Counter(row["label"] for row in rows)
    assert found["meta.rows"] == 48 and found["meta.features"] == 4
    assert found["meta.numeric_share"] == 0.5 and found["meta.categorical_share"] == 0.5  # 2 numbers, 2 texts
    assert found["meta.missing_ratio"] == pytest.approx(2 / (48 * 4))  # one null and one NaN in "wait"
    assert found["meta.classes"] == 2
    assert found["meta.class_entropy"] == pytest.approx(-sum(c / 48 * math.log2(c / 48) for c in counts.values()))
    assert found["meta.minority_share"] == pytest.approx(min(counts.values()) / 48)
    assert found["meta.landmark_rows"] == 48
    for name in ("meta.landmark.stump", "meta.landmark.naive_bayes", "meta.landmark.one_nn"):
        assert 0.5 <= found[name] <= 1.0, name  # 48 rows: the label follows codes of texts, noisy neighbours
    assert describe_dataframe(tickets, target="label").statistics == labelled.statistics  # deterministic

    regression, regression_jobs = _described(spark, tickets, "meta-wait", target="wait")  # 2.5 steps: no classes
    assert set(meta_features(regression)) == {
        "meta.rows",
        "meta.features",
        "meta.numeric_share",
        "meta.categorical_share",
        "meta.missing_ratio",
    }
    assert meta_features(regression)["meta.missing_ratio"] == 0  # the target's missing values are no feature's
    _, unlabelled_jobs = _described(spark, tickets, "meta-none")
    assert regression_jobs == unlabelled_jobs  # the class counts ride on pass 2
    assert jobs > unlabelled_jobs  # the landmarkers' head, collected for a classification target only
