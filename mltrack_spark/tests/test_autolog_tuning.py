"""Spark's own tuning idiom recorded automatically: folds with the rows Spark used, every candidate, the winner."""

from __future__ import annotations

import json

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder, TrainValidationSplit

import mltrack_spark
from mltrack_spark import TrackedPipeline, tracked_model_id
from mltrack_spark.tuning import PER_FOLD_NOT_KEPT

REGULARISATION = [0.0, 0.5, 5.0]


@pytest.fixture
def autologged(tracker):
    mltrack_spark.autolog(tracker=tracker)
    yield tracker
    mltrack_spark.autolog(disable=True)


@pytest.fixture(scope="module")
def waits(tickets):
    """Numbers to regress: ``wait`` from ``previous`` (no null, no NaN)."""
    return tickets.fillna(0.0, subset=["wait"]).selectExpr("previous", "wait", "channel")


def regression(features: str = "features") -> LinearRegression:
    return LinearRegression(maxIter=5, labelCol="wait", featuresCol=features)


def parts_of(tracker, model):
    """The fold datasets derived from the model's training data: {(fold, part): dataset}."""
    return {
        (int(d.annotations["spark.fold"]), d.annotations["spark.fold_part"]): d
        for d in tracker.find("dataset", derived_from=model.trained_on)
    }


def test_a_cross_validator_over_a_pipeline_records_folds_candidates_and_winner(autologged, waits):
    lr = regression()
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["previous"], outputCol="features"), lr])
    validator = CrossValidator(
        estimator=pipeline,
        estimatorParamMaps=ParamGridBuilder().addGrid(lr.regParam, REGULARISATION).build(),
        evaluator=RegressionEvaluator(labelCol="wait"),
        numFolds=3,
        seed=11,
        collectSubModels=True,
    )
    fitted = validator.fit(waits)

    model = autologged.get(tracked_model_id(fitted))
    assert autologged.count("run") == 1  # the candidates' and the refit's fits are not runs of their own
    parts = parts_of(autologged, model)
    assert sorted(parts) == [(k, part) for k in range(3) for part in ("training", "validation")]
    for k in range(3):
        # what Spark fitted fold k's candidates on: the training summary of a sub-model counts its rows
        trained = fitted.subModels[k][0].stages[1].summary.numInstances
        assert parts[(k, "training")].row_count == trained
        assert parts[(k, "training")].row_count + parts[(k, "validation")].row_count == 48
        assert (
            "seed=11" in parts[(k, "validation")].derivation
            and f"fold {k + 1} of 3" in parts[(k, "validation")].derivation
        )

    candidates = [m for m in autologged.find("model") if "spark.tuning.candidate" in m.annotations]
    assert len(candidates) == len(REGULARISATION)
    by_index = {int(m.annotations["spark.tuning.candidate"]): m for m in candidates}
    best = int(json.loads(model.annotations["spark.tuning"])[0]["best_index"])
    for index, candidate in by_index.items():
        values = {p.name: p.value for p in candidate.hyperparameters}
        assert values["stages[1].LinearRegression.regParam"] == REGULARISATION[index]
        assert candidate.annotations["spark.tuning.best"] == ("true" if index == best else "false")
        assert candidate.annotations["spark.tuning.per_fold"] == PER_FOLD_NOT_KEPT
        (evaluation,) = autologged.find("evaluation", computed_by=candidate)
        score = evaluation.score("rmse")
        assert score.value == pytest.approx(fitted.avgMetrics[index]) and score.greater_is_better is False
        assert evaluation.procedure == "3-fold cross-validation"
        assert float(evaluation.annotations["spark.tuning.std"]) == pytest.approx(fitted.stdMetrics[index])
    assert by_index[best].annotations["spark.tuning.refit_model"] == model.id
    (chosen,) = autologged.find("evaluation", computed_by=model)
    assert chosen.procedure == "3-fold cross-validation" and chosen.score("rmse").value == min(fitted.avgMetrics)
    assert model.learning_algorithm == "LinearRegression"


def test_a_train_validation_split_as_a_pipeline_stage_counts_the_rows_its_stage_received(tracker, waits):
    lr = regression()
    split = TrainValidationSplit(
        estimator=lr,
        estimatorParamMaps=ParamGridBuilder().addGrid(lr.regParam, REGULARISATION[:2]).build(),
        evaluator=RegressionEvaluator(labelCol="wait"),
        trainRatio=0.6,
        seed=3,
        collectSubModels=True,
    )
    # an earlier stage drops rows: the split draws from what it outputs, not from the pipeline's input
    stages = [
        VectorAssembler(inputCols=["previous"], outputCol="features"),
        split,
    ]
    source = waits.where("channel != 'phone'")
    fitted = TrackedPipeline(stages=stages, tracker=tracker).fit(source)
    model = tracker.get(tracked_model_id(fitted))
    parts = parts_of(tracker, model)
    assert sorted(parts) == [(0, "training"), (0, "validation")]
    tuned = fitted.stages[1]
    assert parts[(0, "training")].row_count == tuned.subModels[0].summary.numInstances
    assert parts[(0, "training")].row_count + parts[(0, "validation")].row_count == source.count()
    assert "pipeline stage 1" in parts[(0, "training")].derivation
    candidates = [m for m in tracker.find("model") if "spark.tuning.candidate" in m.annotations]
    assert {m.trained_on for m in candidates} == {parts[(0, "training")].id}
    for candidate in candidates:
        (evaluation,) = tracker.find("evaluation", computed_by=candidate)
        index = int(candidate.annotations["spark.tuning.candidate"])
        assert evaluation.on_dataset == parts[(0, "validation")].id
        assert evaluation.score("rmse").value == pytest.approx(tuned.validationMetrics[index])
        assert evaluation.procedure == "train-validation split (trainRatio 0.6)"


def test_folds_from_a_fold_column(autologged, waits):
    data = waits.selectExpr("*", "previous % 2 AS fold")
    lr = regression("x")
    validator = CrossValidator(
        estimator=Pipeline(stages=[VectorAssembler(inputCols=["previous"], outputCol="x"), lr]),
        estimatorParamMaps=ParamGridBuilder().addGrid(lr.regParam, REGULARISATION[:2]).build(),
        evaluator=RegressionEvaluator(labelCol="wait"),
        numFolds=2,
        foldCol="fold",
    )
    fitted = validator.fit(data)
    parts = parts_of(autologged, autologged.get(tracked_model_id(fitted)))
    expected = {k: data.where(f"fold = {k}").count() for k in range(2)}
    assert {k: parts[(k, "validation")].row_count for k in range(2)} == expected
    assert "rows whose fold is 1" in parts[(1, "validation")].derivation
