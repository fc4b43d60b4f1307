"""The plugin through the tracker's public API: explicit tracking, evaluations, bad input."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler

from mltrack_core import SchemaError, TrackingWarning
from mltrack_spark import track_evaluation


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
