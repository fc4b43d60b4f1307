"""Schema replay and the column DAG, checked against what Spark's transform actually produces."""

from __future__ import annotations

import pytest
from conftest import feature_stages
from pyspark.ml import Estimator, Pipeline, Transformer
from pyspark.ml.feature import SQLTransformer, Tokenizer, VectorAssembler
from pyspark.sql import functions as F

from mltrack_core import TypeHint
from mltrack_spark import replay_schema
from mltrack_spark.columns import type_hint
from mltrack_spark.stages import leaves


class Shout(Transformer):
    """A pure-Python transformer: no JVM object, so it is replayed on an empty DataFrame."""

    def _transform(self, dataset):
        return dataset.withColumn("shout", F.upper("text"))


class PythonMean(Estimator):
    """A pure-Python estimator: what it produces is known only after fit."""

    def _fit(self, dataset):
        return Shout()


@pytest.fixture
def tracked_model(tracker, tickets, fitted_pipeline):
    train = tracker.track_dataset(tickets, name="tickets", target="label")
    return tracker.track_model(fitted_pipeline, trained_on=train)


def test_recorded_columns_and_types_are_those_transform_produces(tracker, tickets, fitted_pipeline, tracked_model):
    transforms = [tracker.get(transform_id) for transform_id in tracked_model.transforms]
    stages = fitted_pipeline.stages
    assert [transform.operator for transform in transforms] == [type(stage).__name__ for stage in stages]
    frame = tickets
    for stage, transform in zip(stages, transforms, strict=True):
        before = frame.schema
        frame = stage.transform(frame)
        after = frame.schema
        added = {field.name: field.dataType for field in after.fields if field.name not in before.names}
        assert {column.name: column.typing for column in transform.output} == {
            name: type_hint(data_type) for name, data_type in added.items()
        }, transform.name
        recorded_types = dict(
            part.split(": ", 1) for part in transform.annotations.get("spark.output_types", "").split(", ") if part
        )
        assert recorded_types == {name: data_type.simpleString() for name, data_type in added.items()}, transform.name
        removed = [
            f"{field.name}: {field.dataType.simpleString()}" for field in before.fields if field.name not in after.names
        ]
        assert transform.annotations.get("spark.removed", "") == ", ".join(removed), transform.name
        assert {column.name for column in transform.input} <= set(before.names), transform.name
        for column in transform.input:
            assert column.typing is type_hint(before[column.name].dataType)
    assert not tracked_model.annotations.get("mltrack.failures")


def test_each_kind_of_stage_reads_and_writes_the_right_columns(tracker, tracked_model):
    by_operator = {}
    for transform_id in tracked_model.transforms:
        transform = tracker.get(transform_id)
        by_operator.setdefault(transform.operator, []).append(transform)
    columns = {
        operator: [
            ([c.name for c in t.input], [(c.name, c.typing) for c in t.output], dict(t.column_lineage)) for t in found
        ]
        for operator, found in by_operator.items()
    }
    assert columns["Tokenizer"] == [(["text"], [("words", TypeHint.STRING_ARRAY)], {"words": ("text",)})]
    assert columns["HashingTF"] == [(["tokens"], [("tf", TypeHint.VECTOR)], {"tf": ("tokens",)})]
    assert columns["StringIndexerModel"] == [
        (["channel"], [("channel_index", TypeHint.DOUBLE)], {"channel_index": ("channel",)})
    ]
    assert columns["OneHotEncoderModel"][0][1] == [("channel_vector", TypeHint.VECTOR)]
    assert columns["ImputerModel"] == [(["wait"], [("wait_filled", TypeHint.DOUBLE)], {"wait_filled": ("wait",)})]
    assembler = columns["VectorAssembler"][0]
    assert assembler[0] == ["tfidf", "channel_vector", "log_wait", "twice", "wait_bucket"]
    assert assembler[2] == {"raw": tuple(assembler[0])}
    sql_add, sql_select = columns["SQLTransformer"]
    assert sql_add[0] == ["previous", "wait_filled"]
    assert sql_add[1] == [("log_wait", TypeHint.DOUBLE), ("twice", TypeHint.INT)]
    assert sql_select[1] == []  # it only keeps columns
    formula = columns["RFormulaModel"][0]
    assert formula[2] == {"rf_features": ("channel", "previous"), "rf_label": ("label",)}
    model = columns["LogisticRegressionModel"][0]
    assert model[0] == ["features", "label"]
    assert {name for name, _ in model[1]} == {"prediction", "rawPrediction", "probability"}
    assert set(model[2]) == {"prediction", "rawPrediction", "probability"}
    assert all(sources == ("features",) for sources in model[2].values())


