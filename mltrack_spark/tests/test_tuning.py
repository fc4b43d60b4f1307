"""Tunings tracked explicitly: every candidate's metric, the choice, and the chosen candidate's evaluation."""

from __future__ import annotations

import json
import math

import pytest
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit

from mltrack_spark.tuning import _best_index


def test_a_train_validation_split_model_tracked_explicitly(tracker, assembled):
    lr = LinearRegression(maxIter=5, labelCol="wait")
    data = assembled.fillna(0.0, subset=["wait"])
    split = TrainValidationSplit(
        estimator=lr,
        estimatorParamMaps=ParamGridBuilder().addGrid(lr.regParam, [0.0, 1.0]).build(),
        evaluator=RegressionEvaluator(labelCol="wait"),
        trainRatio=0.75,
        seed=5,
    )
    fitted = split.fit(data)
    model = tracker.track_model(fitted, trained_on=data)
    (summary,) = json.loads(model.annotations["spark.tuning"])
    assert summary["path"] == "TrainValidationSplitModel" and summary["metric"] == "rmse"
    assert summary["larger_is_better"] is False
    assert [c["metric"] for c in summary["candidates"]] == pytest.approx(list(fitted.validationMetrics))
    assert summary["candidates"][summary["best_index"]]["params"] == {
        "estimator.regParam": fitted.bestModel.getRegParam()
    }
    (evaluation,) = tracker.find("evaluation", computed_by=model)
    assert evaluation.procedure == "train-validation split (trainRatio 0.75)"
    assert evaluation.score("rmse").greater_is_better is False
    names = {p.name for p in model.hyperparameters}
    assert {"trainRatio", "bestModel.regParam", "evaluator.metricName", "estimatorParamMaps"} <= names
    assert model.learning_algorithm == "LinearRegression"


def test_the_chosen_candidate_is_the_first_best_finite_metric():
    assert _best_index([math.nan, 0.5, 0.7, 0.7], larger_is_better=True) == 2
    assert _best_index([0.3, 0.2, 0.2], larger_is_better=False) == 1
    assert _best_index([math.nan, math.inf], larger_is_better=True) is None
