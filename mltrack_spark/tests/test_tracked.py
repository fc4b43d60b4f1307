"""TrackedPipeline: a real Pipeline whose fit records dataset, run, model, DAG and tuning."""

from __future__ import annotations

import json

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import HashingTF, SQLTransformer, StringIndexer, Tokenizer, VectorAssembler
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import functions as F

import mltrack_core as mt
from mltrack_core import TrackingWarning, TrainingState
from mltrack_spark import TrackedPipeline, tracked_model_id


def text_stages(max_iter: int = 5) -> list[object]:
    return [
        Tokenizer(inputCol="text", outputCol="words"),
        HashingTF(inputCol="words", outputCol="tf", numFeatures=32),
        StringIndexer(inputCol="channel", outputCol="channel_index"),
        VectorAssembler(inputCols=["tf", "channel_index", "previous"], outputCol="features"),
        LogisticRegression(maxIter=max_iter),
    ]


def test_fit_records_dataset_run_and_model(tracker, tickets):
    pipeline = TrackedPipeline(stages=text_stages(), tracker=tracker, name="tickets-lr")
    fitted = pipeline.fit(tickets)
    assert type(fitted) is PipelineModel
    model = tracker.get(tracked_model_id(fitted))
    assert model.name == "tickets-lr" and model.learning_algorithm == "LogisticRegression"
    assert len(model.transforms) == 5 and model.framework == "pyspark"
    dataset = tracker.get(model.trained_on)
    assert dataset.row_count == 48 and dataset.target == "label" and dataset.fingerprint
    (run,) = tracker.find("run")
    assert run.state is TrainingState.FINISHED and run.for_model == model.id and run.trained_on == dataset.id
    assert {p.name for p in run.hyperparameters} >= {"stages", "stages[4].LogisticRegression.maxIter"}
    assert model.environment["spark.master"].startswith("local") and model.environment["spark.app_id"]
    assert fitted.transform(tickets).count() == 48


def test_a_dataset_tracked_before_is_reused_by_fingerprint(tracker, tickets):
    train = tracker.track_dataset(tickets, name="tickets-train", target="label")
    fitted = TrackedPipeline(stages=text_stages(), tracker=tracker).fit(tickets.orderBy(F.rand(1)))
    assert tracker.get(tracked_model_id(fitted)).trained_on == train.id
    assert tracker.count("dataset") == 1


def test_the_default_tracker_is_used_at_fit_time(tmp_path, tickets):
    mt.set_tracker(mt.connect("memory://", artifacts=tmp_path))
    fitted = TrackedPipeline(stages=text_stages()).fit(tickets)
    assert mt.get_tracker().get(tracked_model_id(fitted)).learning_algorithm == "LogisticRegression"


def test_cross_validation_provenance(tracker, tickets):
    lr = LogisticRegression(maxIter=5)
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.01, 10.0]).build()
    evaluator = BinaryClassificationEvaluator()
    tuning = CrossValidator(estimator=lr, estimatorParamMaps=grid, evaluator=evaluator, numFolds=2, seed=3)
    fitted = TrackedPipeline(stages=[*text_stages()[:4], tuning], tracker=tracker).fit(tickets)
    spark_tuning = fitted.stages[-1]
    model = tracker.get(tracked_model_id(fitted))
    (summary,) = json.loads(model.annotations["spark.tuning"])
    assert summary["path"] == "stages[4].CrossValidatorModel" and summary["procedure"] == "2-fold cross-validation"
    assert [c["metric"] for c in summary["candidates"]] == pytest.approx(list(spark_tuning.avgMetrics))
    assert [c["std"] for c in summary["candidates"]] == pytest.approx(list(spark_tuning.stdMetrics))
    assert [c["params"] for c in summary["candidates"]] == [{"estimator.regParam": 0.01}, {"estimator.regParam": 10.0}]
    best = summary["candidates"][summary["best_index"]]["params"]["estimator.regParam"]
    assert best == spark_tuning.bestModel.getRegParam()
    recorded = {p.name: p.value for p in model.hyperparameters}
    assert recorded["stages[4].CrossValidatorModel.bestModel.regParam"] == best
    assert recorded["stages[4].CrossValidatorModel.numFolds"] == 2
    assert recorded["stages[4].CrossValidatorModel.evaluator.metricName"] == "areaUnderROC"
    (evaluation,) = tracker.find("evaluation", computed_by=model)
    assert evaluation.procedure == "2-fold cross-validation" and evaluation.on_dataset == model.trained_on
    score = evaluation.score("areaUnderROC")
    assert score.value == pytest.approx(max(spark_tuning.avgMetrics)) and score.greater_is_better is True
    assert tracker.lineage(evaluation.id).of_kind("dataset")[0].id == model.trained_on
    assert tracker.get(model.transforms[-1]).name == "stages[4].CrossValidatorModel.bestModel"


