"""autolog: every top-level Spark ML fit recorded once, with the right names and types, and nothing else changed."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import feature_stages
from pyspark.ml import Estimator, Pipeline
from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
from pyspark.ml.feature import Bucketizer, HashingTF, Tokenizer

import mltrack_core as mt
import mltrack_spark
from mltrack_core.plugin import TrackingWarning, TrainingState, TypeHint
from mltrack_spark import TrackedPipeline, tracked_model_id
from mltrack_spark.autolog import inside_tracked_call, tracked_call
from mltrack_spark.stages import learning_algorithm, model_name


@pytest.fixture
def autologged(tracker):
    """Automatic tracking into the test's tracker, always turned off afterwards."""
    mltrack_spark.autolog(tracker=tracker)
    yield tracker
    mltrack_spark.autolog(disable=True)


def text_pipeline() -> Pipeline:
    return Pipeline(
        stages=[
            Tokenizer(inputCol="text", outputCol="words"),
            HashingTF(inputCol="words", outputCol="features", numFeatures=32),
            LogisticRegression(maxIter=3),
        ]
    )


def test_a_pipeline_fit_is_recorded_once_with_its_dataset_run_and_column_dag(autologged, tickets):
    fitted = Pipeline(stages=feature_stages()).fit(tickets)
    (run,) = autologged.find("run")
    (model,) = autologged.find("model")
    (dataset,) = autologged.find("dataset")
    assert run.state is TrainingState.FINISHED and run.trained_on == dataset.id
    assert model.trained_on == dataset.id and dataset.row_count == 48 and dataset.target == "label"
    assert tracked_model_id(fitted) == model.id
    assert model.learning_algorithm == "LogisticRegression"
    assert len(model.transforms) == 14  # every stage of the pipeline, none recorded on its own
    names = {parameter.name for parameter in model.hyperparameters}
    assert "stages[12].LogisticRegressionModel.regParam" in names


def test_a_bare_estimator_is_recorded_under_the_class_the_user_wrote(autologged, assembled):
    fitted = RandomForestClassifier(numTrees=3, maxDepth=2, seed=1).fit(assembled)
    (run,) = autologged.find("run")
    (model,) = autologged.find("model")
    assert model.learning_algorithm == "RandomForestClassifier" and model.name == "RandomForestClassifier"
    assert run.name == "fit RandomForestClassifier"
    assert tracked_model_id(fitted) == model.id


def test_one_vs_rest_and_rformula_fitted_by_hand_are_recorded(autologged, tickets):
    from pyspark.ml.classification import OneVsRest
    from pyspark.ml.feature import RFormula

    prepared = RFormula(formula="label ~ channel + previous").fit(tickets).transform(tickets)
    OneVsRest(classifier=LogisticRegression(maxIter=2)).fit(prepared)
    formula, one_vs_rest = sorted(autologged.find("model"), key=lambda m: m.creation_time)
    assert formula.learning_algorithm == "RFormula" and autologged.get(formula.trained_on).row_count == 48
    assert one_vs_rest.learning_algorithm == "OneVsRest(LogisticRegression)"
    assert autologged.count("run") == 2  # OneVsRest's one fit per class is nested


def test_fitted_model_classes_are_named_after_their_estimator(spark):
    from pyspark.ml.classification import GBTClassificationModel, RandomForestClassificationModel
    from pyspark.ml.feature import StringIndexerModel
    from pyspark.ml.regression import LinearRegressionModel, RandomForestRegressionModel

    from mltrack_spark.stages import estimator_name

    assert estimator_name(RandomForestClassificationModel) == "RandomForestClassifier"  # was ...Classification
    assert estimator_name(RandomForestRegressionModel) == "RandomForestRegressor"
    assert estimator_name(GBTClassificationModel) == "GBTClassifier"
    assert estimator_name(LinearRegressionModel) == "LinearRegression"
    assert estimator_name(StringIndexerModel) == "StringIndexer"


def test_an_explicitly_tracked_random_forest_model_names_its_estimator(tracker, assembled):
    fitted = RandomForestClassifier(numTrees=2, maxDepth=2, seed=1).fit(assembled)
    model = tracker.track_model(fitted, trained_on=assembled)
    assert model.learning_algorithm == "RandomForestClassifier"  # was RandomForestClassification
    assert learning_algorithm(fitted) == "RandomForestClassifier"
    assert model_name(Pipeline(stages=[fitted])) == "RandomForestClassifier"


def test_a_failing_fit_raises_unchanged_and_its_run_is_failed(autologged, tickets):
    broken = Pipeline(stages=[HashingTF(inputCol="missing_column", outputCol="f"), LogisticRegression()])
    with pytest.raises(Exception, match="missing_column"):
        broken.fit(tickets)
    (run,) = autologged.find("run")
    assert run.state is TrainingState.FAILED and "missing_column" in run.annotations["mltrack.failure"]
    assert autologged.count("model") == 0