def test_the_dag_links_each_stage_to_the_stages_it_consumes(tracker, tracked_model):
    transforms = [tracker.get(transform_id) for transform_id in tracked_model.transforms]
    by_name = {transform.name: transform for transform in transforms}
    names = {transform.id: transform.name for transform in transforms}
    assembler = by_name["stages[10].VectorAssembler"]
    assert sorted(names[i] for i in assembler.input_transforms) == [
        "stages[3].IDFModel",
        "stages[5].OneHotEncoderModel",
        "stages[7].SQLTransformer",
        "stages[8].Bucketizer",
    ]
    assert [names[i] for i in by_name["stages[0].Tokenizer"].input_transforms] == []
    assert [names[i] for i in by_name["stages[12].LogisticRegressionModel"].input_transforms] == [
        "stages[11].StandardScalerModel"
    ]
    assert (
        "SQLTransformer declares no input columns" in by_name["stages[7].SQLTransformer"].annotations["spark.lineage"]
    )
    assert "RFormula" in by_name["stages[9].RFormulaModel"].annotations["spark.lineage"]
    assert [column.name for column in tracked_model.input] == ["text", "channel", "wait", "previous", "label"]


def test_replay_of_the_unfitted_pipeline_predicts_the_fitted_schema(tickets, fitted_pipeline):
    unfitted = replay_schema(Pipeline(stages=feature_stages()), tickets)
    fitted = replay_schema(fitted_pipeline, tickets)
    assert [stage.failure for stage in unfitted] == [None] * len(unfitted)
    for before, after in zip(unfitted, fitted, strict=True):
        assert {(f.name, f.dataType.simpleString()) for f in before.added} == {
            (f.name, f.dataType.simpleString()) for f in after.added
        }
    assert set(fitted[-1].output.names) == set(fitted_pipeline.transform(tickets).columns)


def test_replay_runs_no_spark_job(spark, tickets, fitted_pipeline):
    context = spark.sparkContext
    status = context.statusTracker()
    group = "mltrack-spark-replay-test"
    pipeline = Pipeline(stages=[*feature_stages()[:8], Shout(), *feature_stages()[8:]])
    context.setJobGroup(group, "schema replay must not run a job", False)
    try:
        unfitted = replay_schema(pipeline, tickets)
        fitted = replay_schema(fitted_pipeline, tickets)
        assert status.getJobIdsForGroup(group) == []
        tickets.agg(F.count("text")).collect()  # the control: an action in the same group is seen
        assert status.getJobIdsForGroup(group) != []
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    assert len(unfitted) == 15 and len(fitted) == 14
    assert [f.name for f in unfitted[8].added] == ["shout"]
    assert unfitted[8].method.startswith("transform of an empty DataFrame")


def test_nested_pipelines_are_flattened_in_order(tickets):
    inner = Pipeline(stages=[Tokenizer(inputCol="text", outputCol="words")])
    outer = Pipeline(stages=[inner, SQLTransformer(statement="SELECT *, size(words) AS n FROM __THIS__")])
    replayed = replay_schema(outer, tickets)
    assert [stage.path for stage in replayed] == ["stages[0].Pipeline.stages[0].Tokenizer", "stages[1].SQLTransformer"]
    assert [f.name for f in replayed[1].added] == ["n"]


def test_a_stage_that_rejects_the_schema_is_named_and_stops_the_replay(tracker, tickets):
    stages = [
        Tokenizer(inputCol="text", outputCol="words"),
        VectorAssembler(inputCols=["previous", "no_such_column"], outputCol="features"),
        SQLTransformer(statement="SELECT *, 1 AS one FROM __THIS__"),
    ]
    replayed = replay_schema(Pipeline(stages=stages), tickets)
    assert replayed[0].failure is None
    assert "no_such_column" in replayed[1].failure
    assert replayed[2].method == "not replayed" and replayed[2].output is None


def test_a_python_estimator_cannot_be_replayed(tickets):
    replayed = replay_schema(Pipeline(stages=[PythonMean(), Tokenizer(inputCol="text", outputCol="w")]), tickets)
    assert "pure-Python estimator" in replayed[0].failure
    assert replayed[1].method == "not replayed"


def test_leaves_of_a_cross_validator_are_its_estimators_stages():
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator

    lr = LogisticRegression()
    cv = CrossValidator(
        estimator=Pipeline(stages=[Tokenizer(inputCol="text", outputCol="w"), lr]),
        estimatorParamMaps=[{lr.regParam: 0.1}],
        evaluator=BinaryClassificationEvaluator(),
    )
    assert [leaf.path for leaf in leaves(Pipeline(stages=[cv]))] == [
        "stages[0].CrossValidator.estimator.stages[0].Tokenizer",
        "stages[0].CrossValidator.estimator.stages[1].LogisticRegression",
    ]


def test_one_vs_rest_is_one_stage_with_its_classifiers_columns(tickets):
    from pyspark.ml.classification import LogisticRegression, OneVsRest

    assembler = VectorAssembler(inputCols=["previous"], outputCol="features")
    replayed = replay_schema(Pipeline(stages=[assembler, OneVsRest(classifier=LogisticRegression())]), tickets)
    assert replayed[1].path == "stages[1].OneVsRest" and replayed[1].failure is None
    assert {f.name for f in replayed[1].added} == {"prediction", "rawPrediction"}