def test_inside_a_cross_validator_only_the_final_refit_is_recorded(tracker, tickets):
    lr = LogisticRegression(maxIter=5)
    tuning = CrossValidator(
        estimator=TrackedPipeline(stages=[*text_stages()[:4], lr], tracker=tracker),
        estimatorParamMaps=ParamGridBuilder().addGrid(lr.regParam, [0.01, 1.0]).build(),
        evaluator=BinaryClassificationEvaluator(),
        numFolds=2,
    )
    tuned = tuning.fit(tickets)
    (model,) = tracker.find("model")
    assert model.id == tracked_model_id(tuned.bestModel)
    assert tracker.get(model.trained_on).row_count == 48
    regularization = [p.value for p in model.hyperparameters if p.name == "stages[4].LogisticRegressionModel.regParam"]
    assert regularization == [tuned.bestModel.stages[-1].getRegParam()]


def test_a_nested_tracked_pipeline_is_recorded_once(tracker, tickets):
    inner = TrackedPipeline(stages=text_stages()[:2], tracker=tracker)
    TrackedPipeline(stages=[inner, *text_stages()[2:]], tracker=tracker).fit(tickets)
    assert tracker.count("model") == 1 and tracker.count("run") == 1


def test_it_remains_a_pipeline_copy_save_and_load(tracker, tickets, tmp_path):
    pipeline = TrackedPipeline(stages=text_stages(), tracker=tracker, name="copied")
    copy = pipeline.copy()
    assert isinstance(copy, TrackedPipeline) and copy.uid == pipeline.uid
    assert [type(s) for s in copy.getStages()] == [type(s) for s in pipeline.getStages()]
    copy.fit(tickets)
    assert tracker.find("model")[0].name == "copied"
    pipeline.write().save(str(tmp_path / "pipeline"))
    loaded = TrackedPipeline.load(str(tmp_path / "pipeline"))
    assert isinstance(loaded, TrackedPipeline) and loaded.uid == pipeline.uid
    assert [s.uid for s in loaded.getStages()] == [s.uid for s in pipeline.getStages()]
    assert type(Pipeline.load(str(tmp_path / "pipeline"))) is Pipeline  # Spark's reader, unchanged


def test_a_failing_fit_marks_the_run_failed_and_raises(tracker, tickets):
    stages = [VectorAssembler(inputCols=["previous", "missing_column"], outputCol="features"), LogisticRegression()]
    with pytest.raises(Exception, match="missing_column"):
        TrackedPipeline(stages=stages, tracker=tracker).fit(tickets)
    (run,) = tracker.find("run")
    assert run.state is TrainingState.FAILED and "missing_column" in run.annotations["mltrack.failure"]
    assert tracker.count("model") == 0


def test_a_broken_store_never_breaks_the_fit(tmp_path, tickets):
    tracker = mt.connect(f"sqlite:///{tmp_path / 'store.db'}")
    tracker.close()
    with pytest.warns(TrackingWarning) as warned:
        fitted = TrackedPipeline(stages=text_stages(), tracker=tracker).fit(tickets)
    messages = " | ".join(str(warning.message) for warning in warned)
    assert "training run was not recorded" in messages and "training dataset was not recorded" in messages
    assert fitted.transform(tickets).count() == 48 and tracked_model_id(fitted) is None


def test_what_cannot_be_extracted_is_a_warning_and_an_annotation(tracker, tickets):
    from test_replay import Shout

    class Opaque(Shout):
        def _transform(self, dataset):
            raise RuntimeError("opaque stage refuses empty input")  # fit never calls it: it is the last stage

    with pytest.warns(TrackingWarning, match="schema replay of stages\\[2\\].Opaque"):
        fitted = TrackedPipeline(stages=[*text_stages()[:2], Opaque()], tracker=tracker).fit(tickets)
    model = tracker.get(tracked_model_id(fitted))
    assert "opaque stage refuses" in model.annotations["mltrack.failures"]
    assert [tracker.get(t).operator for t in model.transforms] == ["Tokenizer", "HashingTF", "Opaque"]


def test_a_sql_only_pipeline_is_tracked(tracker, tickets):
    fitted = TrackedPipeline(stages=[SQLTransformer(statement="SELECT text FROM __THIS__")], tracker=tracker).fit(
        tickets
    )
    model = tracker.get(tracked_model_id(fitted))
    (transform,) = tracker.get_many(list(model.transforms)).values()
    removed = "channel: string, wait: double, previous: int, label: double"
    assert transform.annotations["spark.removed"] == removed and transform.output == ()
    assert model.learning_algorithm == "SQLTransformer"  # no learner: the last stage
