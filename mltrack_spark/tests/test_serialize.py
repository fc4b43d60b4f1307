"""Fitted models saved to the artifact store by Spark's writer, and loaded back."""

from __future__ import annotations

import hashlib

from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler

from mltrack_spark import load_model


def test_serialized_models_load_back(tracker, tickets):
    assembler = VectorAssembler(inputCols=["previous"], outputCol="features")
    fitted = Pipeline(stages=[assembler, LogisticRegression(maxIter=3)]).fit(tickets)
    model = tracker.track_model(fitted, trained_on=tickets, serialize=True, name="small lr")
    assert model.location.startswith("file://")
    assert model.location.endswith(f"/small_lr~{hashlib.sha256(b'small lr').hexdigest()[:32]}.spark.zip")
    loaded = load_model(model.location, tracker=tracker)
    assert [s.uid for s in loaded.stages] == [s.uid for s in fitted.stages]
    expected = [row.probability for row in fitted.transform(tickets).collect()]
    assert [row.probability for row in loaded.transform(tickets).collect()] == expected
