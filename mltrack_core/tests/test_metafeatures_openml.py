"""Meta-features read back from stored datasets: recorded ``meta.*`` statistics, or derived from OpenML qualities.

Runs without numpy (the core session has none): reading meta-features is pure Python.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import mltrack_core as mt
from mltrack_core.importers import import_openml
from mltrack_core.metafeatures import META_FEATURES, meta_features, meta_features_of_document, openml_meta_features

ANNEAL = Path(__file__).resolve().parent / "fixtures" / "openml" / "datasets" / "2"


def test_the_meta_features_of_anneal_imported_from_openml_come_from_its_qualities(tracker):
    import_openml(tracker, [ANNEAL])
    anneal = tracker.get("openml-dataset-2")
    assert not any(statistic.name.startswith("meta.") for statistic in anneal.statistics)  # documents unchanged
    found = meta_features(anneal)
    assert list(found) == [name for name in META_FEATURES if name in found]
    # 898 rows, 39 columns of which the target "class"; this old document counts 6 numeric + 32 symbolic
    # features (the target left out), 22,175 missing cells, all in the features (features.xml: none in "class")
    assert found == {
        "meta.rows": 898.0,
        "meta.features": 38.0,
        "meta.numeric_share": pytest.approx(6 / 38),
        "meta.categorical_share": pytest.approx(32 / 38),
        "meta.missing_ratio": pytest.approx(22175 / (898 * 38)),
        "meta.classes": 6.0,
        "meta.landmark.stump": pytest.approx(1 - 0.22828507795100222),
        "meta.landmark.naive_bayes": pytest.approx(1 - 0.24610244988864144),
        "meta.landmark.one_nn": pytest.approx(1 - 0.06347438752783964),
    }
    # left out: ClassEntropy is -1 (not computed) and the rarest of the 6 declared classes has no row
    assert meta_features_of_document(json.loads(json.dumps(anneal.to_json()))) == found


def test_recorded_meta_features_are_read_as_they_are(tracker):
    dataset = tracker.track_dataset(
        mt.Dataset(
            name="recorded",
            target="label",
            statistics=[
                mt.DataStatistic(name="meta.landmark.one_nn", value=0.75),
                mt.DataStatistic(name="meta.rows", value=120),
                mt.DataStatistic(name="meta.class_entropy", value=math.nan),  # not finite: absent
                mt.DataStatistic(name="meta.unknown", value=1.0),  # not a meta-feature of this version
                mt.DataStatistic(name="NumberOfInstances", value=5),  # recorded meta-features win
                mt.DataStatistic(name="meta.classes", value=[2.0, 3.0], columns=["a", "b"]),  # not dataset-level
            ],
        )
    )
    stored = tracker.get(dataset.id)
    assert meta_features(stored) == {"meta.rows": 120.0, "meta.landmark.one_nn": 0.75}
    document = json.loads(json.dumps(stored.to_json()).replace("NaN", '"NaN"'))  # standard JSON's spelling
    assert meta_features_of_document(document) == {"meta.rows": 120.0, "meta.landmark.one_nn": 0.75}


def test_a_dataset_with_neither_meta_features_nor_qualities_has_none(tracker):
    dataset = tracker.track_dataset(
        mt.Dataset(name="bare", statistics=[mt.DataStatistic(name="missing", value=[0], columns=["a"])])
    )
    assert meta_features(tracker.get(dataset.id)) == {}
    assert meta_features_of_document({"name": "bare"}) == {}


def test_qualities_as_todays_openml_computes_them():
    # iris (OpenML dataset 61) as the API gives it today: the nominal target counted among the symbolic features,
    # missing values and the minority class as percentages only
    qualities = {
        "NumberOfInstances": 150.0,
        "NumberOfFeatures": 5.0,
        "NumberOfNumericFeatures": 4.0,
        "NumberOfSymbolicFeatures": 1.0,
        "PercentageOfMissingValues": 0.0,
        "NumberOfClasses": 3.0,
        "ClassEntropy": 1.584962500721156,
        "MinorityClassPercentage": 33.33333333333333,
        "kNN1NErrRate": 0.05333333333333334,
        "Description": "not a number",
    }
    assert openml_meta_features(qualities) == {
        "meta.rows": 150.0,
        "meta.features": 4.0,
        "meta.numeric_share": 1.0,
        "meta.categorical_share": 0.0,
        "meta.missing_ratio": 0.0,
        "meta.classes": 3.0,
        "meta.class_entropy": pytest.approx(math.log2(3)),
        "meta.minority_share": pytest.approx(1 / 3),
        "meta.landmark.one_nn": pytest.approx(0.94666666),
    }
    # a regression target (no classes) is numeric: taken out of the numeric features; no class features
    regression = {"NumberOfInstances": 10, "NumberOfFeatures": 3, "NumberOfNumericFeatures": 3,
                  "NumberOfSymbolicFeatures": 0, "NumberOfClasses": 0}  # fmt: skip
    assert openml_meta_features(regression) == {
        "meta.rows": 10.0,
        "meta.features": 2.0,
        "meta.numeric_share": 1.0,
        "meta.categorical_share": 0.0,
    }
