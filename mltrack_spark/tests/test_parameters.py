"""Every parameter of every stage, checked against the stage's own params API."""

from __future__ import annotations

import math

from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression, OneVsRest
from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.ml.feature import HashingTF, Tokenizer
from pyspark.ml.linalg import DenseMatrix, DenseVector, Matrices, Vectors
from pyspark.ml.param import Params
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

from mltrack_core import TypeHint
from mltrack_spark.parameters import own_parameters, parameters


def _expected(stage, param):
    value = stage.getOrDefault(param) if stage.isDefined(param) else None
    default = stage._defaultParamMap.get(param) if stage.hasDefault(param) else None
    return _plain(value), _plain(default)


def _plain(value):
    if isinstance(value, Params):
        return type(value).__name__
    if isinstance(value, DenseVector):
        return tuple(value.toArray().tolist())
    if isinstance(value, DenseMatrix):
        return tuple(tuple(row) for row in value.toArray().tolist())
    if isinstance(value, list):
        return tuple(_plain(item) for item in value)
    return value


def test_every_parameter_matches_the_params_api(spark):
    lr = LogisticRegression(
        maxIter=7,
        regParam=0.1,
        family="binomial",
        lowerBoundsOnCoefficients=Matrices.dense(1, 2, [-1.0, -2.0]),
        lowerBoundsOnIntercepts=Vectors.dense([-5.0]),
    )
    recorded = {parameter.name: parameter for parameter in own_parameters(lr)}
    assert set(recorded) == {param.name for param in lr.params}
    for param in lr.params:
        parameter = recorded[param.name]
        value, default = _expected(lr, param)
        assert parameter.value == value, param.name
        assert parameter.default == default, param.name
        assert parameter.non_default is lr.isSet(param), param.name
        assert parameter.doc == param.doc, param.name
    assert recorded["maxIter"].typing is TypeHint.LONG and recorded["maxIter"].default == 100
    assert recorded["regParam"].typing is TypeHint.DOUBLE
    assert recorded["family"].typing is TypeHint.STRING and recorded["family"].non_default
    assert recorded["fitIntercept"].typing is TypeHint.BOOLEAN and not recorded["fitIntercept"].non_default
    assert recorded["lowerBoundsOnCoefficients"].value == ((-1.0, -2.0),)
    assert recorded["lowerBoundsOnIntercepts"].typing is TypeHint.VECTOR
    assert recorded["weightCol"].value is None and not recorded["weightCol"].non_default  # neither set nor defaulted


def test_a_value_set_to_its_default_counts_as_set_by_the_user(spark):
    recorded = {p.name: p for p in own_parameters(LogisticRegression(maxIter=100))}
    assert recorded["maxIter"].value == recorded["maxIter"].default == 100
    assert recorded["maxIter"].non_default


def test_nested_stages_are_named_by_path(spark):
    inner = Pipeline(
        stages=[Tokenizer(inputCol="text", outputCol="words"), HashingTF(inputCol="words", outputCol="features")]
    )
    classifier = OneVsRest(classifier=LogisticRegression(maxIter=3), parallelism=2)
    outer = Pipeline(stages=[inner, classifier])
    recorded = {parameter.name: parameter for parameter in parameters(outer)}
    assert recorded["stages"].value == ("Pipeline", "OneVsRest")
    assert recorded["stages[0].Pipeline.stages"].value == ("Tokenizer", "HashingTF")
    assert recorded["stages[0].Pipeline.stages[1].HashingTF.numFeatures"].value == 262144
    assert recorded["stages[1].OneVsRest.classifier"].value == "LogisticRegression"
    assert recorded["stages[1].OneVsRest.classifier.maxIter"].value == 3
    assert recorded["stages[1].OneVsRest.parallelism"].non_default


def test_a_cross_validator_records_its_estimator_grid_and_evaluator(spark):
    lr = LogisticRegression()
    hashing = HashingTF(inputCol="words", outputCol="features")
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.1]).addGrid(hashing.numFeatures, [16, 32]).build()
    cv = CrossValidator(
        estimator=Pipeline(stages=[Tokenizer(inputCol="text", outputCol="words"), hashing, lr]),
        estimatorParamMaps=grid,
        evaluator=MulticlassClassificationEvaluator(metricName="f1"),
        numFolds=2,
    )
    recorded = {parameter.name: parameter for parameter in parameters(cv)}
    assert recorded["numFolds"].value == 2 and recorded["numFolds"].default == 3
    assert recorded["evaluator"].value == "MulticlassClassificationEvaluator"
    assert recorded["evaluator.metricName"].value == "f1"
    assert recorded["estimator.stages[2].LogisticRegression.regParam"].value == 0.0
    assert recorded["estimatorParamMaps"].typing is TypeHint.STRUCT_ARRAY
    assert [dict(point) for point in recorded["estimatorParamMaps"].value] == [
        {
            "estimator.stages[2].LogisticRegression.regParam": lr_value,
            "estimator.stages[1].HashingTF.numFeatures": features,
        }
        for lr_value in (0.01, 0.1)
        for features in (16, 32)
    ]


def test_infinite_values_stay_floats(spark):
    from pyspark.ml.feature import Bucketizer

    bucketizer = Bucketizer(splits=[-math.inf, 0.0, math.inf], inputCol="x", outputCol="y")
    recorded = {p.name: p for p in own_parameters(bucketizer)}
    assert recorded["splits"].value == (-math.inf, 0.0, math.inf)
    assert recorded["splits"].typing is TypeHint.DOUBLE_ARRAY
