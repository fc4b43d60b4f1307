"""The plugin through the tracker's public API: explicit tracking, evaluations, serialization, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator, RegressionEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression
from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit

from mltrack_core import SchemaError, TrackingWarning
from mltrack_spark import load_model, track_evaluation


@pytest.fixture(scope="module")
def assembled(tickets):
    return VectorAssembler(inputCols=["previous"], outputCol="features").transform(tickets)


def test_the_plugin_is_registered_and_loading_it_imports_no_spark():
    (entry_point,) = [ep for ep in entry_points(group="mltrack") if ep.name == "spark"]
    assert entry_point.value == "mltrack_spark.plugin"
    probe = (
        "import sys, mltrack_core as mt; mt.connect('memory://'); "
        "print(sorted(m for m in sys.modules if m.startswith(('pyspark', 'numpy'))))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_explicit_tracking_of_a_fitted_model(tracker, tickets, fitted_pipeline):
    train = tracker.track_dataset(tickets, name="tickets", target="label")
    model = tracker.track_model(fitted_pipeline, trained_on=train, name="features-lr", tags={"stage": "dev"})
    assert model.name == "features-lr" and model.tags == {"stage": "dev"}
    assert model.learning_algorithm == "LogisticRegression"  # the last learner, not the SQL stage after it
    assert len(model.transforms) == 14 and "mltrack.failures" not in model.annotations
    run = tracker.track_training(Pipeline(stages=[LogisticRegression(maxIter=3)]), trained_on=train)
    run.finish(model)
    assert {p.name: p.value for p in tracker.get(run.id).hyperparameters}["stages[0].LogisticRegression.maxIter"] == 3


def test_a_model_of_data_tracked_by_hand_is_recorded_without_replay(tracker, fitted_pipeline):
    by_hand = tracker.track_dataset(name="tickets", location="s3://bucket/tickets.parquet")
    with pytest.warns(TrackingWarning, match="was not tracked from a DataFrame"):
        model = tracker.track_model(fitted_pipeline, trained_on=by_hand)
    transforms = tracker.get_many(list(model.transforms))
    tokenizer = next(t for t in transforms.values() if t.operator == "Tokenizer")
    assert [c.name for c in tokenizer.output] == ["words"] and tokenizer.annotations["spark.replay"] == "not replayed"


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


def test_evaluations_from_spark_evaluators(tracker, tickets, assembled):
    train = tracker.track_dataset(assembled, name="assembled", target="label")
    fitted = LogisticRegression(maxIter=5).fit(assembled)
    model = tracker.track_model(fitted, trained_on=train)
    predictions = fitted.transform(assembled)
    evaluation = track_evaluation(
        BinaryClassificationEvaluator(),
        predictions,
        computed_by=model,
        on_dataset=train,
        metrics=["areaUnderROC", "areaUnderPR"],
        tracker=tracker,
    )
    assert evaluation.score("areaUnderROC").value == pytest.approx(
        BinaryClassificationEvaluator().evaluate(predictions)
    )
    assert evaluation.score("areaUnderPR").greater_is_better is True and evaluation.procedure == "holdout"
    assert tracker.leaderboard(train, "areaUnderROC").entries[0].evaluation.id == evaluation.id
    with pytest.raises(SchemaError, match="'accuracy' is not a metric of BinaryClassificationEvaluator.*areaUnderROC"):
        track_evaluation(
            BinaryClassificationEvaluator(),
            predictions,
            computed_by=model,
            on_dataset=train,
            metrics=["accuracy"],
            tracker=tracker,
        )
    with pytest.raises(SchemaError, match="was not fitted by a TrackedPipeline"):
        track_evaluation(
            BinaryClassificationEvaluator(), predictions, computed_by=fitted, on_dataset=train, tracker=tracker
        )


def test_serialized_models_load_back(tracker, tickets):
    assembler = VectorAssembler(inputCols=["previous"], outputCol="features")
    fitted = Pipeline(stages=[assembler, LogisticRegression(maxIter=3)]).fit(tickets)
    model = tracker.track_model(fitted, trained_on=tickets, serialize=True, name="small lr")
    assert model.location.startswith("file://") and model.location.endswith("/small_lr.spark.zip")
    loaded = load_model(model.location, tracker=tracker)
    assert [s.uid for s in loaded.stages] == [s.uid for s in fitted.stages]
    expected = [row.probability for row in fitted.transform(tickets).collect()]
    assert [row.probability for row in loaded.transform(tickets).collect()] == expected


def test_bad_input_is_refused_with_what_to_do(tracker, tickets):
    train = tracker.track_dataset(tickets, name="tickets")
    with pytest.raises(SchemaError, match="LogisticRegression is an estimator, not a fitted model"):
        tracker.track_model(LogisticRegression(), trained_on=train)
    with pytest.raises(SchemaError, match="not a Spark ML model"):
        tracker.track_model(BinaryClassificationEvaluator(), trained_on=train)
    with pytest.raises(SchemaError, match="not a Spark ML estimator"):
        tracker.track_training(VectorAssembler(inputCols=["previous"], outputCol="f"))
    with pytest.raises(SchemaError, match="evaluator must be"):
        track_evaluation("auc", tickets, computed_by="model-x", on_dataset=train, tracker=tracker)


def test_replay_outside_a_spark_process_says_what_is_missing():
    probe = (
        "from mltrack_spark.framework import active_session\n"
        "try:\n    active_session()\nexcept Exception as exc:\n    print(type(exc).__name__, exc)"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.startswith("MltrackError no SparkSession is running")