def test_a_param_map_applies_to_the_record_and_a_list_of_maps_records_each_fit(autologged, tickets):
    pipeline = text_pipeline()
    lr = pipeline.getStages()[2]
    fitted = pipeline.fit(tickets, {lr.maxIter: 2})
    assert fitted.stages[2].getMaxIter() == 2
    (model,) = autologged.find("model")
    values = {parameter.name: parameter.value for parameter in model.hyperparameters}
    assert values["stages[2].LogisticRegressionModel.maxIter"] == 2

    several = pipeline.fit(tickets, [{lr.regParam: 0.0}, {lr.regParam: 1.0}])
    assert [model.stages[2].getRegParam() for model in several] == [0.0, 1.0]
    recorded = [tracked_model_id(model) for model in several]
    assert None not in recorded and autologged.count("model") == 3 and autologged.count("run") == 3


def test_nested_fits_and_tracked_pipelines_record_once(autologged, tickets):
    inner = TrackedPipeline(stages=text_pipeline().getStages()[:2], tracker=autologged)
    Pipeline(stages=[inner, LogisticRegression(maxIter=2)]).fit(tickets)
    assert autologged.count("model") == 1 and autologged.count("run") == 1
    TrackedPipeline(stages=text_pipeline().getStages(), tracker=autologged, name="by hand").fit(tickets)
    assert autologged.count("model") == 2 and {model.name for model in autologged.find("model")} >= {"by hand"}


def test_the_guard_is_shared_and_process_wide(autologged, tickets):
    assert not inside_tracked_call()
    with tracked_call() as top:
        assert top and inside_tracked_call()
        text_pipeline().fit(tickets)  # inside another recorded call: not recorded on its own
        with tracked_call() as nested:
            assert not nested
    assert not inside_tracked_call() and autologged.count("model") == 0


def test_autolog_is_reversible_and_safe_to_call_twice(tracker, tickets):
    original = Estimator.__dict__["fit"]
    mltrack_spark.autolog(tracker=tracker)
    mltrack_spark.autolog(tracker=tracker)
    assert Estimator.__dict__["fit"] is not original and Estimator.fit.__doc__ == original.__doc__
    mltrack_spark.autolog(disable=True)
    mltrack_spark.autolog(disable=True)
    assert Estimator.__dict__["fit"] is original
    text_pipeline().fit(tickets)
    assert tracker.count("model") == 0


def test_a_store_that_fails_is_a_warning_and_the_fit_goes_on(tmp_path, tickets):
    tracker = mt.connect(f"sqlite:///{tmp_path / 'store.db'}")
    tracker.close()
    mltrack_spark.autolog(tracker=tracker)
    try:
        with pytest.warns(TrackingWarning, match="not recorded"):
            fitted = text_pipeline().fit(tickets)
    finally:
        mltrack_spark.autolog(disable=True)
    assert fitted.transform(tickets).count() == 48


def test_nested_arrays_of_doubles_are_typed_and_keep_their_infinities(tmp_path, spark):
    frame = spark.createDataFrame([(0.5, 3.0), (1.5, -2.0)], "a double, b double")
    splits = [[-math.inf, 0.0, 1.0, math.inf], [-math.inf, 0.0, math.inf]]
    bucketizer = Bucketizer(splitsArray=splits, inputCols=["a", "b"], outputCols=["a_bucket", "b_bucket"])
    tracker = mt.connect(f"sqlite:///{tmp_path / 'store.db'}")
    model = tracker.track_model(Pipeline(stages=[bucketizer]).fit(frame), trained_on=frame)
    tracker.close()
    stored = mt.connect(f"sqlite:///{tmp_path / 'store.db'}").get(model.id)
    (parameter,) = [p for p in stored.hyperparameters if p.name.endswith("splitsArray")]
    assert parameter.typing is TypeHint.DOUBLE_ARRAY  # was UNKNOWN, with the value as text
    assert parameter.value == tuple(tuple(row) for row in splits)


def test_a_large_training_frame_is_counted_and_fingerprinted_whole_and_described_from_its_head(spark):
    from mltrack_spark.data import describe_dataframe

    frame = spark.range(4000).selectExpr("id", "CAST(id % 7 AS STRING) AS kind", "rand(3) AS x").cache()
    frame.count()
    whole = describe_dataframe(frame)
    head = describe_dataframe(frame, sample_rows=400)
    assert (head.row_count, head.fingerprint) == (4000, whole.fingerprint)
    assert "statistics and histograms of the first 400 rows" in head.annotations["spark.statistics"]
    (kinds,) = [h for h in head.histograms if h.column == "kind"]
    assert sum(kinds.bucket_values) == 400 and sorted(kinds.bucket_labels) == [str(k) for k in range(7)]
    small = describe_dataframe(frame, sample_rows=10_000)  # no more rows than that: every row is described
    assert small.statistics == whole.statistics and small.annotations == whole.annotations
    frame.unpersist()


def test_the_plugin_hook_turns_spark_on_without_importing_pyspark(tmp_path):
    program = textwrap.dedent(
        f"""
        import sys
        import mltrack_core
        tracker = mltrack_core.connect("sqlite:///{tmp_path / "store.db"}")
        print("spark" in mltrack_core.autolog(tracker=tracker), "pyspark" in sys.modules)
        import pyspark.ml.base
        from mltrack_spark.autolog import autolog_enabled
        print(autolog_enabled())
        """
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=environment, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "True"]
